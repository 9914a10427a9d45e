"""A network's metadata written straight into the satellite database, for accounting tests and bench.

Nodes, one tenant with one bucket, objects of one segment each and ``pieces`` pieces per
segment spread round-robin over the nodes, with bulk inserts (a million pieces in seconds).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from common.identity import Identity
from satellite.db import Database
from satellite.db.models import Bucket, Node, ObjectRow, PieceRow, PlacementPolicyRow, SegmentRow, Tenant

__all__ = ["WALLET", "Seeded", "close_current_period", "seed_network"]

WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@dataclass
class Seeded:
    nodes: list[str]
    tenant_id: str
    bucket_id: int
    piece_size: int
    pieces: int  # per segment
    segments: int


async def seed_network(
    db: Database,
    *,
    nodes: int = 4,
    segments: int = 10,
    pieces: int = 3,
    piece_size: int = 1000,
    object_size: int = 2000,
    created_at: dt.datetime | None = None,
    chunk: int = 20_000,
) -> Seeded:
    now = dt.datetime.now(dt.UTC)
    created = created_at or now
    node_ids = [Identity.generate().id for _ in range(nodes)]
    tenant_id = secrets.token_hex(8)
    async with db.transaction() as s:
        await s.execute(insert(Node), [
            {"id": n, "address": f"http://10.{i // 250}.{i % 250}.1:7777", "last_net": f"10.{i // 250}.{i % 250}.0/24",
             "country": "DE", "region": "eu", "wallet": WALLET, "created_at": created, "last_contact_at": now}
            for i, n in enumerate(node_ids)
        ])  # fmt: skip
        policy = PlacementPolicyRow(name=f"p{tenant_id}", k=2, repair=3, success=pieces, total=pieces, created_at=now)
        s.add(policy)
        s.add(Tenant(id=tenant_id, name=f"tenant-{tenant_id}", created_at=now))
        await s.flush()
        bucket = Bucket(name=f"b-{tenant_id}", tenant_id=tenant_id, policy_id=policy.id, created_at=now)
        s.add(bucket)
        await s.flush()
        bucket_id = bucket.id
    for lo in range(0, segments, chunk):
        ids = range(lo + 1, min(segments, lo + chunk) + 1)
        async with db.transaction() as s:
            await s.execute(insert(ObjectRow), [
                {"id": i, "bucket_id": bucket_id, "key": f"obj-{i:08d}", "version": 1, "size": object_size,
                 "etag": "e", "segment_count": 1, "created_at": now} for i in ids
            ])  # fmt: skip
            await s.execute(insert(SegmentRow), [
                {"id": i, "object_id": i, "plain_size": object_size, "encrypted_size": object_size, "wrapped_key": b"k",
                 "nonce": b"n", "k": 2, "repair_threshold": 3, "success_threshold": pieces, "total": pieces,
                 "piece_size": piece_size, "created_at": now} for i in ids
            ])  # fmt: skip
            await s.execute(insert(PieceRow), [
                {"segment_id": i, "number": j, "node_id": node_ids[(i + j) % nodes], "piece_id": f"{i:032x}{j:032x}",
                 "merkle_root": b"\0" * 32, "size": piece_size} for i in ids for j in range(pieces)
            ])  # fmt: skip
    return Seeded(node_ids, tenant_id, bucket_id, piece_size, pieces, segments)


async def close_current_period(accounting: Any, period_seconds: int) -> tuple[Any, Any]:
    """Tally the period that holds now from now to its end, flush the request meter and close
    it: what the accounting chore does over a whole period, at once. (period, close result)."""
    from common.messages import now
    from satellite.accounting import Period

    t = now()
    period = Period.at(t, period_seconds)
    await accounting.tally.tally(now=t)
    await accounting.tally.tally(now=period.end)
    await accounting.meter.flush(now=t)
    return period, await accounting.closer.close(period, now=period.end + 2)
