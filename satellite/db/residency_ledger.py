"""The residency ledger's writes: an append-only, hash-chained history of every place a piece has been.

The compliance report answers "where are the pieces now"; an auditor also asks "were they
ever anywhere else". Every change of placement — an upload's commit, a copy that shares
pieces, a repair, a migration, a graceful-exit transfer, a deletion — appends one entry
per piece to ``residency_ledger``, **in the same database transaction as the change it
records**: a placement that commits has its entry, one that rolls back has none. An entry
names the bucket, object key, segment and piece number, the node, the node's effective
country and region at that moment (after any admin override), the event, ``add`` or
``remove``, and the time.

Each bucket has its own chain (``seq`` 1, 2, …), so writers to different buckets never wait
for each other: entry *n*'s ``hash`` is SHA-256 over its canonical JSON, which includes
entry *n − 1*'s hash (``prev``; the first entry's is 64 zeros). The bucket's head row
(``residency_heads``) is locked while appending — ``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite's writers already take turns — so a chain never forks. Changing, dropping or
inserting a row breaks every later link, and an export carries the chain head signed with
the satellite's Ed25519 identity (:mod:`satellite.residency.evidence`; the chain rule is
:mod:`satellite.residency.chain`), so a verifier needs
only the file and the satellite's public key (its id).

Removing a piece from metadata is what the ledger records as ``remove``; the node deletes
the bytes later, when its retain list no longer names the piece (garbage collection runs on
the node and changes no placement the satellite records).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from satellite.db.models import Bucket, Node, ObjectRow, PieceRow, SegmentRow, Upload
from satellite.db.residency_models import ResidencyEntry, ResidencyHead
from satellite.residency.chain import GENESIS, entry_hash

__all__ = [
    "GENESIS",
    "LedgerEvent",
    "LedgerRepository",
    "entry_hash",
    "entry_json",
    "record_pieces",
    "record_segments",
]


class LedgerEvent(StrEnum):
    UPLOAD = "upload"
    COPY = "copy"
    REPAIR = "repair"
    MIGRATION = "migration"
    GRACEFUL_EXIT = "graceful_exit"
    DELETION = "deletion"


def _at(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_json(row: ResidencyEntry) -> dict[str, Any]:
    return {
        "seq": int(row.seq),
        "at": _at(row.at),
        "bucket": row.bucket,
        "event": row.event,
        "action": row.action,
        "key": row.object_key,
        "segment": int(row.segment_id),
        "piece": int(row.piece_number),
        "node": row.node_id,
        "country": row.country,
        "region": row.region,
        "prev": row.prev_hash,
        "hash": row.hash,
    }


def _dialect(s: Any) -> str:
    bind = s.bind if isinstance(s, AsyncSession) else s
    return str(bind.dialect.name)


async def _owners(s: Any, segment_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """Segment id -> (bucket name, object key), through its object or its pending upload."""
    seg = SegmentRow
    query = (
        select(seg.id, Bucket.name, func.coalesce(ObjectRow.key, Upload.key))
        .outerjoin(ObjectRow, ObjectRow.id == seg.object_id)
        .outerjoin(Upload, Upload.id == seg.upload_id)
        .join(Bucket, Bucket.id == func.coalesce(ObjectRow.bucket_id, Upload.bucket_id))
        .where(seg.id.in_(sorted(set(segment_ids))))
    )
    return {sid: (b, k or "") for sid, b, k in (await s.execute(query)).all()}


async def _places(s: Any, node_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Node id -> its effective (country, region) now: an admin override wins, as in placement."""
    ids = sorted(set(node_ids))
    if not ids:
        return {}
    query = select(Node.id, Node.country, Node.country_override, Node.region, Node.region_override).where(
        Node.id.in_(ids)
    )
    out = {}
    for nid, country, c_over, region, r_over in (await s.execute(query)).all():
        out[nid] = ((c_over or country or "").upper(), (r_over if r_over is not None else region) or "")
    return out


async def record_pieces(
    s: Any, event: LedgerEvent | str, segment_id: int, pieces: Sequence[tuple[int, str]], *, action: str = "add"
) -> None:
    """Append one entry per ``(number, node_id)`` of ``segment_id``, in ``s``'s transaction."""
    await _append(s, str(event), action, [(segment_id, num, node) for num, node in pieces])


