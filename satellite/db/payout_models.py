"""Settlement's tables: the payouts accounting planned per period, the batches that pay them on
chain, and the cached stake of each node (``satellite.payouts``).

Token amounts are integers of up to 256 bits (an 18-decimal token overflows BIGINT at nine
tokens), so they are stored as decimal text and summed in Python, never in SQL.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from satellite.db.models import Base, BigId

__all__ = ["NodeStake", "PayoutBatchRow", "PayoutPeriodRow", "PayoutRow"]

Amount = String(80)  # decimal text of a uint256


class PayoutPeriodRow(Base):
    """One accounting period handed to settlement, once (``PayoutPlanner.plan_period``)."""

    __tablename__ = "payout_periods"

    period: Mapped[str] = mapped_column(String(64), primary_key=True)
    planned_at: Mapped[dt.datetime]
    payee_count: Mapped[int] = mapped_column(Integer)
    total: Mapped[str] = mapped_column(Amount)
    # Set when the worker priced the period's payees and cut them into batches.
    batched_at: Mapped[dt.datetime | None]


class PayoutBatchRow(Base):
    """Up to 200 payouts of one period paid by one transaction.

    ``state`` moves ``planned → signed → sent → confirmed``. The signed transaction (``raw_tx``,
    ``tx_hash``, ``nonce``) is stored in the ``signed`` step, before any broadcast, so a worker
    that dies after signing re-sends the very same bytes. ``chain_batch`` is the id the payout
    contract records as paid; it never changes, whatever is re-signed, so no batch pays twice.
    """

    __tablename__ = "payout_batches"
    __table_args__ = (UniqueConstraint("period", "seq"), Index(None, "state", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(ForeignKey("payout_periods.period", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    chain_batch: Mapped[str] = mapped_column(String(66))  # 0x + 32 bytes hex
    state: Mapped[str] = mapped_column(String(16))
    payee_count: Mapped[int] = mapped_column(Integer)
    total: Mapped[str] = mapped_column(Amount)
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    raw_tx: Mapped[bytes | None] = mapped_column(LargeBinary)
    gas_limit: Mapped[int | None] = mapped_column(BigInteger)
    max_fee_per_gas: Mapped[str | None] = mapped_column(Amount)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # signatures made (1 unless re-signed)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    retry_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    signed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    confirmed_at: Mapped[dt.datetime | None]


class PayoutRow(Base):
    """What one node is paid for one period; ``rolled_over`` when its fee would eat too much of it."""

    __tablename__ = "payouts"
    __table_args__ = (UniqueConstraint("period", "node_id"), Index(None, "batch_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(ForeignKey("payout_periods.period", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(64))  # no FK: accounting may pay a node since deleted
    wallet: Mapped[str] = mapped_column(String(42))
    amount: Mapped[str] = mapped_column(Amount)
    state: Mapped[str] = mapped_column(String(16))  # planned, rolled_over, or its batch's state
    fee: Mapped[str | None] = mapped_column(Amount)  # estimated fee in token units, when priced
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("payout_batches.id", ondelete="SET NULL"))


class NodeStake(Base):
    """The last stake read from the staking contract per node, for placement (refreshed by a chore)."""

    __tablename__ = "node_stakes"

    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    wallet: Mapped[str] = mapped_column(String(42), default="")
    amount: Mapped[str] = mapped_column(Amount, default="0")  # active: what placement counts
    # All the stake the contract holds for the node, exiting or not, and when an exit the node
    # asked for ends its unbonding (withdrawable from then): what the node's operator is shown.
    bonded: Mapped[str] = mapped_column(Amount, default="0", server_default="0")
    unbonding_until: Mapped[dt.datetime | None]
    registered: Mapped[bool] = mapped_column(default=False)  # the contract binds the node to its wallet
    slashed_at: Mapped[dt.datetime | None]
    slash_tx: Mapped[str | None] = mapped_column(String(66))
    checked_at: Mapped[dt.datetime]
