"""The residency ledger's tables: every placement event of a piece, hash-chained per bucket."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from satellite.db.models import Base, BigId

__all__ = ["ResidencyEntry", "ResidencyGCPending", "ResidencyHead"]


class ResidencyEntry(Base):
    """One placement event: a piece added to or removed from a node, and the node's country then.

    Append-only: nothing in the satellite updates or deletes these rows (no foreign keys, so a
    deleted bucket or node keeps its history). ``hash`` covers every column and ``prev_hash``
    (the previous entry of the same bucket's chain), so changing, removing or inserting a row
    breaks the chain at that row (``satellite/db/residency_ledger.py``).
    An inline segment is held by the pseudo-node ``satellite-db`` as piece ``-1``, in the
    country the satellite declares for its database.
    """

    __tablename__ = "residency_ledger"
    __table_args__ = (
        Index("ix_residency_ledger_bucket_seq", "bucket", "seq", unique=True),
        Index("ix_residency_ledger_bucket_at", "bucket", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)  # 1, 2, … within the bucket's chain
    at: Mapped[dt.datetime]
    event: Mapped[str] = mapped_column(String(16))  # upload, copy, repair, migration, graceful_exit, deletion, gc
    action: Mapped[str] = mapped_column(String(8))  # add | remove
    object_key: Mapped[str] = mapped_column(String(1024))
    segment_id: Mapped[int] = mapped_column(BigInteger)
    piece_number: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))  # the node's effective country at that moment
    region: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ResidencyHead(Base):
    """The last entry of each bucket's chain; locked while appending so chains never fork."""

    __tablename__ = "residency_heads"

    bucket: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class ResidencyGCPending(Base):
    """A piece the ledger recorded as removed from metadata whose node has not yet said it dropped it.

    Written with the ``remove`` entry, deleted when the node's garbage collection reports the
    piece trashed and the ledger gets its ``gc`` entry (``satellite/db/residency_ledger.py``).
    Not part of the chain: it only lets the satellite name the segment and piece of a piece id
    whose rows are gone.
    """

    __tablename__ = "residency_gc_pending"
    __table_args__ = (Index("ix_residency_gc_pending_node_piece", "node_id", "piece_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    node_id: Mapped[str] = mapped_column(String(64))
    piece_id: Mapped[str] = mapped_column(String(64))
    bucket: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(1024))
    segment_id: Mapped[int] = mapped_column(BigInteger)
    piece_number: Mapped[int] = mapped_column(Integer)
