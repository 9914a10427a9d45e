"""The payout service: what accounting calls (:class:`~satellite.payouts.types.PayoutPlanner`)
and what the admin API reads back about settlement."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Sequence

from .store import Batch, PayoutStore, PeriodSummary
from .types import Payee
from .wallets import checksum_address

__all__ = ["PayoutService"]

_PERIOD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_MAX_AMOUNT = 2**256 - 1


def validate_payees(period: str, payees: Sequence[Payee]) -> list[Payee]:
    """The payees normalised (EIP-55 wallets), or :class:`ValueError` naming the first bad one."""
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise ValueError(f"invalid period id {period!r}: 1–64 letters, digits, '.', '_', ':' or '-'")
    seen: set[str] = set()
    out: list[Payee] = []
    for p in payees:
        if not isinstance(p, Payee):
            raise ValueError(f"period {period}: not a Payee: {p!r}")
        if not isinstance(p.node_id, str) or not 0 < len(p.node_id) <= 64:
            raise ValueError(f"period {period}: invalid node id {p.node_id!r}")
        if p.node_id in seen:
            raise ValueError(f"period {period}: node {p.node_id} is listed twice")
        seen.add(p.node_id)
        if isinstance(p.amount, bool) or not isinstance(p.amount, int) or not 0 < p.amount <= _MAX_AMOUNT:
            raise ValueError(f"period {period}: node {p.node_id}: amount must be a positive integer, not {p.amount!r}")
        try:
            wallet = checksum_address(p.wallet)
        except ValueError as e:
            raise ValueError(f"period {period}: node {p.node_id}: {e}") from None
        out.append(Payee(p.node_id, wallet, p.amount))
    return out


class PayoutService:
    """Implements ``PayoutPlanner`` over a :class:`PayoutStore`; usable with a list of payees directly."""

    def __init__(
        self, store: PayoutStore, clock: Callable[[], float] = time.time, on_planned: Callable[[], None] = lambda: None
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_planned = on_planned  # the settlement worker's wake-up

    async def plan_period(self, period: str, payees: Sequence[Payee]) -> None:
        """Record ``payees`` as ``period``'s payouts, once; a period planned before is left as it is.

        Bad input (a malformed period id, a wallet with a bad checksum, a non-positive amount, a
        node listed twice) raises :class:`ValueError` and stores nothing.
        """
        if await self.store.has_period(period):
            return
        clean = validate_payees(period, payees)
        await self.store.plan(period, clean, dt.datetime.fromtimestamp(self.clock(), dt.UTC))
        self.on_planned()

    async def periods(self) -> list[PeriodSummary]:
        return await self.store.periods()

    async def batches(self, period: str | None = None) -> list[Batch]:
        return await self.store.batches(period)

    async def rolled_over(self, period: str) -> list[Payee]:
        """Payees of ``period`` not paid because their fee would eat too much: accounting carries them."""
        return await self.store.rolled_over(period)
