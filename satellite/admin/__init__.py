"""The satellite's admin API, its client and ``geoshard admin``: policies, tenants, keys, nodes, compliance."""
