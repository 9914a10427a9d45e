"""Garbage collection's storage (implements ``satellite.gc.GCStore``): due nodes, their
piece ids in key order, and the record of the last retain list per node."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select, tuple_, update

from satellite.db.engine import Database
from satellite.db.models import Node, PieceRow, RetainListSent
from satellite.db.residency_ledger import record_gc
from satellite.gc.chore import GCNode, RetainRecord

__all__ = ["GCRepository"]


class GCRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def due_nodes(self, attempted_before: dt.datetime, online_since: dt.datetime, limit: int) -> list[GCNode]:
        last = RetainListSent.attempted_at
        q = (
            select(Node.id, Node.address)
            .outerjoin(RetainListSent, RetainListSent.node_id == Node.id)
            .where(
                Node.disqualified_at.is_(None),
                Node.last_contact_at >= online_since,
                (last.is_(None)) | (last < attempted_before),
            )
            # Never-visited nodes first, then the longest waiting.
            .order_by(last.is_not(None), last, Node.id)
            .limit(limit)
        )
        async with self.db.read() as s:
            return [GCNode(i, a) for i, a in (await s.execute(q)).all()]

    async def piece_count(self, node_id: str) -> int:
        async with self.db.read() as s:
            return int((await s.execute(select(func.count()).where(PieceRow.node_id == node_id))).scalar_one())

    async def piece_ids(
        self, node_id: str, after: tuple[int, int] | None, limit: int
    ) -> Sequence[tuple[int, int, str]]:
        q = select(PieceRow.segment_id, PieceRow.number, PieceRow.piece_id).where(PieceRow.node_id == node_id)
        if after is not None:
            q = q.where(tuple_(PieceRow.segment_id, PieceRow.number) > tuple_(*after))
        q = q.order_by(PieceRow.segment_id, PieceRow.number).limit(limit)
        async with self.db.read() as s:
            return [(int(a), int(b), str(c)) for a, b, c in (await s.execute(q)).all()]

    async def record(self, r: RetainRecord) -> None:
        values: dict[str, object] = {"attempted_at": r.attempted_at, "last_error": r.error}
        if r.sent:
            values.update(
                sent_at=r.attempted_at,
                created_before=r.created_before,
                piece_count=r.piece_count,
                filter_bytes=r.filter_bytes,
            )
        async with self.db.transaction() as s:
            res = await s.execute(update(RetainListSent).where(RetainListSent.node_id == r.node_id).values(**values))
            if not res.rowcount:
                s.add(RetainListSent(node_id=r.node_id, **{"piece_count": 0, "filter_bytes": 0, **values}))

    async def last(self, node_id: str) -> RetainListSent | None:
        async with self.db.read() as s:
            return await s.get(RetainListSent, node_id)

    async def record_trashed(self, node_id: str, piece_ids: Sequence[str]) -> int:
        async with self.db.transaction() as s:
            return await record_gc(s, node_id, piece_ids)
