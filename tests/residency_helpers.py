"""Helpers for residency tests: a satellite that says it runs in Germany, admin calls, policies."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
from sqlalchemy import select

from erasure import RedundancyScheme
from satellite.db.models import PieceRow, SegmentRow
from satellite.db.residency_ledger import INLINE_HOLDER, INLINE_PIECE
from satellite.nodeselection.policy import PlacementPolicy
from tests.planet import Planet

__all__ = ["DE_SATELLITE", "admin", "collect_garbage", "country_policy", "held_now", "history", "replay"]

DE_SATELLITE = {"metadata_country": "DE", "metadata_region": "eu"}


async def admin(net: Planet, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One admin API call that must answer 200; its JSON."""
    headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, net.satellite.admin_url + path, json=body, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def country_policy(net: Planet, name: str, countries: set[str], scheme: str = "2/3/4/4") -> None:
    policy = PlacementPolicy(name, RedundancyScheme.parse(scheme), allowed_countries=frozenset(countries))
    await net.satellite.tenancy.create_policy(policy)


async def held_now(net: Planet, *, inline: bool = True) -> set[tuple[int, int, str]]:
    """Every (segment, number, node) held now: the piece table, and each inline segment as
    piece -1 of the satellite's database (``satellite-db``), as the ledger records it."""
    async with net.satellite.db.read() as s:
        rows = (await s.execute(select(PieceRow.segment_id, PieceRow.number, PieceRow.node_id))).all()
        held = set((await s.execute(select(SegmentRow.id).where(SegmentRow.inline_data.is_not(None)))).scalars())
    return {tuple(r) for r in rows} | ({(sid, INLINE_PIECE, INLINE_HOLDER) for sid in held} if inline else set())


def replay(entries: list[dict]) -> set[tuple[int, int, str]]:
    """What the ledger says is held now: every add not followed by its remove. A ``gc`` remove
    is the node confirming a piece already out of metadata is gone from its disk."""
    held: set[tuple[int, int, str]] = set()
    dropped: set[tuple[int, int, str]] = set()
    for e in entries:
        ref = (e["segment"], e["piece"], e["node"])
        if e["event"] == "gc":
            assert ref in dropped and ref not in held, f"seq {e['seq']} collects a piece still held: {e}"
        elif e["action"] == "add":
            held.add(ref)
        else:
            assert ref in held, f"seq {e['seq']} removes a piece the ledger never added: {e}"
            held.discard(ref)
            dropped.add(ref)
    return held


async def history(net: Planet, bucket: str) -> list[dict[str, Any]]:
    """The bucket's ledger entries, as the admin API exports them (the evidence file's entry lines)."""
    headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
    url = f"{net.satellite.admin_url}/v1/buckets/{bucket}/residency-history"
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        lines = [json.loads(t) for t in (await resp.text()).splitlines() if t]
    return [e for e in lines if e["type"] == "entry"]


async def collect_garbage(net: Planet, after: float = 0.0) -> float:
    """Garbage collection as it runs in production, twice over: every node gets a retain list
    built once the upload margin has passed (it trashes what no segment names), then a second
    one, whose answers report what the first pass trashed. The chore's clock runs ahead of
    the real one: pass the time this returned to collect again later."""
    config = net.satellite.gc.config
    at = max(time.time() + config.margin + 2, after + config.interval + 1)
    for when in (at, at + config.interval + 1):
        reports = await net.satellite.gc.run_cycle(now=when)
        assert sorted(r.node_id for r in reports) == sorted(n.identity.id for n in net.nodes), reports
        assert all(r.sent for r in reports), [r.error for r in reports]
        for node in net.nodes:
            await node.retain.wait_idle()
    return at + config.interval + 1
