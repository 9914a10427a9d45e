"""The satellite's HTTP endpoints: node contact (public) and metainfo (gateways, bearer token)."""
