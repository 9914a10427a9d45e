"""The accounting service as the satellite runs it: its chores, its views, its hook for settlement.

:class:`AccountingService` owns the tally, the period closer, the request meter, order
settlement and compensation over one repository. ``run`` paces the chores — a tally batch,
then a period close — each one unit of work per step, so tests step them directly instead
of sleeping. The views below turn ledger rows into the JSON the node and admin APIs answer,
every amount both in token base units (``*_units``, exact integers as strings) and in the
network's currency.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
from typing import Any

from satellite.db.accounting import ROLLED_OVER, AccountingRepository
from satellite.db.engine import Database
from satellite.errors import InvalidArgument, NotFound
from satellite.payouts import PayoutPlanner

from .config import AccountingConfig
from .metering import RequestMeter
from .orders import OrderSettler
from .periods import PeriodCloser
from .pricing import NodeUsage, Paystub, Period, Prices, TenantUsage, compute_paystub, compute_statement
from .reserve import Compensation
from .tally import TallyChore, TallyStep

__all__ = ["AccountingService"]

log = logging.getLogger(__name__)

STATEMENT_FIELDS = ("byte_hours", "egress", "class_a", "class_b")
STATEMENT_AMOUNTS = ("storage_charge", "egress_charge", "request_charge", "revenue", "credits", "total")
PAYSTUB_AMOUNTS = (
    "storage_amount",
    "egress_amount",
    "repair_amount",
    "audit_amount",
    "gross",
    "held",
    "returned",
    "forfeited",
    "carried_in",
    "to_pay",
    "carried_out",
    "held_balance",
)


class AccountingService:
    def __init__(
        self, db: Database, config: AccountingConfig, satellite_id: str, *, planner: PayoutPlanner | None = None
    ) -> None:
        self.config = config
        self.repo = AccountingRepository(db)
        self.prices = Prices.from_config(config)
        self.tally = TallyChore(self.repo, interval=config.tally_interval, batch=config.tally_batch)
        # ``planner`` is settlement's PayoutPlanner (satellite.payouts); None until it is connected,
        # and then closed periods wait, logged as awaiting settlement, and are offered on every pass.
        self.closer = PeriodCloser(self.repo, config, planner)
        self.meter = RequestMeter(
            self.repo, period_seconds=config.period_seconds, flush_interval=config.meter_flush_interval
        )
        self.settler = OrderSettler(self.repo, satellite_id, settlement_window=config.order_settlement_window)
        self.compensation = Compensation(self.repo, config, self.prices)
        self.closed_last: str | None = None  # the period the last step closed, if it closed one

    @property
    def planner(self) -> PayoutPlanner | None:
        return self.closer.planner

    @planner.setter
    def planner(self, planner: PayoutPlanner | None) -> None:
        self.closer.planner = planner

    # --- the chore --------------------------------------------------------------------

    async def run_once(self, now: float | None = None) -> TallyStep:
        """One tally step; once no tally is in the middle of a pass, the next period close."""
        step = await self.tally.run_once(now)
        self.closed_last = None
        if step is not TallyStep.BUSY:
            self.closed_last = await self.closer.run_once(now)
        return step

    def rest(self, now: float | None = None) -> float:
        """Seconds until there can be work: the next tally due, or the time a period becomes
        closable (its end plus ``close_delay``; a close also needs a tally past the end, which the
        tally's due time covers). Where the next tally's time is unknown (another satellite began
        it, or a step failed) the old fixed pace, half of min(tally interval, close delay); never
        longer than one tally interval."""
        t = time.time() if now is None else now
        fallback = min(self.config.tally_interval, max(1.0, self.config.close_delay)) / 2
        current = self.closer.current(t)
        close_due = current.start + self.config.close_delay  # the period that just ended
        if close_due <= t:
            close_due = current.end + self.config.close_delay
        due = self.tally.next_due if self.tally.next_due is not None and self.tally.next_due > t else t + fallback
        return min(max(min(due, close_due) - t, 0.05), self.config.tally_interval)

    async def run(self) -> None:
        while True:
            try:
                step = await self.run_once()
            except Exception:
                log.exception("accounting step failed")
                step = TallyStep.IDLE
                self.tally.next_due = None
                self.closed_last = None  # and rest before trying again
            # A period just closed: the next may be closable too (a satellite back from days
            # down closes its backlog at once, not one period per rest).
            if step is not TallyStep.BUSY and self.closed_last is None:
                await asyncio.sleep(self.rest())

    async def close(self) -> None:
        return None

    # --- views ------------------------------------------------------------------------

    def period(self, name: str | None) -> Period:
        if name is None:
            return self.closer.current()
        try:
            return Period.parse(name, self.config.period_seconds)
        except ValueError as e:
            raise InvalidArgument(str(e)) from None

    def _amounts(self, obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for n in names:
            units = int(getattr(obj, n))
            out[n] = self.prices.money(units)
            out[f"{n}_units"] = str(units)
        return out

    def paystub_json(self, p: Any, period: str) -> dict[str, Any]:
        out = {
            "period": period,
            "node_id": p.node_id,
            "byte_hours": p.byte_hours,
            "egress": {"get": p.egress, "repair": p.repair_egress, "audit": p.audit_egress},
            "age_month": p.age_month,
            "held_percent": p.held_percent,
            "note": p.note,
            **self._amounts(p, PAYSTUB_AMOUNTS),
            "to_pay_tokens": self.prices.tokens(p.to_pay),
            "settlement_state": getattr(p, "settlement_state", None),
            "tx_hash": getattr(p, "tx_hash", None),
        }
        if hasattr(p, "wallet"):
            out["wallet"] = p.wallet
        return out

    def period_json(self, row: Any) -> dict[str, Any]:
        amounts = self._amounts(
            row,
            (
                "gross",
                "held",
                "returned",
                "forfeited",
                "to_pay",
                "carried",
                "revenue",
                "credits",
                "reserve_in",
                "reserve_out",
            ),
        )
        # Margin: customer revenue less what operators earned (gross: held amounts are owed too)
        # and less the revenue share sent to the reserve fund (forfeits flow in, but are not revenue).
        margin = row.revenue - row.gross - (row.reserve_in - row.forfeited)
        return {
            "period": row.period,
            "start": row.start,
            "end": row.end,
            "closed_at": row.closed_at.isoformat(),
            "settlement": row.settlement,
            "nodes": row.nodes,
            "payees": row.payees,
            "byte_hours": row.byte_hours,
            **amounts,
            "margin": self.prices.money(margin),
            "margin_units": str(margin),
            "currency": self.config.currency,
        }

    def statement_json(self, st: Any, period: Period, tenant: dict[str, Any], *, estimate: bool) -> dict[str, Any]:
        return {
            "tenant": tenant,
            "period": period.id,
            "start": period.start,
            "end": period.end,
            "estimate": estimate,
            "currency": self.config.currency,
            "usage": {f: getattr(st, f) for f in STATEMENT_FIELDS},
            **self._amounts(st, STATEMENT_AMOUNTS),
            "rates": {
                "storage_per_tb_month": str(self.config.customer_storage_rate),
                "egress_per_tb": str(self.config.customer_egress_rate),
                "class_a_per_10k": str(self.config.customer_class_a_rate),
                "class_b_per_10k": str(self.config.customer_class_b_rate),
            },
        }

    @staticmethod
    def statement_csv(statement: dict[str, Any]) -> str:
        """One line per charge, for a spreadsheet: period, item, quantity, unit, amount."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["tenant", "period", "item", "quantity", "unit", f"amount_{statement['currency']}"])
        t, p, u = statement["tenant"]["name"], statement["period"], statement["usage"]
        w.writerow([t, p, "storage", u["byte_hours"], "byte-hours", statement["storage_charge"]])
        w.writerow([t, p, "egress", u["egress"], "bytes", statement["egress_charge"]])
        w.writerow(
            [
                t,
                p,
                "requests",
                u["class_a"] + u["class_b"],
                f"requests (class A {u['class_a']}, class B {u['class_b']})",
                statement["request_charge"],
            ]
        )
        credits = statement["credits"]
        for e in statement.get("credit_entries", []):
            w.writerow([t, p, f"credit: {e['reason']}", "", "", e["amount"]])
        w.writerow([t, p, "credits", "", "", credits if credits == "0" else "-" + credits])
        w.writerow([t, p, "total", "", "", statement["total"]])
        return buf.getvalue()

    async def statement(self, tenant: dict[str, Any], period_name: str | None) -> dict[str, Any]:
        """A closed period's stored statement, or the current (or an unclosed) period's estimate,
        with each credit of the period and its reason."""
        period = self.period(period_name)
        body = await self._statement(tenant, period)
        entries = await self.repo.credit_entries(tenant["id"])
        body["credit_entries"] = [self.reserve_entry_json(e) for e in entries if e.period == period.id]
        return body

    async def _statement(self, tenant: dict[str, Any], period: Period) -> dict[str, Any]:
        row = await self.repo.statement(period.id, tenant["id"])
        if row is not None:
            return self.statement_json(row, period, tenant, estimate=False)
        if await self.repo.period(period.id) is not None:  # closed, with nothing to bill
            return self.statement_json(
                compute_statement(self.prices, TenantUsage(tenant["id"])), period, tenant, estimate=False
            )
        async with self.repo.db.read() as s:
            usage = (await self.repo.tenant_usage(period, s, tenant["id"])).get(tenant["id"], TenantUsage(tenant["id"]))
            credits = (await self.repo.credits(period.id, s, tenant["id"])).get(tenant["id"], 0)
        return self.statement_json(compute_statement(self.prices, usage, credits), period, tenant, estimate=True)

    async def estimate(self, node_id: str, now: float | None = None) -> Paystub:
        """This period's paystub so far: the tallies and settled orders until now, priced."""
        period = self.closer.current(now)
        async with self.repo.db.read() as s:
            standing, _ = await self.repo.standing(s, [node_id])
        if node_id not in standing:
            raise NotFound(f"node {node_id[:16]}… has never checked in with this satellite")
        usage = (await self.repo.node_usage(period, node_id)).get(node_id)
        return compute_paystub(self.config, self.prices, usage or NodeUsage(node_id), standing[node_id], period)

    async def earnings(self, node_id: str, now: float | None = None) -> dict[str, Any]:
        """What the node API answers: this period's estimate, every paystub, the held total."""
        t = time.time() if now is None else now
        estimate = await self.estimate(node_id, t)
        period = self.closer.current(t)
        stubs = await self.repo.paystubs(node_id=node_id)
        account = await self.repo.node_account(node_id)
        held = account.held_balance if account else 0
        paid = sum(p.to_pay for p in stubs if p.settlement_state == "confirmed")
        # A rolled-over paystub's amount is owed in the next period's paystub, not pending twice.
        pending = sum(p.to_pay for p in stubs if p.settlement_state not in ("confirmed", ROLLED_OVER))
        return {
            "node_id": node_id,
            "currency": self.config.currency,
            "token": {
                "symbol": self.config.token_symbol,
                "decimals": self.config.token_decimals,
                "price": str(self.config.token_price),
            },
            "rates": {
                "storage_per_tb_month": str(self.config.storage_rate),
                "egress_per_tb": str(self.config.egress_rate),
                "repair_egress_per_tb": str(self.config.repair_egress_rate),
                "audit_egress_per_tb": str(self.config.audit_egress_rate),
            },
            "current_period": {**self.paystub_json(estimate, period.id), "start": period.start, "end": period.end},
            "paystubs": [self.paystub_json(p, p.period) for p in stubs],
            "held_total": self.prices.money(held),
            "held_total_units": str(held),
            # Paid: what settlement confirmed on chain; pending: closed periods' pay not yet confirmed.
            "paid_total": self.prices.money(paid),
            "paid_total_units": str(paid),
            "pending_total": self.prices.money(pending),
            "pending_total_units": str(pending),
        }

    async def reserve_json(self, limit: int = 100) -> dict[str, Any]:
        balance, entries = await self.repo.reserve(limit)
        return {
            "currency": self.config.currency,
            "balance": self.prices.money(balance),
            "balance_units": str(balance),
            "movements": [self.reserve_entry_json(e) for e in entries],
        }

    def reserve_entry_json(self, e: Any) -> dict[str, Any]:
        return {
            "id": e.id,
            "at": e.at.isoformat(),
            "period": e.period,
            "kind": e.kind,
            "amount": self.prices.money(e.amount),
            "amount_units": str(e.amount),
            "node_id": e.node_id,
            "tenant_id": e.tenant_id,
            "incident_id": e.incident_id,
            "reason": e.reason,
        }

    def incident_json(self, i: Any) -> dict[str, Any]:
        return {
            "id": i.id,
            "segment_id": i.segment_id,
            "tenant_id": i.tenant_id,
            "bucket": i.bucket,
            "key": i.key,
            "bytes": i.bytes,
            "healthy": i.healthy,
            "k": i.k,
            "credit": self.prices.money(i.credit),
            "credit_units": str(i.credit),
            "found_at": i.found_at.isoformat(),
        }
