"""The repair queue and the segment reads and writes repair needs, over the satellite database.

**The queue** is the ``repair_queue`` table: one row per segment at risk, upserted by the
checker (its health and reason refreshed, its claim left alone) and taken by repairers
smallest ``margin`` first (healthy pieces minus ``k``: the segment closest to loss). A worker
claims a row by stamping ``claimed_at``/``claimed_by`` in one ``UPDATE … WHERE segment_id =
(SELECT … LIMIT 1)``. On PostgreSQL the inner select is ``FOR UPDATE SKIP LOCKED``, so
concurrent repairers (in several processes) each skip the row another is claiming instead of
waiting for it or taking it twice; on SQLite the statement runs in a ``BEGIN IMMEDIATE``
transaction, which serialises claimers. A claim older than the claim timeout is taken
again: that is how a crashed worker's job comes back, and how a failed job backs off (a
failure releases ``claimed_by`` but keeps ``claimed_at``).

**The swap** replaces a segment's piece rows in one transaction, and only if the rows are
still exactly those the repairer started from (number, node, piece id): an object deleted
or overwritten, or a segment changed by another worker meanwhile, turns the repair into a
no-op, and the pieces it uploaded become garbage for the retain lists to collect. On
PostgreSQL the segment row is locked ``FOR UPDATE`` first, so a concurrent delete waits for
the swap or the swap sees the delete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from satellite.db.durability_models import RepairShortfall
from satellite.db.engine import Database
from satellite.db.models import (
    BadPieceReport,
    Bucket,
    ObjectRow,
    PieceRow,
    PlacementPolicyRow,
    RepairJob,
    SegmentRow,
    Upload,
)
from satellite.db.residency_ledger import LedgerEvent, record_pieces
from satellite.db.tenancy import policy_from_row
from satellite.nodeselection import PlacementPolicy

from .health import EVENT_REASONS

__all__ = ["CheckedSegment", "ClaimedJob", "QueueEntry", "RepairQueue", "StoredPiece", "StoredSegment"]


@dataclass(frozen=True, slots=True)
class CheckedSegment:
    """What the checker needs of a segment: its scheme, its bucket's policy, its pieces' nodes."""

    id: int
    policy_id: int
    k: int
    repair_threshold: int
    pieces: list[tuple[int, str]]  # (number, node_id)
    success_threshold: int = 0
    short: bool = False  # a repair left it below success for lack of nodes (repair_shortfalls)
    piece_expires: float = 0.0  # unix seconds its pieces' TTL ends (0: none; satellite/repair/renewal.py)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    segment_id: int
    healthy: int
    margin: int
    reason: str


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    segment_id: int
    healthy: int
    margin: int
    reason: str
    attempts: int


@dataclass(frozen=True, slots=True)
class StoredPiece:
    number: int
    node_id: str
    piece_id: str
    root: bytes
    size: int

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.number, self.node_id, self.piece_id)


@dataclass(frozen=True, slots=True)
class StoredSegment:
    """A segment as the repairer needs it: layout, scheme, root piece id, policy, pieces."""

    id: int
    policy_id: int
    layout: dict[str, Any]
    root_piece_id: str
    k: int
    repair_threshold: int
    success_threshold: int
    total: int
    piece_size: int
    encrypted_size: int
    pieces: list[StoredPiece]


def _unix(t: dt.datetime | None) -> float:
    if t is None:
        return 0.0
    return (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).timestamp()


def _bucket_of_segment() -> Any:
    """``segments`` joined to the bucket that owns them, through an object or a pending upload."""
    seg = SegmentRow
    return (
        select(seg, Bucket.policy_id)
        .outerjoin(ObjectRow, ObjectRow.id == seg.object_id)
        .outerjoin(Upload, Upload.id == seg.upload_id)
        .join(Bucket, Bucket.id == func.coalesce(ObjectRow.bucket_id, Upload.bucket_id))
    )


class RepairQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def _pg(self) -> bool:
        return self.db.dialect == "postgresql"

    # --- reads for the checker ------------------------------------------------------------

    async def policies(self) -> dict[int, PlacementPolicy]:
        async with self.db.read() as s:
            rows = (await s.execute(select(PlacementPolicyRow))).scalars().all()
        return {r.id: policy_from_row(r) for r in rows}

    async def segment_batch(self, after_id: int, limit: int) -> tuple[list[CheckedSegment], int | None]:
        """Up to ``limit`` remote segments with ids above ``after_id``, in id order, with their pieces.

        Two queries per batch whatever its size: the segments (an index range), then their
        pieces (a primary-key range). Returns the segments and the last id scanned, or
        ``None`` when the scan reached the end.
        """
        seg = SegmentRow
        query = (
            select(seg.id, seg.k, seg.repair_threshold, Bucket.policy_id, seg.success_threshold, seg.piece_expires)
            .outerjoin(ObjectRow, ObjectRow.id == seg.object_id)
            .outerjoin(Upload, Upload.id == seg.upload_id)
            .join(Bucket, Bucket.id == func.coalesce(ObjectRow.bucket_id, Upload.bucket_id))
            .where(seg.id > after_id, seg.k > 0)
            .order_by(seg.id)
            .limit(limit)
        )
        async with self.db.read() as s:
            rows = (await s.execute(query)).all()
            if not rows:
                return [], None
            first, last = rows[0][0], rows[-1][0]
            pieces = (
                await s.execute(
                    select(PieceRow.segment_id, PieceRow.number, PieceRow.node_id).where(
                        PieceRow.segment_id >= first, PieceRow.segment_id <= last
                    )
                )
            ).all()
            short = set(
                (
                    await s.execute(
                        select(RepairShortfall.segment_id).where(
                            RepairShortfall.segment_id >= first, RepairShortfall.segment_id <= last
                        )
                    )
                ).scalars()
            )
        by_segment: dict[int, list[tuple[int, str]]] = {}
        for sid, num, node in pieces:
            by_segment.setdefault(sid, []).append((num, node))
        out = [
            CheckedSegment(sid, pid, k, rep, by_segment.get(sid, []), success, sid in short, _unix(expires))
            for sid, k, rep, pid, success, expires in rows
        ]
        return out, (last if len(rows) == limit else None)

    # --- the queue ------------------------------------------------------------------------

    def _insert(self) -> Any:
        return self._insert_into(RepairJob)

    async def push(self, entries: Sequence[QueueEntry], now: dt.datetime) -> None:
        """Queue (or refresh) segments; a claim in progress is left as it is."""
        if not entries:
            return
        stmt = self._insert().values(
            [
                {
                    "segment_id": e.segment_id,
                    "healthy": e.healthy,
                    "margin": e.margin,
                    "reason": e.reason,
                    "attempts": 0,
                    "last_error": "",
                    "inserted_at": now,
                    "updated_at": now,
                }
                for e in entries
            ]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[RepairJob.segment_id],
            set_={
                "healthy": stmt.excluded.healthy,
                "margin": stmt.excluded.margin,
                "reason": stmt.excluded.reason,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        async with self.db.transaction() as s:
            await s.execute(stmt)

    async def forget_range(self, after_id: int, last_id: int | None, keep: Iterable[int]) -> int:
        """Drop unclaimed jobs for segments in ``(after_id, last_id]`` other than ``keep``:
        the checker just found them healthy, or they no longer exist."""
        keep = list(keep)
        # Jobs queued by an event (a report, a short repair) wait for a repairer's judgement.
        cond = [
            RepairJob.segment_id > after_id,
            RepairJob.claimed_by.is_(None),
            RepairJob.reason.not_in(sorted(EVENT_REASONS)),
        ]
        if last_id is not None:
            cond.append(RepairJob.segment_id <= last_id)
        if keep:
            cond.append(RepairJob.segment_id.not_in(keep))
        async with self.db.transaction() as s:
            res = await s.execute(delete(RepairJob).where(*cond))
        return int(res.rowcount or 0)

    async def claim(self, worker: str, now: dt.datetime, claim_timeout: float) -> ClaimedJob | None:
        """Take the job closest to loss that nobody holds (or whose claim expired)."""
        cutoff = now - dt.timedelta(seconds=claim_timeout)
        pick = (
            select(RepairJob.segment_id)
            .where(or_(RepairJob.claimed_at.is_(None), RepairJob.claimed_at <= cutoff))
            .order_by(RepairJob.margin, RepairJob.healthy, RepairJob.inserted_at, RepairJob.segment_id)
            .limit(1)
        )
        if self._pg:
            pick = pick.with_for_update(skip_locked=True)
        stmt = (
            update(RepairJob)
            .where(RepairJob.segment_id == pick.scalar_subquery())
            .values(claimed_at=now, claimed_by=worker, attempts=RepairJob.attempts + 1, updated_at=now)
            .returning(RepairJob.segment_id, RepairJob.healthy, RepairJob.margin, RepairJob.reason, RepairJob.attempts)
        )
        async with self.db.transaction() as s:
            row = (await s.execute(stmt)).first()
        return None if row is None else ClaimedJob(*row)

    async def fail(
        self, segment_id: int, worker: str, error: str, now: dt.datetime, *, claimed_at: dt.datetime | None = None
    ) -> None:
        """Give a job back after a failed attempt; it is retried once its claim times out
        (``claimed_at`` moves that moment: a shortage is retried sooner than a crash)."""
        values: dict[str, Any] = {"claimed_by": None, "last_error": error[:500], "updated_at": now}
        if claimed_at is not None:
            values["claimed_at"] = claimed_at
        async with self.db.transaction() as s:
            await s.execute(
                update(RepairJob)
                .where(RepairJob.segment_id == segment_id, RepairJob.claimed_by == worker)
                .values(**values)
            )

    async def requeue(self, entry: QueueEntry, now: dt.datetime, *, claimed_at: dt.datetime | None = None) -> None:
        """Queue a segment again after a partial repair (its new health), retried from ``claimed_at``
        plus the claim timeout; a row another event queued meanwhile is refreshed."""
        await self.push([entry], now)
        async with self.db.transaction() as s:
            await s.execute(
                update(RepairJob)
                .where(RepairJob.segment_id == entry.segment_id, RepairJob.claimed_by.is_(None))
                .values(claimed_at=claimed_at)
            )

    async def finish(self, segment_id: int, worker: str) -> None:
        async with self.db.transaction() as s:
            await self._finish(s, segment_id, worker)

    @staticmethod
    async def _finish(s: AsyncSession, segment_id: int, worker: str) -> None:
        await s.execute(delete(RepairJob).where(RepairJob.segment_id == segment_id, RepairJob.claimed_by == worker))

    async def jobs(self) -> list[RepairJob]:
        async with self.db.read() as s:
            return list(
                (
                    await s.execute(
                        select(RepairJob).order_by(RepairJob.margin, RepairJob.healthy, RepairJob.inserted_at)
                    )
                ).scalars()
            )

    async def stats(self) -> dict[str, int]:
        async with self.db.read() as s:
            total, claimed, failing = (
                await s.execute(
                    select(
                        func.count(),
                        func.count(RepairJob.claimed_by),
                        func.count().filter(RepairJob.last_error != ""),
                    )
                )
            ).one()
        return {"queued": int(total), "claimed": int(claimed), "with_errors": int(failing)}

    # --- the repairer's reads and the swap ------------------------------------------------

    async def load_segment(self, segment_id: int) -> StoredSegment | None:
        async with self.db.read() as s:
            row = (await s.execute(_bucket_of_segment().where(SegmentRow.id == segment_id))).first()
            if row is None:
                return None
            seg, policy_id = row
            pieces = (
                await s.execute(select(PieceRow).where(PieceRow.segment_id == segment_id).order_by(PieceRow.number))
            ).scalars()
            stored = [StoredPiece(p.number, p.node_id, p.piece_id, p.merkle_root, p.size) for p in pieces]
        if seg.layout is None or seg.root_piece_id is None or seg.k == 0:
            return None  # inline: nothing to repair
        return StoredSegment(
            id=seg.id,
            policy_id=policy_id,
            layout=seg.layout,
            root_piece_id=seg.root_piece_id,
            k=seg.k,
            repair_threshold=seg.repair_threshold,
            success_threshold=seg.success_threshold,
            total=seg.total,
            piece_size=seg.piece_size,
            encrypted_size=seg.encrypted_size,
            pieces=stored,
        )

    async def swap(
        self,
        segment_id: int,
        expected: Iterable[tuple[int, str, str]],
        remove: Iterable[int],
        add: Sequence[StoredPiece],
        *,
        worker: str,
        event: LedgerEvent = LedgerEvent.REPAIR,
        renewed: bool = False,
    ) -> bool:
        """Replace piece rows atomically if the segment still has exactly ``expected``; the job
        is finished in the same transaction. False: the segment changed or is gone (no-op).
        Pieces dropped and placed go into the residency ledger as ``event`` in that transaction.
        ``renewed``: every piece now has no TTL, and neither has the segment."""
        remove = sorted(set(remove))
        async with self.db.transaction() as s:
            lock = select(SegmentRow.id).where(SegmentRow.id == segment_id)
            if self._pg:
                lock = lock.with_for_update()
            if (await s.execute(lock)).first() is None:
                await self._finish(s, segment_id, worker)
                return False
            current = (
                await s.execute(
                    select(PieceRow.number, PieceRow.node_id, PieceRow.piece_id).where(
                        PieceRow.segment_id == segment_id
                    )
                )
            ).all()
            if {tuple(r) for r in current} != set(expected):
                await self._finish(s, segment_id, worker)
                return False
            if remove:
                gone = [(num, node, pid) for num, node, pid in current if num in set(remove)]
                await record_pieces(s, event, segment_id, gone, action="remove")
                await s.execute(
                    delete(PieceRow).where(and_(PieceRow.segment_id == segment_id, PieceRow.number.in_(remove)))
                )
            if add:
                await s.execute(
                    insert(PieceRow),
                    [
                        {
                            "segment_id": segment_id,
                            "number": p.number,
                            "node_id": p.node_id,
                            "piece_id": p.piece_id,
                            "merkle_root": p.root,
                            "size": p.size,
                        }
                        for p in add
                    ],
                )
                await record_pieces(s, event, segment_id, [(p.number, p.node_id) for p in add])
            if renewed:
                await s.execute(update(SegmentRow).where(SegmentRow.id == segment_id).values(piece_expires=None))
            await self._finish(s, segment_id, worker)
        return True

    async def report_bad_piece(self, node_id: str, piece_id: str, segment_id: int, number: int, reason: str) -> None:
        """Evidence for audits: a node served bytes that fail the piece's Merkle root."""
        async with self.db.transaction() as s:
            s.add(BadPieceReport.now(node_id, piece_id, segment_id, number, reason))

    # --- capacity shortfalls ----------------------------------------------------------

    async def record_shortfall(
        self, seg: StoredSegment, healthy: int, target: int, eligible: int, reason: str, now: dt.datetime
    ) -> None:
        """Note that ``seg`` is ``target − healthy`` pieces short for lack of eligible nodes."""
        values = {
            "policy_id": seg.policy_id,
            "healthy": healthy,
            "target": target,
            "missing": max(0, target - healthy),
            "eligible": eligible,
            "reason": reason[:255],
            "updated_at": now,
        }
        stmt = self._insert_into(RepairShortfall).values(segment_id=seg.id, since=now, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[RepairShortfall.segment_id], set_=values)
        async with self.db.transaction() as s:
            await s.execute(stmt)

    def _insert_into(self, table: Any) -> Any:
        return (postgresql.insert if self._pg else sqlite.insert)(table)

    async def clear_shortfalls(self, segment_ids: Iterable[int]) -> None:
        ids = list(segment_ids)
        if ids:
            async with self.db.transaction() as s:
                await s.execute(delete(RepairShortfall).where(RepairShortfall.segment_id.in_(ids)))

    async def shortfalls(self) -> list[dict[str, Any]]:
        """Per policy short of repair capacity: segments, pieces missing, and how many more
        eligible nodes it would need (the most any one of its segments misses: each segment
        needs its pieces on distinct nodes and /24 networks)."""
        query = (
            select(
                PlacementPolicyRow.name,
                func.count(),
                func.sum(RepairShortfall.missing),
                func.max(RepairShortfall.missing),
                func.min(RepairShortfall.eligible),
                func.min(RepairShortfall.healthy - SegmentRow.k),
                func.min(RepairShortfall.since),
                func.max(RepairShortfall.updated_at),
            )
            .join(PlacementPolicyRow, PlacementPolicyRow.id == RepairShortfall.policy_id)
            .join(SegmentRow, SegmentRow.id == RepairShortfall.segment_id)
            .group_by(PlacementPolicyRow.name)
            .order_by(PlacementPolicyRow.name)
        )
        async with self.db.read() as s:
            rows = (await s.execute(query)).all()
        return [
            {
                "policy": name,
                "segments": int(count),
                "pieces_missing": int(missing or 0),
                "nodes_needed": int(needed or 0),
                "eligible_nodes": int(eligible or 0),
                "min_margin": int(margin or 0),
                "since": since.isoformat().replace("+00:00", "Z") if since else None,
                "updated_at": updated.isoformat().replace("+00:00", "Z") if updated else None,
            }
            for name, count, missing, needed, eligible, margin, since, updated in rows
        ]
