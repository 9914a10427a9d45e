"""The network's authority: metadata, node registry, placement, signed orders and the metainfo API."""
