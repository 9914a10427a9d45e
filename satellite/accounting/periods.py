"""Closing a period: price every node's usage into a paystub, every tenant's into a statement.

A period closes once, after it ended (plus ``close_delay`` for late meter flushes) and
after a tally has covered its end, in one transaction that writes the period's row first:
a second close, by a retry or by another satellite process, finds the row and changes
nothing (:class:`~satellite.db.accounting.PeriodAlreadyClosed`). The transaction writes the
paystubs, the nodes' running held and carried balances, the statements and the reserve
fund's inflows (the revenue share, forfeited held amounts).

Then what is to be paid is handed to settlement (:class:`~satellite.payouts.PayoutPlanner`),
whose ``plan_period`` is idempotent; until one is connected the period stays
``awaiting_settlement`` and the next pass offers it again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from satellite.db.accounting import AccountingRepository, CloseInputs, CloseResult, PeriodAlreadyClosed
from satellite.db.accounting_models import AccountingPeriod, ReserveEntry
from satellite.payouts import Payee, PayoutPlanner

from .config import AccountingConfig
from .pricing import NodeUsage, Period, Prices, TenantUsage, compute_paystub, compute_statement

__all__ = ["PeriodAlreadyClosed", "PeriodCloser", "PeriodNotOver", "build_close"]

log = logging.getLogger(__name__)


class PeriodNotOver(Exception):
    """A period cannot close before it ended and a tally covered its end."""


def build_close(config: AccountingConfig, prices: Prices, period: Period, inputs: CloseInputs) -> CloseResult:
    """The pure half of a close: paystubs, statements, reserve movements and totals."""
    at = dt.datetime.now(dt.UTC)
    node_ids = set(inputs.usage) | {n for n, st in inputs.standing.items() if st.held_balance or st.carried}
    paystubs = []
    for n in sorted(node_ids):
        standing = inputs.standing.get(n)
        if standing is None:  # pieces of a node row since deleted: nothing to pay it with
            continue
        paystubs.append(compute_paystub(config, prices, inputs.usage.get(n, NodeUsage(n)), standing, period))
    tenant_ids = set(inputs.tenants) | set(inputs.credits)
    statements = [
        compute_statement(prices, inputs.tenants.get(t, TenantUsage(t)), inputs.credits.get(t, 0))
        for t in sorted(tenant_ids)
    ]
    reserve = [
        ReserveEntry(at=at, period=period.id, kind="held_forfeit", amount=p.forfeited, node_id=p.node_id, reason=p.note)
        for p in paystubs
        if p.forfeited
    ]
    share = sum(st.reserve_share for st in statements)
    if share:
        reserve.append(
            ReserveEntry(
                at=at,
                period=period.id,
                kind="revenue_share",
                amount=share,
                reason=f"{config.reserve_share} of the period's customer revenue",
            )
        )
    row = AccountingPeriod(
        period=period.id,
        start=period.start,
        end=period.end,
        closed_at=at,
        settlement="awaiting_settlement",
        nodes=len(paystubs),
        payees=sum(1 for p in paystubs if p.to_pay > 0),
        byte_hours=sum(p.byte_hours for p in paystubs),
        gross=sum(p.gross for p in paystubs),
        held=sum(p.held for p in paystubs),
        returned=sum(p.returned for p in paystubs),
        forfeited=sum(p.forfeited for p in paystubs),
        to_pay=sum(p.to_pay for p in paystubs),
        carried=sum(p.carried_out for p in paystubs),
        revenue=sum(st.revenue for st in statements),
        credits=sum(inputs.credits.values()),
        reserve_in=sum(e.amount for e in reserve),
        reserve_out=sum(inputs.credits.values()),
    )
    return CloseResult(paystubs, statements, reserve, row)


class PeriodCloser:
    """Closes ended periods and hands their payouts to settlement (when it is connected)."""

    def __init__(
        self, repo: AccountingRepository, config: AccountingConfig, planner: PayoutPlanner | None = None
    ) -> None:
        self.repo = repo
        self.config = config
        self.prices = Prices.from_config(config)
        self.planner = planner

    def current(self, now: float | None = None) -> Period:
        return Period.at(time.time() if now is None else now, self.config.period_seconds)

    async def closable(self, now: float | None = None) -> Period | None:
        """The oldest ended period not yet closed, once a tally covered its end; else None."""
        t = time.time() if now is None else now
        last_tally = await self.repo.last_tally_end()
        if last_tally is None:
            return None
        latest = await self.repo.latest_period()
        if latest is not None:
            candidate = Period.parse(latest, self.config.period_seconds).next(self.config.period_seconds)
        else:  # nothing closed yet: the period of the first tally
            candidate = Period.at(await self.repo.first_tally_start() or last_tally, self.config.period_seconds)
        if candidate.end + self.config.close_delay > t or last_tally < candidate.end:
            return None
        return candidate

    async def close(self, period: Period, now: float | None = None) -> CloseResult:
        t = time.time() if now is None else now
        if await self.repo.period(period.id) is not None:  # said first: it is the answer that matters
            raise PeriodAlreadyClosed(f"period {period.id} is already closed; its ledgers are final")
        if period.end > t:
            raise PeriodNotOver(
                f"period {period.id} ends at {dt.datetime.fromtimestamp(period.end, dt.UTC).isoformat()}; "
                "it cannot be closed before then"
            )
        last = await self.repo.last_tally_end()
        if last is None or last < period.end:
            raise PeriodNotOver(f"no tally has covered the end of period {period.id} yet; wait for the next tally")
        result = await self.repo.close_period(period, lambda i: build_close(self.config, self.prices, period, i))
        row = result.period_row
        log.info(
            "period %s closed: %d nodes, %d payees, to pay %s, revenue %s %s",
            period.id,
            row.nodes,
            row.payees,
            self.prices.money(row.to_pay),
            self.prices.money(row.revenue),
            self.config.currency,
        )
        await self.hand_on(period.id)
        return result

    async def hand_on(self, period: str) -> bool:
        """Give the period's payees to settlement; False (and a log line) while none is connected."""
        if self.planner is None:
            log.info("period %s is closed and awaiting settlement: no payout planner is connected", period)
            return False
        stubs = await self.repo.paystubs(period=period)
        await self.planner.plan_period(period, [Payee(p.node_id, p.wallet, p.to_pay) for p in stubs if p.to_pay > 0])
        await self.repo.mark_planned(period)
        return True

    async def run_once(self, now: float | None = None) -> str | None:
        """Close the next closable period, or re-offer one awaiting settlement; what it did."""
        if self.planner is not None:
            for row in reversed(await self.repo.periods(settlement="awaiting_settlement")):  # oldest first
                await self.hand_on(row.period)
        period = await self.closable(now)
        if period is None:
            return None
        try:
            await self.close(period, now)
        except PeriodAlreadyClosed:  # another satellite process closed it first
            return None
        return period.id
