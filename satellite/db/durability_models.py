"""Tables of durability under shortage and disk rot: repair shortfalls and self-reported losses."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from satellite.db.models import Base, BigId, PieceRow

__all__ = ["NodeLossStanding", "PieceLoss", "RepairShortfall"]


class RepairShortfall(Base):
    """A segment a repairer could not bring back to ``success`` for lack of eligible nodes.

    ``missing`` is how many more pieces it needs (target − healthy after the last attempt),
    ``eligible`` how many nodes placement could still use for it then. The row is removed
    when a repair reaches the target or the segment is gone: a policy's rows are its
    "repair capacity short" state.
    """

    __tablename__ = "repair_shortfalls"

    segment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # no FK: a delete ends it
    policy_id: Mapped[int] = mapped_column(Integer, index=True)
    healthy: Mapped[int] = mapped_column(Integer)
    target: Mapped[int] = mapped_column(Integer)
    missing: Mapped[int] = mapped_column(Integer)
    eligible: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(255), default="")
    since: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class PieceLoss(Base):
    """A node told the satellite it lost a piece (its scrub found it corrupt or missing)."""

    __tablename__ = "piece_losses"
    __table_args__ = (Index(None, "node_id", "reported_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    node_id: Mapped[str] = mapped_column(String(64))
    piece_id: Mapped[str] = mapped_column(String(64))
    segment_id: Mapped[int | None] = mapped_column(BigInteger)  # None: no row named the piece
    piece_number: Mapped[int | None] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    reason: Mapped[str] = mapped_column(String(255), default="")
    reported_at: Mapped[dt.datetime]


class NodeLossStanding(Base):
    """The milder reputation signal of self-reported losses: counted, warned, suspended."""

    __tablename__ = "node_loss_standing"

    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    losses: Mapped[int] = mapped_column(Integer, default=0)  # pieces, all time
    lost_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    last_loss_at: Mapped[dt.datetime | None]
    warned_at: Mapped[dt.datetime | None]
    suspended_at: Mapped[dt.datetime | None]  # no new pieces until an admin reinstates the node
    suspension_reason: Mapped[str | None] = mapped_column(String(255))


# A node reports a piece by its id: find its row without walking all the node's pieces.
Index("ix_pieces_node_piece", PieceRow.node_id, PieceRow.piece_id)