async def record_segments(s: Any, event: LedgerEvent | str, action: str, segments: Select[Any]) -> None:
    """Append one entry per piece row of the segments ``segments`` selects (ids), before a
    change (deletion) removes them; in ``s``'s transaction."""
    rows = (
        await s.execute(
            select(PieceRow.segment_id, PieceRow.number, PieceRow.node_id)
            .where(PieceRow.segment_id.in_(segments))
            .order_by(PieceRow.segment_id, PieceRow.number)
        )
    ).all()
    await _append(s, str(event), action, [(sid, num, node) for sid, num, node in rows])


async def _append(s: Any, event: str, action: str, pieces: Sequence[tuple[int, int, str]]) -> None:
    if not pieces:
        return
    owners = await _owners(s, [sid for sid, _, _ in pieces])
    places = await _places(s, [node for _, _, node in pieces])
    now = dt.datetime.now(dt.UTC)
    by_bucket: dict[str, list[dict[str, Any]]] = {}
    for sid, num, node in pieces:
        bucket, key = owners.get(sid, ("", ""))
        country, region = places.get(node, ("??", ""))
        by_bucket.setdefault(bucket, []).append(
            {"at": _at(now), "bucket": bucket, "event": event, "action": action, "key": key, "segment": int(sid),
             "piece": int(num), "node": node, "country": country, "region": region}
        )  # fmt: skip
    pg = _dialect(s) == "postgresql"
    ins = (postgresql.insert if pg else sqlite.insert)(ResidencyHead)
    for bucket in sorted(by_bucket):  # a fixed order: two writers lock heads the same way round
        await s.execute(ins.values(bucket=bucket, seq=0, hash=GENESIS).on_conflict_do_nothing())
        head = select(ResidencyHead.seq, ResidencyHead.hash).where(ResidencyHead.bucket == bucket)
        seq, prev = (await s.execute(head.with_for_update() if pg else head)).one()
        rows = []
        for e in by_bucket[bucket]:
            seq += 1
            e.update(seq=seq, prev=prev)
            e["hash"] = prev = entry_hash(e)
            rows.append(
                {"bucket": bucket, "seq": seq, "at": now, "event": event, "action": action, "object_key": e["key"],
                 "segment_id": e["segment"], "piece_number": e["piece"], "node_id": e["node"],
                 "country": e["country"], "region": e["region"], "prev_hash": e["prev"], "hash": e["hash"]}
            )  # fmt: skip
        await s.execute(insert(ResidencyEntry), rows)
        await s.execute(update(ResidencyHead).where(ResidencyHead.bucket == bucket).values(seq=seq, hash=prev))


class LedgerRepository:
    """The ledger's reads for exports (``satellite.residency.service.LedgerStore``)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def head(self, bucket: str) -> tuple[int, str]:
        """``(seq, hash)`` of the bucket's last entry; ``(0, GENESIS)`` for a bucket with none."""
        async with self.db.read() as s:
            row = (
                await s.execute(select(ResidencyHead.seq, ResidencyHead.hash).where(ResidencyHead.bucket == bucket))
            ).first()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    async def entries(
        self, bucket: str, *, since: dt.datetime | None = None, up_to: int | None = None, batch: int = 5000
    ) -> AsyncIterator[dict[str, Any]]:
        """The bucket's entries in chain order (from the first at or after ``since``, through
        seq ``up_to``), read in batches so a long history costs bounded memory."""
        after = 0
        if since is not None:
            async with self.db.read() as s:
                first = (
                    await s.execute(
                        select(func.min(ResidencyEntry.seq)).where(
                            ResidencyEntry.bucket == bucket, ResidencyEntry.at >= since
                        )
                    )
                ).scalar()
            if first is None:
                return
            after = int(first) - 1
        while True:
            query = select(ResidencyEntry).where(ResidencyEntry.bucket == bucket, ResidencyEntry.seq > after)
            if up_to is not None:
                query = query.where(ResidencyEntry.seq <= up_to)
            async with self.db.read() as s:
                rows = list((await s.execute(query.order_by(ResidencyEntry.seq).limit(batch))).scalars())
            for r in rows:
                yield entry_json(r)
            if len(rows) < batch:
                return
            after = int(rows[-1].seq)
