"""Helpers for repair tests: upload objects through a planet, read the piece table, step repair."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from common.piece_client import PieceClient
from satellite.db.models import PieceRow, SegmentRow
from satellite.repair import RepairResult
from tests.planet import Planet

__all__ = ["delete_pieces", "kill_node", "pieces_by_segment", "read_all", "repair_all", "upload_objects"]


async def upload_objects(net: Planet, bucket: str, count: int, size: int, **create: Any) -> dict[str, bytes]:
    s3 = net.client()
    await net.s3(s3.create_bucket, Bucket=bucket, **create)
    objects = {}
    for i in range(count):
        data = os.urandom(size + i)
        await net.s3(s3.put_object, Bucket=bucket, Key=f"obj-{i}", Body=data)
        objects[f"obj-{i}"] = data
    return objects


async def read_all(net: Planet, bucket: str, objects: dict[str, bytes]) -> None:
    s3 = net.client()
    for key, data in objects.items():
        _, body = await net.get(s3, Bucket=bucket, Key=key)
        assert body == data, f"{key} reads back wrong"


async def pieces_by_segment(net: Planet) -> dict[int, list[PieceRow]]:
    """Every remote segment and its piece rows (an empty list when it has none)."""
    out: dict[int, list[PieceRow]] = defaultdict(list)
    async with net.satellite.db.read() as s:
        for (sid,) in (await s.execute(select(SegmentRow.id).where(SegmentRow.k > 0))).all():
            out[sid] = []
        for p in (await s.execute(select(PieceRow).order_by(PieceRow.segment_id, PieceRow.number))).scalars():
            out[p.segment_id].append(p)
    return dict(out)


async def repair_all(net: Planet, now: float | None = None, **repairer: Any) -> list[RepairResult]:
    """One checker pass, then repair jobs until the queue has nothing to claim."""
    await net.satellite.repair.checker.run_pass(now)
    results = []
    async with PieceClient.new_session() as session:
        worker = net.satellite.repair.new_repairer(PieceClient(session))
        for key, value in repairer.items():
            setattr(worker, key, value)
        while (result := await worker.run_once(now)) is not None:
            results.append(result)
    return results


async def kill_node(net: Planet, node_id: str) -> None:
    """Stop a planet node for good (its server and check-ins), and let the satellite see it
    offline now rather than after the online window: its last contact is moved back."""
    import asyncio
    import contextlib
    import datetime as dt

    from sqlalchemy import update

    from satellite.db.models import Node

    peer = net.node_of(node_id)
    found = False
    for task in asyncio.all_tasks():
        frame = getattr(task.get_coro(), "cr_frame", None)
        if frame is not None and frame.f_locals.get("self") is peer and task.get_coro().__name__ == "run":
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            found = True
    assert found, "the node's run task was not found"
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10 * net.satellite.config.online_window)
    # A check-in the node sent just before it died may still be in the satellite's hands and
    # land after our update: update again until one check-in interval passes without one.
    for _ in range(5):
        async with net.satellite.db.transaction() as s:
            await s.execute(update(Node).where(Node.id == node_id).values(last_contact_at=long_ago))
        await asyncio.sleep(2 * net.satellite.config.checkin_interval)
        async with net.satellite.db.read() as s:
            if (await s.get(Node, node_id)).last_contact_at == long_ago:  # type: ignore[union-attr]
                break
    net.satellite.overlay.invalidate()


def delete_pieces(
    net: Planet, node_id: str, fraction: float = 1.0, seed: int = 1, among: Collection[str] | None = None
) -> int:
    """Delete a share of a node's piece files behind its back (a node that loses data).

    ``among`` limits the choice to those piece ids: pass the node's committed pieces, or the
    share may fall on long-tail pieces no segment references, which no audit will miss.
    """
    import random

    files = sorted((net.node_of(node_id).config.data_dir / "blobs").rglob("*.gsp"))
    if among is not None:
        files = [f for f in files if f.stem in among]
    chosen = random.Random(seed).sample(files, max(1, round(len(files) * fraction))) if files else []
    for f in chosen:
        f.unlink()
    return len(chosen)


def held_by(before: dict[int, list[PieceRow]], node_id: str) -> set[str]:
    """The ids of the pieces ``node_id`` holds for committed segments."""
    return {p.piece_id for rows in before.values() for p in rows if p.node_id == node_id}


def busiest_node(before: dict[int, list[PieceRow]]) -> str:
    """The node holding the most pieces of committed segments."""
    counts: dict[str, int] = {}
    for rows in before.values():
        for p in rows:
            counts[p.node_id] = counts.get(p.node_id, 0) + 1
    return max(counts, key=lambda n: counts[n])
