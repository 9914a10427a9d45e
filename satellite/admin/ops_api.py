"""Admin routes for operating the satellite: a bucket migration's progress and who runs which chore."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from satellite.db.leases import LeaseRepository

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


OPS_ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/v1/buckets/{bucket}/migration", bucket_migration),
    ("GET", "/v1/chores", chores),
]
