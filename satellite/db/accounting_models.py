"""Tables of the network's economy: tallies, paystubs, statements, the reserve fund, incidents.

Amounts are token base units (``10**-decimals`` of a token), which overflow a 64-bit integer
at about nine tokens of an 18-decimals token; :class:`TokenUnits` stores them as decimal text,
exact on every backend, and the ledgers add them up in Python (a period has one row per node
or tenant, the reserve fund one row per movement). Usage (bytes, byte-hours, requests) fits
``BIGINT`` and is summed in SQL. Times that periods and tallies are cut by are unix seconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Dialect, ForeignKey, Index, Integer, String, TypeDecorator
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, BigId, ObjectKey

__all__ = [
    "AccountingPeriod",
    "AccountingTally",
    "DataLossIncident",
    "NodeAccount",
    "NodeTally",
    "PaystubRow",
    "ReserveEntry",
    "StatementRow",
    "TenantMeter",
    "TenantTally",
    "TokenUnits",
]


class TokenUnits(TypeDecorator[int]):
    """An arbitrary-size integer stored as decimal text (token base units)."""

    impl = String(80)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | None:
        return None if value is None else str(int(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class AccountingTally(Base):
    """One tally of stored bytes: its interval ``[interval_start, interval_end)`` and its progress.

    A tally scans the pieces table in segment-id batches; ``cursor`` is the last segment id
    counted, so a crashed satellite resumes the same tally where it stopped.
    """

    __tablename__ = "accounting_tallies"
    __table_args__ = (Index(None, "status", "interval_end"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done
    interval_start: Mapped[int] = mapped_column(BigInteger)
    interval_end: Mapped[int] = mapped_column(BigInteger)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    last_segment_id: Mapped[int] = mapped_column(BigInteger, default=0)  # where this tally stops
    started_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]


class NodeTally(Base):
    """Bytes of pieces a node in good standing held at one tally, by the satellite's metadata."""

    __tablename__ = "accounting_node_tallies"

    tally_id: Mapped[int] = mapped_column(ForeignKey("accounting_tallies.id", ondelete="CASCADE"), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class TenantTally(Base):
    """Bytes of committed objects a tenant stored at one tally."""

    __tablename__ = "accounting_tenant_tallies"

    tally_id: Mapped[int] = mapped_column(ForeignKey("accounting_tallies.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class TenantMeter(Base):
    """Requests and egress of a tenant in a period, as the metainfo API saw them (added to, never set)."""

    __tablename__ = "accounting_tenant_meters"

    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    egress: Mapped[int] = mapped_column(BigInteger, default=0)
    class_a: Mapped[int] = mapped_column(BigInteger, default=0)  # PUT, COPY, LIST, multipart
    class_b: Mapped[int] = mapped_column(BigInteger, default=0)  # GET, HEAD


class AccountingPeriod(Base):
    """A closed period and its totals; ``settlement`` says whether payouts were handed on."""

    __tablename__ = "accounting_periods"

    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    start: Mapped[int] = mapped_column(BigInteger)
    end: Mapped[int] = mapped_column(BigInteger)
    closed_at: Mapped[dt.datetime]
    settlement: Mapped[str] = mapped_column(String(32))  # awaiting_settlement | planned
    nodes: Mapped[int] = mapped_column(Integer, default=0)
    payees: Mapped[int] = mapped_column(Integer, default=0)
    byte_hours: Mapped[int] = mapped_column(BigInteger, default=0)
    gross: Mapped[int] = mapped_column(TokenUnits, default=0)
    held: Mapped[int] = mapped_column(TokenUnits, default=0)
    returned: Mapped[int] = mapped_column(TokenUnits, default=0)
    forfeited: Mapped[int] = mapped_column(TokenUnits, default=0)
    to_pay: Mapped[int] = mapped_column(TokenUnits, default=0)
    carried: Mapped[int] = mapped_column(TokenUnits, default=0)
    revenue: Mapped[int] = mapped_column(TokenUnits, default=0)
    credits: Mapped[int] = mapped_column(TokenUnits, default=0)
    reserve_in: Mapped[int] = mapped_column(TokenUnits, default=0)
    reserve_out: Mapped[int] = mapped_column(TokenUnits, default=0)


class PaystubRow(Base):
    """One node's pay for one period; settlement fills ``tx_hash`` and ``settlement_state``."""

    __tablename__ = "accounting_paystubs"

    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    wallet: Mapped[str] = mapped_column(String(128), default="")
    byte_hours: Mapped[int] = mapped_column(BigInteger, default=0)
    egress: Mapped[int] = mapped_column(BigInteger, default=0)
    repair_egress: Mapped[int] = mapped_column(BigInteger, default=0)
    audit_egress: Mapped[int] = mapped_column(BigInteger, default=0)
    age_month: Mapped[int] = mapped_column(Integer, default=1)
    held_percent: Mapped[int] = mapped_column(Integer, default=0)
    storage_amount: Mapped[int] = mapped_column(TokenUnits, default=0)
    egress_amount: Mapped[int] = mapped_column(TokenUnits, default=0)
    repair_amount: Mapped[int] = mapped_column(TokenUnits, default=0)
    audit_amount: Mapped[int] = mapped_column(TokenUnits, default=0)
    gross: Mapped[int] = mapped_column(TokenUnits, default=0)
    held: Mapped[int] = mapped_column(TokenUnits, default=0)
    returned: Mapped[int] = mapped_column(TokenUnits, default=0)
    forfeited: Mapped[int] = mapped_column(TokenUnits, default=0)
    carried_in: Mapped[int] = mapped_column(TokenUnits, default=0)
    to_pay: Mapped[int] = mapped_column(TokenUnits, default=0)
    carried_out: Mapped[int] = mapped_column(TokenUnits, default=0)
    held_balance: Mapped[int] = mapped_column(TokenUnits, default=0)
    note: Mapped[str] = mapped_column(String(255), default="")
    settlement_state: Mapped[str | None] = mapped_column(String(16))  # filled by settlement
    tx_hash: Mapped[str | None] = mapped_column(String(80))


class NodeAccount(Base):
    """A node's running balances between periods: held back so far, and what rolled over."""

    __tablename__ = "accounting_node_accounts"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    held_balance: Mapped[int] = mapped_column(TokenUnits, default=0)
    carried: Mapped[int] = mapped_column(TokenUnits, default=0)
    half_returned: Mapped[bool] = mapped_column(default=False)
    closed_out: Mapped[bool] = mapped_column(default=False)  # exited or disqualified: held settled
    updated_period: Mapped[str] = mapped_column(String(32), default="")


class StatementRow(Base):
    """A tenant's bill for one closed period."""

    __tablename__ = "accounting_statements"

    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    byte_hours: Mapped[int] = mapped_column(BigInteger, default=0)
    egress: Mapped[int] = mapped_column(BigInteger, default=0)
    class_a: Mapped[int] = mapped_column(BigInteger, default=0)
    class_b: Mapped[int] = mapped_column(BigInteger, default=0)
    storage_charge: Mapped[int] = mapped_column(TokenUnits, default=0)
    egress_charge: Mapped[int] = mapped_column(TokenUnits, default=0)
    request_charge: Mapped[int] = mapped_column(TokenUnits, default=0)
    revenue: Mapped[int] = mapped_column(TokenUnits, default=0)
    credits: Mapped[int] = mapped_column(TokenUnits, default=0)
    total: Mapped[int] = mapped_column(TokenUnits, default=0)
    reserve_share: Mapped[int] = mapped_column(TokenUnits, default=0)


class ReserveEntry(Base):
    """One movement of the reserve fund: ``amount`` > 0 flows in, < 0 flows out.

    Kinds: ``revenue_share`` and ``held_forfeit`` in; ``incident_credit`` and ``manual_credit``
    out, to a tenant (``tenant_id``), shown as credits on its statement for ``period``.
    """

    __tablename__ = "accounting_reserve"
    __table_args__ = (Index(None, "tenant_id", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(index=True)
    period: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(TokenUnits)
    node_id: Mapped[str | None] = mapped_column(String(64))
    tenant_id: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500), default="")


class DataLossIncident(Base):
    """A segment the repair checker found with fewer than k healthy pieces: data lost to a tenant."""

    __tablename__ = "accounting_incidents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    segment_id: Mapped[int] = mapped_column(BigInteger, unique=True)  # one incident per segment
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    bucket: Mapped[str] = mapped_column(String(63))
    key: Mapped[str] = mapped_column(ObjectKey)
    bytes: Mapped[int] = mapped_column(BigInteger)
    healthy: Mapped[int] = mapped_column(Integer)
    k: Mapped[int] = mapped_column(Integer)
    credit: Mapped[int] = mapped_column(TokenUnits, default=0)
    found_at: Mapped[dt.datetime]
