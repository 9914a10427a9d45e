"""The node registry's helpers: what the satellite knows and checks about storage nodes."""
