"""``geoshard admin lifecycle``: where the lifecycle chore stands in every bucket with rules."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .client import AdminClient

__all__ = ["register_lifecycle"]

Leaf = Callable[..., argparse.ArgumentParser]


def lifecycle(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", AdminClient.path("v1", "lifecycle"))
    lines = [f"{'BUCKET':<40} {'RULES':>5} {'ENABLED':>7} {'PHASE':<8} NEXT"]
    for b in r["buckets"]:
        lines.append(f"{b['bucket']:<40} {b['rules']:>5} {b['enabled']:>7} {b['phase']:<8} {b['next_due'] or 'now'}")
    return r, "\n".join(lines) if r["buckets"] else "no bucket has lifecycle rules"


def register_lifecycle(groups: Any, leaf: Leaf) -> None:
    leaf(groups, "lifecycle", lifecycle, "buckets with lifecycle rules: the chore's phase and next due time")
