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

**Inline data is held too.** A segment stored inline lives in the satellite's database, in
the country the satellite's config declares for it (:mod:`satellite.residency.location`).
Its holder is the pseudo-node :data:`INLINE_HOLDER` (``satellite-db``) with piece number
:data:`INLINE_PIECE` (``-1``) and that declared country and region: an ``add`` when an inline
segment is committed (upload, copy, multipart part), a ``remove`` when it is deleted or
replaced, and a ``migration`` ``remove`` beside the new pieces' ``add`` entries when the
repairer moves it out to pieces. The satellite declares the place once at start
(:func:`declare_inline_place`); the writers read it from their connection.

**Garbage collection.** Removing a piece from metadata is what the ledger records as
``remove`` (with its event: deletion, repair, migration, graceful exit); the node deletes
the bytes later, when its retain list no longer names the piece. Each such ``remove`` of a
node's piece also leaves a row in ``residency_gc_pending`` (node, piece id, segment, number).
When a node answers a retain list it returns, signed, the piece ids its last passes moved to
its trash (``storage_node/pieces/trash_report.py``); :func:`record_gc` turns those it finds
pending into ``gc`` ``remove`` entries — the node's word that the bytes left it — and drops
the rows. A piece id the ledger never removed (an upload that never committed) costs one
indexed lookup in a batch and leaves no entry. A ``gc`` entry follows the ``remove`` that
took the piece out of metadata, so replaying adds and removes to the current placement
skips it (it confirms a removal, it does not make one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Sequence
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import (
    CompoundSelect,
    Select,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from satellite.db.models import Bucket, Node, ObjectRow, PieceRow, SegmentRow, Upload
from satellite.db.residency_models import ResidencyEntry, ResidencyGCPending, ResidencyHead
from satellite.residency.chain import GENESIS, INLINE_HOLDER, INLINE_PIECE, entry_hash

__all__ = [
    "GENESIS",
    "INLINE_HOLDER",
    "INLINE_PIECE",
    "Change",
    "LedgerEvent",
    "LedgerRepository",
    "declare_inline_place",
    "entry_hash",
    "entry_json",
    "inline_change",
    "placed",
    "placements_of",
    "record_changes",
    "record_gc",
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
    GC = "gc"


_PLACE_OPTION = "geoshard_inline_place"  # an execution option of the database's engines


def declare_inline_place(db: Any, country: str, region: str) -> None:
    """Where this satellite's database stores inline bytes (its config's declared location):
    what the ledger records as the ``satellite-db`` holder's country and region. Set once at
    start, on the engines every writer's connection comes from."""
    for engine in {id(e): e for e in (db.engine, db.write_engine)}.values():
        engine.update_execution_options(**{_PLACE_OPTION: ((country or "??").upper(), region or "")})


def _inline_place(s: Any) -> tuple[str, str]:
    bind = s.bind if isinstance(s, AsyncSession) else s
    return tuple(bind.sync_engine.get_execution_options().get(_PLACE_OPTION, ("??", "")))  # type: ignore[return-value]


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
    ids = sorted(set(node_ids) - {INLINE_HOLDER})
    out = {INLINE_HOLDER: _inline_place(s)}
    if not ids:
        return out
    query = select(Node.id, Node.country, Node.country_override, Node.region, Node.region_override).where(
        Node.id.in_(ids)
    )
    for nid, country, c_over, region, r_over in (await s.execute(query)).all():
        out[nid] = ((c_over or country or "").upper(), (r_over if r_over is not None else region) or "")
    return out


# One placement change: (segment id, piece number, node id, "add" | "remove", piece id or None).
# A remove that names its piece id waits in residency_gc_pending for the node's garbage collection.
Change = tuple[int, int, str, str, str | None]


def inline_change(segment_id: int, action: str) -> Change:
    """The change of an inline segment: its bytes enter or leave the satellite's database."""
    return (segment_id, INLINE_PIECE, INLINE_HOLDER, action, None)


def placed(segment_id: int, segment: Any) -> list[Change]:
    """The additions of a segment being committed (``SegmentIn``): its pieces on their nodes,
    or, inline, the satellite's database."""
    if segment.inline_data is not None:
        return [inline_change(segment_id, "add")]
    return [(segment_id, p.number, p.node_id, "add", None) for p in segment.pieces]


async def record_pieces(
    s: Any,
    event: LedgerEvent | str,
    segment_id: int,
    pieces: Sequence[tuple[int, str] | tuple[int, str, str]],
    *,
    action: str = "add",
) -> None:
    """Append one entry per ``(number, node_id[, piece_id])`` of ``segment_id``, in ``s``'s transaction."""
    await record_changes(
        s,
        event,
        [(segment_id, p[0], p[1], action, p[2] if len(p) > 2 else None) for p in pieces],  # type: ignore[misc]
    )


def placements_of(segments: Select[Any]) -> CompoundSelect:
    """One query for every piece row and inline (``satellite-db``) holding of the segments
    ``segments`` selects (ids): what :func:`record_segments` records. A caller on a hot path
    builds it once, with bind parameters, and passes it instead of ``segments``."""
    pieces = select(PieceRow.segment_id, PieceRow.number, PieceRow.node_id, PieceRow.piece_id).where(
        PieceRow.segment_id.in_(segments)
    )
    inline = select(SegmentRow.id, literal(INLINE_PIECE), literal(INLINE_HOLDER), null().cast(String)).where(
        SegmentRow.id.in_(segments), SegmentRow.inline_data.is_not(None)
    )
    return union_all(pieces, inline)


async def record_segments(
    s: Any, event: LedgerEvent | str, action: str, segments: Select[Any] | CompoundSelect,
    params: dict[str, Any] | None = None, *, owner: tuple[str, str] | None = None,
) -> None:
    """Append one entry per piece row — and per inline segment, its ``satellite-db`` holding —
    of the segments ``segments`` selects (ids; or their :func:`placements_of`, run with
    ``params``), before a change (deletion) removes them; in ``s``'s transaction. One query
    finds both. ``owner``: as for :func:`record_changes`."""
    query = segments if isinstance(segments, CompoundSelect) else placements_of(segments)
    rows = sorted((await s.execute(query, params or {})).all(), key=lambda r: (r[0], r[1]))
    await record_changes(s, event, [(sid, num, node, action, pid) for sid, num, node, pid in rows], owner=owner)


async def record_changes(
    s: Any, event: LedgerEvent | str, changes: Sequence[Change], *, owner: tuple[str, str] | None = None
) -> None:
    """Append ``changes`` to their buckets' chains, in ``s``'s transaction: per bucket one
    statement locks and reads its head, one inserts every entry, one moves the head.
    ``owner`` (bucket name, object key), when the caller knows that every changed segment is
    that object's (a commit's new segments), saves the query that would look it up."""
    if not changes:
        return
    owners = {c[0]: owner for c in changes} if owner is not None else await _owners(s, [c[0] for c in changes])
    await _append(s, str(event), [(*owners.get(c[0], ("", "")), *c) for c in changes])


_heads = cast(Table, ResidencyHead.__table__)
_entries = cast(Table, ResidencyEntry.__table__)
# Insert the head if new, else lock it (ON CONFLICT DO UPDATE locks the row on PostgreSQL;
# SQLite's writers already take turns), and read it: one statement. Built once per dialect, so
# SQLAlchemy's statement cache finds them without rebuilding a statement per append.
_LOCK_HEAD = {
    name: dialect.insert(_heads)
    .values(bucket=bindparam("h_bucket"), seq=0, hash=GENESIS)
    .on_conflict_do_update(index_elements=[_heads.c.bucket], set_={"seq": _heads.c.seq})
    .returning(_heads.c.seq, _heads.c.hash)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_MOVE_HEAD = (
    update(_heads)
    .where(_heads.c.bucket == bindparam("h_bucket"))
    .values(seq=bindparam("h_seq"), hash=bindparam("h_hash"))
)
_INSERT_ENTRIES = insert(_entries)


async def _append(s: Any, event: str, changes: Sequence[tuple[str, str, int, int, str, str, str | None]]) -> None:
    """``changes``: (bucket, key, segment, piece, node, action, piece id or None)."""
    places = await _places(s, [c[4] for c in changes])
    now = dt.datetime.now(dt.UTC)
    by_bucket: dict[str, list[dict[str, Any]]] = {}
    pending = []
    for bucket, key, sid, num, node, action, piece_id in changes:
        country, region = places.get(node, ("??", ""))
        by_bucket.setdefault(bucket, []).append(
            {"at": _at(now), "bucket": bucket, "event": event, "action": action, "key": key, "segment": int(sid),
             "piece": int(num), "node": node, "country": country, "region": region}
        )  # fmt: skip
        if action == "remove" and piece_id is not None and event != LedgerEvent.GC:
            pending.append({"node_id": node, "piece_id": piece_id, "bucket": bucket, "object_key": key,
                            "segment_id": int(sid), "piece_number": int(num)})  # fmt: skip
    lock = _LOCK_HEAD[_dialect(s)]
    for bucket in sorted(by_bucket):  # a fixed order: two writers lock heads the same way round
        seq, prev = (await s.execute(lock, {"h_bucket": bucket})).one()
        rows = []
        for e in by_bucket[bucket]:
            seq += 1
            e.update(seq=seq, prev=prev)
            e["hash"] = prev = entry_hash(e)
            rows.append(
                {"bucket": bucket, "seq": seq, "at": now, "event": event, "action": e["action"],
                 "object_key": e["key"], "segment_id": e["segment"], "piece_number": e["piece"],
                 "node_id": e["node"], "country": e["country"], "region": e["region"], "prev_hash": e["prev"],
                 "hash": e["hash"]}
            )  # fmt: skip
        await s.execute(_INSERT_ENTRIES, rows[0] if len(rows) == 1 else rows)
        await s.execute(_MOVE_HEAD, {"h_bucket": bucket, "h_seq": seq, "h_hash": prev})
    if pending:
        await s.execute(insert(ResidencyGCPending), pending)


async def record_gc(s: Any, node_id: str, piece_ids: Sequence[str], *, batch: int = 500) -> int:
    """The node says it moved ``piece_ids`` to its trash: a ``gc`` ``remove`` entry for each one
    the ledger is waiting on (the rest were never in the ledger); in ``s``'s transaction.
    Returns the number of entries appended."""
    pend = ResidencyGCPending
    found = []
    ids = sorted(set(piece_ids))
    for i in range(0, len(ids), batch):
        chunk = ids[i : i + batch]
        query = select(pend.id, pend.bucket, pend.object_key, pend.segment_id, pend.piece_number).where(
            pend.node_id == node_id, pend.piece_id.in_(chunk)
        )
        found.extend((await s.execute(query.order_by(pend.bucket, pend.segment_id, pend.piece_number))).all())
    if not found:
        return 0
    await _append(s, LedgerEvent.GC, [(b, k, sid, num, node_id, "remove", None) for _, b, k, sid, num in found])
    done = [r[0] for r in found]
    for i in range(0, len(done), batch):
        await s.execute(delete(pend).where(pend.id.in_(done[i : i + batch])))
    return len(found)


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
