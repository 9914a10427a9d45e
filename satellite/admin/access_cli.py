"""``geoshard admin tenant public-access-block``: a tenant-wide S3 Block Public Access."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .client import AdminClient

__all__ = ["register_public_access_block"]

Leaf = Callable[..., argparse.ArgumentParser]
_FLAGS = (
    ("block_public_acls", "BlockPublicAcls"),
    ("ignore_public_acls", "IgnorePublicAcls"),
    ("block_public_policy", "BlockPublicPolicy"),
    ("restrict_public_buckets", "RestrictPublicBuckets"),
)


def _path(tenant: str) -> str:
    return AdminClient.path("v1", "tenants", tenant, "public-access-block")


def public_access_block(c: AdminClient, a: argparse.Namespace) -> Any:
    chosen = {name: True for attr, name in _FLAGS if getattr(a, attr)}
    if a.all:
        chosen = {name: True for _, name in _FLAGS}
    if a.remove and chosen:
        raise SystemExit("--remove takes no flags")
    if a.remove:
        r = c.call("DELETE", _path(a.tenant))
    elif chosen:
        r = c.call("PUT", _path(a.tenant), chosen)
    else:
        r = c.call("GET", _path(a.tenant))
    block = r["public_access_block"]
    if block is None:
        return r, f"tenant {r['tenant']}: no public access block"
    on = [name for name, v in block.items() if v]
    return r, f"tenant {r['tenant']}: public access block " + (", ".join(on) if on else "(all off)")


def register_public_access_block(tenant_group: Any, leaf: Leaf) -> None:
    p = leaf(tenant_group, "public-access-block", public_access_block,
             "show or set a tenant's S3 Block Public Access (on top of every bucket's own)")  # fmt: skip
    p.add_argument("tenant", help="id or name")
    for attr, name in _FLAGS:
        p.add_argument("--" + attr.replace("_", "-"), action="store_true", help=f"turn {name} on")
    p.add_argument("--all", action="store_true", help="turn all four on")
    p.add_argument("--remove", action="store_true", help="remove the tenant's block")
