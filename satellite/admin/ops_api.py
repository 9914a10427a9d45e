"""Admin routes for operating the satellite: a bucket migration's progress, who runs which chore, and where
the lifecycle chore stands in each bucket with rules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from aiohttp import web

from common.lifecycle_rules import rules_from_json
from satellite.db.leases import LeaseRepository
from satellite.db.lifecycle import LifecycleRepository

from .api import ADMIN_SERVICES
from .migration import MigrationProgress

__all__ = ["OPS_ROUTES"]


async def bucket_migration(request: web.Request) -> web.Response:
    """``GET /v1/buckets/{bucket}/migration``: the share of the bucket's segments in its policy."""
    svc = request.app[ADMIN_SERVICES]
    bucket = await svc.repo.get_bucket(request.match_info["bucket"])
    policy = await svc.tenancy.get_policy(bucket.policy)
    ids: set[str] = set()
    async for seg in svc.repo.segments(bucket.id):  # two streamed passes, as the report does
        ids.update(seg.node_ids)
    progress = MigrationProgress(bucket.name, policy, await svc.repo.node_candidates(ids))
    async for seg in svc.repo.segments(bucket.id):
        progress.add(seg)
    return web.json_response(progress.to_dict())


async def chores(request: web.Request) -> web.Response:
    """``GET /v1/chores``: every chore lease, its holder and whether it is live, and this process's view."""
    svc = request.app[ADMIN_SERVICES]
    here = svc.chores_here() if svc.chores_here is not None else {}
    return web.json_response(
        {"role": svc.role, "leases": await LeaseRepository(svc.repo.db).holders(), "held_here": here}
    )


async def lifecycle(request: web.Request) -> web.Response:
    """``GET /v1/lifecycle``: every bucket with lifecycle rules, its scan's phase and next due time."""
    svc = request.app[ADMIN_SERVICES]
    out = []
    for b in await LifecycleRepository(svc.repo.db).buckets():
        rules, cursor = rules_from_json(b.rules), b.cursor or {}
        current = cursor.get("rules_at") == b.rules_updated_at.isoformat()  # else the rules changed since
        phase = str(cursor.get("phase")) if current else "new"
        due = cursor.get("next_due") if phase == "idle" else None
        when = None if due is None else dt.datetime.fromtimestamp(due, dt.UTC).isoformat()
        out.append({"bucket": b.name, "rules": len(rules), "enabled": sum(r.enabled for r in rules), "phase": phase,
                    "next_due": when})  # fmt: skip
    return web.json_response({"buckets": out})


OPS_ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/v1/buckets/{bucket}/migration", bucket_migration),
    ("GET", "/v1/chores", chores),
    ("GET", "/v1/lifecycle", lifecycle),
]
