"""Piece losses in the satellite database: dropping reported pieces, counting a node's losses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from satellite.db.durability_models import NodeLossStanding, PieceLoss
from satellite.db.engine import Database
from satellite.db.models import Node, PieceRow, SegmentRow

__all__ = ["DroppedPiece", "LossRepository", "LossStanding"]


@dataclass(frozen=True, slots=True)
class DroppedPiece:
    piece_id: str
    segment_id: int
    number: int
    size: int
    dropped: bool  # False: kept, because fewer than k pieces would have remained


@dataclass(frozen=True, slots=True)
class LossStanding:
    losses: int
    lost_bytes: int
    in_window: int
    held: int
    last_loss_at: dt.datetime | None
    suspended_at: dt.datetime | None
    suspension_reason: str | None


class LossRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def node_exists(self, node_id: str) -> bool:
        async with self.db.read() as s:
            return (await s.get(Node, node_id)) is not None

    async def drop_pieces(self, node_id: str, piece_ids: list[str], *, keep_k: bool) -> list[DroppedPiece]:
        """Delete the rows of ``node_id``'s pieces ``piece_ids`` (one transaction).

        ``keep_k``: keep a row when dropping it would leave its segment with fewer than ``k``
        piece rows (a reader's report: a bug that reports every piece must not erase a
        segment's metadata; the repairer verifies every piece it reads anyway). A node's own
        report always drops: the node deleted the piece.
        """
        out: list[DroppedPiece] = []
        async with self.db.transaction() as s:
            rows = (
                await s.execute(
                    select(PieceRow.piece_id, PieceRow.segment_id, PieceRow.number, PieceRow.size, SegmentRow.k)
                    .join(SegmentRow, SegmentRow.id == PieceRow.segment_id)
                    .where(PieceRow.node_id == node_id, PieceRow.piece_id.in_(piece_ids))
                )
            ).all()
            for piece_id, sid, number, size, k in rows:
                if keep_k:
                    count = (
                        await s.execute(select(func.count()).select_from(PieceRow).where(PieceRow.segment_id == sid))
                    ).scalar_one()
                    if count - 1 < k:
                        out.append(DroppedPiece(piece_id, sid, number, size, False))
                        continue
                await s.execute(delete(PieceRow).where(PieceRow.segment_id == sid, PieceRow.number == number))
                out.append(DroppedPiece(piece_id, sid, number, size, True))
        return out

    async def record_losses(
        self, node_id: str, losses: list[DroppedPiece], reason: str, now: dt.datetime
    ) -> None:
        """One ``piece_losses`` row per piece and the node's running totals."""
        async with self.db.transaction() as s:
            for d in losses:
                s.add(
                    PieceLoss(
                        node_id=node_id,
                        piece_id=d.piece_id,
                        segment_id=d.segment_id,
                        piece_number=d.number,
                        size=d.size,
                        reason=reason[:255],
                        reported_at=now,
                    )
                )
            nbytes = sum(d.size for d in losses)
            standing = await s.get(NodeLossStanding, node_id)
            if standing is None:
                s.add(NodeLossStanding(node_id=node_id, losses=len(losses), lost_bytes=nbytes, last_loss_at=now,
                                       warned_at=now))  # fmt: skip
            else:
                standing.losses += len(losses)
                standing.lost_bytes += nbytes
                standing.last_loss_at = now
                standing.warned_at = standing.warned_at or now

    async def standing(self, node_id: str, since: dt.datetime) -> LossStanding:
        async with self.db.read() as s:
            row = await s.get(NodeLossStanding, node_id)
            in_window = (
                await s.execute(
                    select(func.count()).where(PieceLoss.node_id == node_id, PieceLoss.reported_at >= since)
                )
            ).scalar_one()
            held = (
                await s.execute(select(func.count()).select_from(PieceRow).where(PieceRow.node_id == node_id))
            ).scalar_one()
        if row is None:
            return LossStanding(0, 0, int(in_window), int(held), None, None, None)
        return LossStanding(
            row.losses, row.lost_bytes, int(in_window), int(held), row.last_loss_at, row.suspended_at,
            row.suspension_reason,
        )  # fmt: skip

    async def suspend(self, node_id: str, reason: str, now: dt.datetime) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(NodeLossStanding)
                .where(NodeLossStanding.node_id == node_id, NodeLossStanding.suspended_at.is_(None))
                .values(suspended_at=now, suspension_reason=reason[:255])
            )
