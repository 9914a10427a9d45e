"""The admin API's residency evidence: signed exports of a bucket's residency ledger.

``GET /v1/buckets/{bucket}/residency-history[?since=ISO-8601]`` streams the evidence file
(JSON lines, :mod:`satellite.residency.evidence`) — the same bytes ``geoshard admin
residency-history --export`` writes and ``geoshard verify-residency`` checks. The history of
a deleted bucket stays exportable: the ledger has no foreign keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from aiohttp import web

from satellite.errors import InvalidArgument, NoSuchBucket

from .api import ADMIN_SERVICES, _error

__all__ = ["RESIDENCY_ROUTES", "parse_since"]


def parse_since(text: str | None) -> dt.datetime | None:
    """An ISO 8601 time (a naive one is UTC), or None; InvalidArgument for anything else."""
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"since must be an ISO 8601 time, e.g. 2026-12-01T12:00:00Z, not {text!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


async def residency_history(request: web.Request) -> web.StreamResponse:
    svc = request.app[ADMIN_SERVICES]
    if svc.residency is None:
        return _error(404, "NotFound", "this satellite keeps no residency ledger")
    name = request.match_info["bucket"]
    since = parse_since(request.query.get("since"))
    if not await svc.residency.has_history(name):
        try:
            await svc.repo.get_bucket(name)
        except NoSuchBucket:
            raise NoSuchBucket(f"no bucket {name!r} and no residency history for that name") from None
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)
    async for line in svc.residency.export([name], since):
        await resp.write(line.encode() + b"\n")
    await resp.write_eof()
    return resp


async def residency_audit(request: web.Request) -> web.StreamResponse:
    """Challenge every piece of the bucket now; stream the node-signed answers as evidence."""
    svc = request.app[ADMIN_SERVICES]
    if svc.residency is None or svc.residency.auditor is None:
        return _error(404, "NotFound", "this satellite runs no residency audits")
    bucket = await svc.repo.get_bucket(request.match_info["bucket"])
    resp = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await resp.prepare(request)
    async for line in svc.residency.auditor.run(bucket.name):
        await resp.write(line.encode() + b"\n")
    await resp.write_eof()
    return resp


async def residency_info(request: web.Request) -> web.Response:
    """Where the satellite says its metadata lives, and its public key (what auditors verify with)."""
    svc = request.app[ADMIN_SERVICES]
    if svc.residency is None:
        return _error(404, "NotFound", "this satellite keeps no residency ledger")
    m = svc.residency.metadata
    return web.json_response({
        "satellite_id": svc.residency.identity.id,
        "metadata_location": m.describe(),
        "metadata_country": m.country,
        "metadata_region": m.region,
        "database_country": m.database_country or m.country,
        "database_region": m.database_region or m.region,
    })  # fmt: skip


RESIDENCY_ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/v1/residency", residency_info),
    ("GET", "/v1/buckets/{bucket}/residency-history", residency_history),
    ("POST", "/v1/buckets/{bucket}/residency-audit", residency_audit),
]
