"""Helpers for durability tests: conditions waited on with deadlines from the configured
intervals, nodes added to a running planet, the satellite's repair workers in the background,
pieces corrupted on disk behind their node's back."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from common.identity import Identity
from satellite.db.durability_models import PieceLoss
from satellite.db.models import RepairJob
from storage_node.config import NodeConfig
from storage_node.peer import Peer
from tests.planet import PLACES, Planet

__all__ = [
    "add_node",
    "admin",
    "corrupt_piece",
    "piece_file",
    "piece_losses",
    "queued",
    "repair_running",
    "repair_settle_time",
    "restart_node",
    "shortfall_ids",
    "wait_until",
]


async def wait_until(cond: Callable[[], Awaitable[Any]], timeout: float, what: str, every: float = 0.05) -> Any:
    """Poll ``cond`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        got = await cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {what} (last: {got!r})")
        await asyncio.sleep(every)


def repair_settle_time(net: Planet, jobs: int = 1) -> float:
    """How long the running repair service may take to drain ``jobs`` jobs: two checker passes,
    a poll, a short-retry and a job's worth of work each (generous: the machine is shared)."""
    c = net.satellite.config
    per_job = 2.0  # a 64 KiB-segment repair over loopback takes well under a second
    return 2 * c.repair_checker_interval + c.repair_interval + 2 * c.repair_short_retry + per_job * jobs + 10


def piece_file(net: Planet, node_id: str, piece_id: str) -> Path:
    return net.node_of(node_id).config.data_dir / "blobs" / piece_id[:2] / f"{piece_id}.gsp"


def corrupt_piece(path: Path, rng: random.Random) -> None:
    """Flip one byte of a piece file's data (after its header): the 64-byte-flip case, smaller."""
    raw = bytearray(path.read_bytes())
    body = int.from_bytes(raw[10:14], "big")
    raw[rng.randrange(body, len(raw))] ^= 0x10
    path.write_bytes(bytes(raw))


async def add_node(net: Planet, tmp_path: Path, index: int, **config: Any) -> Peer:
    """Start another node (``127.0.{10+index}.1``) on a running planet and wait for its check-in."""
    sat = net.satellite
    country, region = PLACES[index % len(PLACES)]
    data = tmp_path / f"node{index}"
    cfg = NodeConfig.for_tests(data, sat.identity.id, satellite_url=sat.api_url, country=country, region=region,
                               listen_host=f"127.0.{10 + index}.1", **config)  # fmt: skip
    peer = Peer(cfg, Identity.load_or_create(data / "identity.pem"))
    if peer not in net.nodes:
        net.nodes.append(peer)
    task = asyncio.create_task(peer.run())
    net.tasks.append(task)

    async def online() -> bool:
        sat.overlay.invalidate()
        return any(c.id == peer.identity.id and time.time() - c.last_contact < 5 for c in await sat.nodes.candidates())

    await wait_until(online, 15, f"node {index} to check in")
    sat.overlay.invalidate()
    return peer


@contextlib.asynccontextmanager
async def repair_running(net: Planet) -> AsyncIterator[None]:
    """The satellite's checker and repair workers, as ``geoshard satellite run`` runs them."""
    task = asyncio.create_task(net.satellite.repair.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def queued(net: Planet) -> dict[int, RepairJob]:
    async with net.satellite.db.read() as s:
        return {j.segment_id: j for j in (await s.execute(select(RepairJob))).scalars()}


async def piece_losses(net: Planet) -> list[PieceLoss]:
    async with net.satellite.db.read() as s:
        return list((await s.execute(select(PieceLoss).order_by(PieceLoss.id))).scalars())


async def restart_node(net: Planet, peer: Peer) -> Peer:
    """Start a killed node again on its data directory and identity (its pieces still on disk)."""
    again = Peer(peer.config, peer.identity)
    net.nodes[net.nodes.index(peer)] = again
    net.tasks.append(asyncio.create_task(again.run()))
    sat = net.satellite

    async def online() -> bool:
        sat.overlay.invalidate()
        return any(c.id == again.identity.id and time.time() - c.last_contact < 5 for c in await sat.nodes.candidates())

    await wait_until(online, 15, "the restarted node to check in")
    return again


async def admin(net: Planet, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    import aiohttp

    headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
    async with aiohttp.ClientSession() as http, http.request(
        method, net.satellite.admin_url + path, json=body, headers=headers
    ) as resp:
        assert resp.status < 300, await resp.text()
        return await resp.json()


async def shortfall_ids(net: Planet) -> set[int]:
    """Segments the repairer found short of eligible nodes (``repair_shortfalls``)."""
    from satellite.db.durability_models import RepairShortfall

    async with net.satellite.db.read() as s:
        return set((await s.execute(select(RepairShortfall.segment_id))).scalars())
