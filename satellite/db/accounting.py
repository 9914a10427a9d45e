"""SQL of the economy (``satellite.accounting``): tallies, settled orders, meters, periods, reserve.

Every aggregate is one grouped query (by node or by tenant), never a query per piece or per
order. Byte-hours of a period are computed from the tallies that overlap it: each tally row
holds the bytes a node held at that tally, for the tally's interval; the overlap of that
interval with the period, in seconds, weighs it. ``bytes · seconds / 3600`` is computed as
``(bytes // 3600) · s + (bytes % 3600) · s // 3600`` so it never overflows 64 bits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from common.wallet import wallet_problem
from satellite.accounting.pricing import NodeStanding, NodeUsage, Paystub, Period, Statement, TenantUsage
from satellite.db.accounting_models import (
    AccountingPeriod,
    AccountingTally,
    DataLossIncident,
    NodeAccount,
    NodeTally,
    PaystubRow,
    ReserveEntry,
    StatementRow,
    TenantMeter,
    TenantTally,
)
from satellite.db.engine import Database
from satellite.db.models import Bucket, GracefulExit, Node, ObjectRow, OrderSerial, PieceRow, SegmentRow

__all__ = [
    "ROLLED_OVER",
    "AccountingRepository",
    "CloseInputs",
    "CloseResult",
    "LostSegment",
    "PeriodAlreadyClosed",
    "SettledOrder",
    "TallyRun",
]

EGRESS_COLUMNS = {"GET": "egress", "REPAIR_GET": "repair_egress", "AUDIT": "audit_egress"}
CREDIT_KINDS = ("incident_credit", "manual_credit")
ROLLED_OVER = "rolled_over"  # a paystub settlement did not pay: its amount is carried to the next period
_SETTLED_STATES = (ROLLED_OVER, "confirmed")
_TALLY_LOCK = 0x6765_6F73_7461_6C79  # "geostaly": the advisory lock that begins tallies on PostgreSQL


class PeriodAlreadyClosed(Exception):
    """A period is closed once; closing it again changes nothing."""


@dataclass(frozen=True, slots=True)
class TallyRun:
    id: int
    cursor: int
    last_segment_id: int
    interval_start: int
    interval_end: int


@dataclass(frozen=True, slots=True)
class SettledOrder:
    serial: str
    node_id: str
    action: str
    max_bytes: int
    expires: int
    bytes: int


@dataclass(frozen=True, slots=True)
class LostSegment:
    segment_id: int
    tenant_id: str
    bucket: str
    key: str
    bytes: int


@dataclass
class CloseInputs:
    usage: dict[str, NodeUsage]
    standing: dict[str, NodeStanding]
    wallets: dict[str, str]
    tenants: dict[str, TenantUsage]
    credits: dict[str, int]  # per tenant, already paid out of the reserve during the period


@dataclass
class CloseResult:
    paystubs: list[Paystub]
    statements: list[Statement]
    reserve: list[ReserveEntry]
    period_row: AccountingPeriod


def _overlap(period: Period) -> Any:
    t = AccountingTally
    lo = case((t.interval_start > period.start, t.interval_start), else_=period.start)
    hi = case((t.interval_end < period.end, t.interval_end), else_=period.end)
    return hi - lo


def _byte_hours(bytes_col: Any, seconds: Any) -> Any:
    return func.sum((bytes_col // 3600) * seconds + ((bytes_col % 3600) * seconds) // 3600)


def _utc(t: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


class AccountingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert)(table)

    # --- tally -----------------------------------------------------------------------

    async def last_tally_end(self) -> int | None:
        async with self.db.read() as s:
            return await s.scalar(
                select(func.max(AccountingTally.interval_end)).where(AccountingTally.status == "done")
            )

    async def first_tally_start(self) -> int | None:
        async with self.db.read() as s:
            return await s.scalar(
                select(func.min(AccountingTally.interval_start)).where(AccountingTally.status == "done")
            )

    async def running_tally(self) -> TallyRun | None:
        async with self.db.read() as s:
            t = (await s.execute(select(AccountingTally).where(AccountingTally.status == "running"))).scalar()
        return None if t is None else TallyRun(t.id, t.cursor, t.last_segment_id, t.interval_start, t.interval_end)

    async def begin_tally(self, at: int, interval: int) -> TallyRun | None:
        """Start a tally at unix time ``at`` covering the time since the last one (or ``interval``).

        None when the last tally ended less than ``interval`` before ``at``: decided in the same
        transaction as the insert, so a satellite that read the last end before another finished
        a whole tally does not begin a second one for the same time."""
        async with self.db.transaction() as s:
            if self.db.dialect == "postgresql":  # satellites sharing a database begin one tally, not two
                await s.execute(select(func.pg_advisory_xact_lock(_TALLY_LOCK)))
            existing = (await s.execute(select(AccountingTally).where(AccountingTally.status == "running"))).scalar()
            if existing is not None:  # another process began one first
                t = existing
            else:
                last = await s.scalar(
                    select(func.max(AccountingTally.interval_end)).where(AccountingTally.status == "done")
                )
                if last is not None and at - last < interval:
                    return None
                start = min(at, last) if last is not None else at - interval
                t = AccountingTally(
                    status="running",
                    interval_start=start,
                    interval_end=at,
                    cursor=0,
                    last_segment_id=await s.scalar(select(func.coalesce(func.max(SegmentRow.id), 0))) or 0,
                    started_at=dt.datetime.now(dt.UTC),
                )
                s.add(t)
                await s.flush()
        return TallyRun(t.id, t.cursor, t.last_segment_id, t.interval_start, t.interval_end)

    async def tally_step(self, run: TallyRun, batch: int) -> TallyRun:
        """Add the bytes of pieces in the next ``batch`` segment ids, per node in good standing."""
        hi = min(run.cursor + batch, run.last_segment_id)
        exited = select(GracefulExit.node_id).where(GracefulExit.status == "exited")
        query = (
            select(PieceRow.node_id, func.sum(PieceRow.size))
            .join(Node, Node.id == PieceRow.node_id)
            .where(
                PieceRow.segment_id > run.cursor,
                PieceRow.segment_id <= hi,
                Node.disqualified_at.is_(None),
                Node.suspended_at.is_(None),
                Node.exit_finished_at.is_(None),
                Node.id.not_in(exited),
            )
            .group_by(PieceRow.node_id)
        )
        async with self.db.transaction() as s:
            # Claim the batch first: the cursor moves only from where this process read it, so two
            # satellites stepping one tally never count a batch twice (the loser re-reads the cursor).
            claimed = await s.execute(
                update(AccountingTally)
                .where(AccountingTally.id == run.id, AccountingTally.cursor == run.cursor)
                .values(cursor=hi)
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                fresh = await s.get(AccountingTally, run.id)
                cursor = fresh.cursor if fresh is not None else run.last_segment_id
                return TallyRun(run.id, cursor, run.last_segment_id, run.interval_start, run.interval_end)
            rows = (await s.execute(query)).all()
            if rows:
                stmt = self._insert(NodeTally).values(
                    [{"tally_id": run.id, "node_id": n, "bytes": int(b)} for n, b in rows]
                )
                stmt = stmt.on_conflict_do_update(
                    index_elements=[NodeTally.tally_id, NodeTally.node_id],
                    set_={"bytes": NodeTally.bytes + stmt.excluded.bytes},
                )
                await s.execute(stmt)
            # The cursor moved in the same transaction as the bytes: a crash repeats nothing.
        return TallyRun(run.id, hi, run.last_segment_id, run.interval_start, run.interval_end)

    async def finish_tally(self, run: TallyRun) -> None:
        """Tally tenants (committed object bytes, one grouped query) and mark the tally done."""
        query = select(Bucket.tenant_id, func.sum(ObjectRow.size)).join(Bucket, Bucket.id == ObjectRow.bucket_id)
        async with self.db.transaction() as s:
            done = await s.execute(
                update(AccountingTally)
                .where(AccountingTally.id == run.id, AccountingTally.status == "running")
                .values(status="done", finished_at=dt.datetime.now(dt.UTC))
            )
            if not done.rowcount:  # type: ignore[attr-defined]
                return  # another process finished it
            rows = (await s.execute(query.group_by(Bucket.tenant_id))).all()
            if rows:
                stmt = self._insert(TenantTally).values(
                    [{"tally_id": run.id, "tenant_id": t, "bytes": int(b)} for t, b in rows]
                )
                await s.execute(stmt.on_conflict_do_nothing())

    # --- usage of a period -----------------------------------------------------------

    async def node_usage(
        self, period: Period, node_id: str | None = None, s: AsyncSession | None = None
    ) -> dict[str, NodeUsage]:
        if s is None:
            async with self.db.read() as s2:
                return await self.node_usage(period, node_id, s2)
        t = AccountingTally
        seconds = _overlap(period)
        q = (
            select(NodeTally.node_id, _byte_hours(NodeTally.bytes, seconds))
            .join(t, t.id == NodeTally.tally_id)
            .where(t.status == "done", t.interval_end > period.start, t.interval_start < period.end)
            .group_by(NodeTally.node_id)
        )
        e = (
            select(OrderSerial.node_id, OrderSerial.action, func.sum(OrderSerial.settled_bytes))
            .where(OrderSerial.settled_at >= _utc(period.start), OrderSerial.settled_at < _utc(period.end))
            .group_by(OrderSerial.node_id, OrderSerial.action)
        )
        if node_id is not None:
            q, e = q.where(NodeTally.node_id == node_id), e.where(OrderSerial.node_id == node_id)
        fields: dict[str, dict[str, int]] = {}
        for n, bh in (await s.execute(q)).all():
            fields.setdefault(n, {})["byte_hours"] = int(bh or 0)
        for n, action, b in (await s.execute(e)).all():
            col = EGRESS_COLUMNS.get(action)
            if col is not None:
                fields.setdefault(n, {})[col] = fields.get(n, {}).get(col, 0) + int(b or 0)
        return {n: NodeUsage(n, **f) for n, f in fields.items()}

    async def tenant_usage(
        self, period: Period, s: AsyncSession, tenant_id: str | None = None
    ) -> dict[str, TenantUsage]:
        t = AccountingTally
        q = (
            select(TenantTally.tenant_id, _byte_hours(TenantTally.bytes, _overlap(period)))
            .join(t, t.id == TenantTally.tally_id)
            .where(t.status == "done", t.interval_end > period.start, t.interval_start < period.end)
            .group_by(TenantTally.tenant_id)
        )
        m = select(TenantMeter).where(TenantMeter.period == period.id)
        if tenant_id is not None:
            q, m = q.where(TenantTally.tenant_id == tenant_id), m.where(TenantMeter.tenant_id == tenant_id)
        fields: dict[str, dict[str, int]] = {}
        for tid, bh in (await s.execute(q)).all():
            fields.setdefault(tid, {})["byte_hours"] = int(bh or 0)
        for row in (await s.execute(m)).scalars():
            fields.setdefault(row.tenant_id, {}).update(egress=row.egress, class_a=row.class_a, class_b=row.class_b)
        return {tid: TenantUsage(tid, **f) for tid, f in fields.items()}

    async def credits(self, period: str, s: AsyncSession, tenant_id: str | None = None) -> dict[str, int]:
        q = select(ReserveEntry.tenant_id, ReserveEntry.amount).where(
            ReserveEntry.period == period, ReserveEntry.kind.in_(CREDIT_KINDS)
        )
        if tenant_id is not None:
            q = q.where(ReserveEntry.tenant_id == tenant_id)
        out: dict[str, int] = {}
        for tid, amount in (await s.execute(q)).all():
            out[tid] = out.get(tid, 0) - amount  # credits flow out: stored negative
        return out

    async def standing(
        self, s: AsyncSession, node_ids: Iterable[str] | None = None
    ) -> tuple[dict[str, NodeStanding], dict[str, str]]:
        """Every node's standing and running balances (or those of ``node_ids``), and wallets."""
        q = select(Node.id, Node.created_at, Node.wallet, Node.disqualified_at, GracefulExit.status).outerjoin(
            GracefulExit, GracefulExit.node_id == Node.id
        )
        if node_ids is not None:
            q = q.where(Node.id.in_(list(node_ids)))
        accounts = {a.node_id: a for a in (await s.execute(select(NodeAccount))).scalars()}
        out, wallets = {}, {}
        for nid, created, wallet, dq, exit_status in (await s.execute(q)).all():
            a = accounts.get(nid)
            out[nid] = NodeStanding(
                created_at=created.timestamp(),
                wallet_ok=wallet_problem(wallet) is None,
                disqualified=dq is not None or exit_status == "failed",
                exited=exit_status == "exited",
                held_balance=a.held_balance if a else 0,
                carried=a.carried if a else 0,
                half_returned=a.half_returned if a else False,
                closed_out=a.closed_out if a else False,
            )
            wallets[nid] = wallet
        return out, wallets

    # --- orders ------------------------------------------------------------------------

    async def settle_orders(self, orders: Sequence[SettledOrder], at: dt.datetime) -> set[str]:
        """Record each order's serial once; the serials that were new (the others were settled before)."""
        if not orders:
            return set()
        stmt = self._insert(OrderSerial).values(
            [
                {
                    "serial": o.serial,
                    "node_id": o.node_id,
                    "action": o.action,
                    "bucket_id": None,
                    "max_bytes": o.max_bytes,
                    "expires_at": _utc(o.expires),
                    "settled_at": at,
                    "settled_bytes": o.bytes,
                }
                for o in orders
            ]
        )
        stmt = stmt.on_conflict_do_nothing(index_elements=[OrderSerial.serial]).returning(OrderSerial.serial)
        async with self.db.transaction() as s:
            return set((await s.execute(stmt)).scalars())

    # --- meters ------------------------------------------------------------------------

    async def add_meters(self, period: str, counts: dict[str, tuple[int, int, int]]) -> None:
        """Add (egress, class A, class B) per tenant to ``period``'s meters."""
        if not counts:
            return
        stmt = self._insert(TenantMeter).values(
            [
                {"period": period, "tenant_id": t, "egress": e, "class_a": a, "class_b": b}
                for t, (e, a, b) in counts.items()
            ]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[TenantMeter.period, TenantMeter.tenant_id],
            set_={
                "egress": TenantMeter.egress + stmt.excluded.egress,
                "class_a": TenantMeter.class_a + stmt.excluded.class_a,
                "class_b": TenantMeter.class_b + stmt.excluded.class_b,
            },
        )
        async with self.db.transaction() as s:
            await s.execute(stmt)

    # --- periods -----------------------------------------------------------------------

    async def close_period(self, period: Period, build: Callable[[CloseInputs], CloseResult]) -> CloseResult:
        """Read the period's usage, let ``build`` price it, write everything — one transaction."""
        async with self.db.transaction() as s:
            if await s.get(AccountingPeriod, period.id) is not None:
                raise PeriodAlreadyClosed(f"period {period.id} is already closed; its ledgers are final")
            if self.db.dialect == "postgresql":  # a rollover told meanwhile waits (carry_rolled_over)
                await s.execute(select(NodeAccount.node_id).with_for_update())
            usage = await self.node_usage(period, s=s)
            standing, wallets = await self.standing(s)
            inputs = CloseInputs(
                usage, standing, wallets, await self.tenant_usage(period, s), await self.credits(period.id, s)
            )
            result = build(inputs)
            s.add(result.period_row)
            await s.flush()  # the period's primary key first: a concurrent close fails here
            for p in result.paystubs:
                s.add(PaystubRow(period=period.id, wallet=wallets.get(p.node_id, ""), **_paystub_columns(p)))
                account = await s.get(NodeAccount, p.node_id)
                if account is None:
                    account = NodeAccount(node_id=p.node_id)
                    s.add(account)
                account.held_balance = p.held_balance
                account.carried = p.carried_out
                account.half_returned = p.half_returned
                account.closed_out = p.closed_out
                account.updated_period = period.id
            for st in result.statements:
                s.add(StatementRow(period=period.id, **_statement_columns(st)))
            for entry in result.reserve:
                s.add(entry)
        return result

    async def record_settlement(self, period: str, node_ids: Sequence[str], state: str, tx_hash: str | None) -> int:
        """Settlement's write-back: the state (and transaction hash) of these nodes' payouts."""
        async with self.db.transaction() as s:
            res = await s.execute(
                update(PaystubRow)
                .where(PaystubRow.period == period, PaystubRow.node_id.in_(list(node_ids)))
                .values(settlement_state=state, tx_hash=tx_hash)
            )
        return int(res.rowcount or 0)  # type: ignore[attr-defined]

    async def carry_rolled_over(self, period: str, node_ids: Sequence[str]) -> dict[str, int]:
        """Settlement rolled these payouts over (their fee would eat too much of them): add each
        paystub's ``to_pay`` to its node's carried balance, which the next period close pays, and
        mark the paystub ``rolled_over``. Idempotent: a paystub already rolled over (or confirmed
        paid) is skipped, so telling twice carries nothing twice. What was carried, per node.

        The node's account row is locked (PostgreSQL; SQLite has one writer) and the period close
        locks the same rows, so a rollover told while the next period closes lands in that
        period or the one after, never in neither."""
        if not node_ids:
            return {}
        carried: dict[str, int] = {}
        postgres = self.db.dialect == "postgresql"
        async with self.db.transaction() as s:
            q = select(PaystubRow).where(
                PaystubRow.period == period,
                PaystubRow.node_id.in_(list(node_ids)),
                PaystubRow.settlement_state.is_(None) | PaystubRow.settlement_state.not_in(_SETTLED_STATES),
            )
            for stub in (await s.execute(q.with_for_update() if postgres else q)).scalars():
                if stub.to_pay <= 0:
                    continue
                aq = select(NodeAccount).where(NodeAccount.node_id == stub.node_id)
                account = (await s.execute(aq.with_for_update() if postgres else aq)).scalar_one_or_none()
                if account is None:
                    account = NodeAccount(node_id=stub.node_id, held_balance=0, carried=0)
                    s.add(account)
                account.carried = (account.carried or 0) + stub.to_pay
                stub.settlement_state = ROLLED_OVER
                carried[stub.node_id] = stub.to_pay
        return carried

    async def latest_period(self) -> str | None:
        async with self.db.read() as s:
            return await s.scalar(select(AccountingPeriod.period).order_by(AccountingPeriod.start.desc()).limit(1))

    async def mark_planned(self, period: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(AccountingPeriod).where(AccountingPeriod.period == period).values(settlement="planned")
            )

    async def periods(self, settlement: str | None = None) -> list[AccountingPeriod]:
        q = select(AccountingPeriod).order_by(AccountingPeriod.start.desc())
        if settlement is not None:
            q = q.where(AccountingPeriod.settlement == settlement)
        async with self.db.read() as s:
            return list((await s.execute(q)).scalars())

    async def period(self, period: str) -> AccountingPeriod | None:
        async with self.db.read() as s:
            return await s.get(AccountingPeriod, period)

    async def paystubs(self, *, period: str | None = None, node_id: str | None = None) -> list[PaystubRow]:
        q = select(PaystubRow).order_by(PaystubRow.period.desc(), PaystubRow.node_id)
        if period is not None:
            q = q.where(PaystubRow.period == period)
        if node_id is not None:
            q = q.where(PaystubRow.node_id == node_id)
        async with self.db.read() as s:
            return list((await s.execute(q)).scalars())

    async def statements(self, period: str) -> list[StatementRow]:
        """Every tenant's statement of one closed period."""
        q = select(StatementRow).where(StatementRow.period == period).order_by(StatementRow.tenant_id)
        async with self.db.read() as s:
            return list((await s.execute(q)).scalars())

    async def statement(self, period: str, tenant_id: str) -> StatementRow | None:
        async with self.db.read() as s:
            return await s.get(StatementRow, (period, tenant_id))

    async def node_account(self, node_id: str) -> NodeAccount | None:
        async with self.db.read() as s:
            return await s.get(NodeAccount, node_id)

    # --- reserve fund and incidents ----------------------------------------------------

    async def reserve(self, limit: int = 100) -> tuple[int, list[ReserveEntry]]:
        """The fund's balance (every movement ever) and its latest ``limit`` movements."""
        async with self.db.read() as s:
            amounts = (await s.execute(select(ReserveEntry.amount))).scalars()
            balance = sum(amounts)
            latest = (await s.execute(select(ReserveEntry).order_by(ReserveEntry.id.desc()).limit(limit))).scalars()
            return balance, list(latest)

    async def credit(self, entry: ReserveEntry) -> ReserveEntry:
        async with self.db.transaction() as s:
            s.add(entry)
        return entry

    async def credit_entries(self, tenant_id: str | None = None) -> list[ReserveEntry]:
        q = select(ReserveEntry).where(ReserveEntry.kind.in_(CREDIT_KINDS)).order_by(ReserveEntry.id.desc())
        if tenant_id is not None:
            q = q.where(ReserveEntry.tenant_id == tenant_id)
        async with self.db.read() as s:
            return list((await s.execute(q)).scalars())

    async def lost_segments(self, segment_ids: Sequence[int]) -> list[LostSegment]:
        """Who lost what: tenant, bucket, key and plain bytes of each (committed) segment."""
        q = (
            select(SegmentRow.id, Bucket.tenant_id, Bucket.name, ObjectRow.key, SegmentRow.plain_size)
            .join(ObjectRow, ObjectRow.id == SegmentRow.object_id)
            .join(Bucket, Bucket.id == ObjectRow.bucket_id)
            .where(SegmentRow.id.in_(list(segment_ids)))
        )
        async with self.db.read() as s:
            return [LostSegment(int(a), t, b, k, int(n)) for a, t, b, k, n in (await s.execute(q)).all()]

    async def record_incident(self, incident: DataLossIncident, credit: Callable[[int], ReserveEntry]) -> bool:
        """Record an incident and its credit once per segment; False if it was recorded before."""
        async with self.db.transaction() as s:
            stmt = (
                self._insert(DataLossIncident)
                .values(
                    {c.name: getattr(incident, c.name) for c in DataLossIncident.__table__.columns if c.name != "id"}
                )
                .on_conflict_do_nothing(index_elements=[DataLossIncident.segment_id])
                .returning(DataLossIncident.id)
            )
            new_id = (await s.execute(stmt)).scalar()
            if new_id is None:
                return False
            s.add(credit(int(new_id)))
        return True

    async def incidents(self, tenant_id: str | None = None, limit: int = 200) -> list[DataLossIncident]:
        q = select(DataLossIncident).order_by(DataLossIncident.id.desc()).limit(limit)
        if tenant_id is not None:
            q = q.where(DataLossIncident.tenant_id == tenant_id)
        async with self.db.read() as s:
            return list((await s.execute(q)).scalars())


def _paystub_columns(p: Paystub) -> dict[str, Any]:
    skip = {"half_returned", "closed_out"}
    return {k: getattr(p, k) for k in p.__dataclass_fields__ if k not in skip}


def _statement_columns(st: Statement) -> dict[str, Any]:
    return {k: getattr(st, k) for k in st.__dataclass_fields__}
