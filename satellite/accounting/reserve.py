"""The reserve fund: what the network owes customers for data it lost, and where that comes from.

Inflows: a share of each period's customer revenue, and the held-back earnings that
disqualified nodes forfeit. Outflows: credits to tenants. When the repair checker finds a
segment with fewer than ``k`` healthy pieces it calls :meth:`Compensation.segments_lost`
(ignored for ``incident_grace`` after the satellite starts, while nodes check in again);
each lost segment becomes one data-loss incident (tenant, bucket, key, bytes) — once, however
many checker passes see it — and a credit of ``compensation_rate`` per TB lost, in the same
transaction. An admin may also credit a tenant by hand, with a reason. Credits are shown on
the tenant's statement of the period they were given in. The balance may go below zero: the
promise to a customer does not wait for the fund to fill; a negative balance is the network
operator's debt to the fund, shown as such.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from satellite.db.accounting import AccountingRepository
from satellite.db.accounting_models import DataLossIncident, ReserveEntry
from satellite.errors import InvalidArgument

from .config import AccountingConfig
from .pricing import Period, Prices

__all__ = ["Compensation", "LostSegmentReport"]

log = logging.getLogger(__name__)

LostSegmentReport = tuple[int, int, int]  # (segment id, healthy pieces, k)


class Compensation:
    def __init__(self, repo: AccountingRepository, config: AccountingConfig, prices: Prices) -> None:
        self.repo = repo
        self.config = config
        self.prices = prices
        self.started = time.monotonic()

    def _period(self) -> str:
        return Period.at(time.time(), self.config.period_seconds).id

    async def segments_lost(self, reports: Sequence[LostSegmentReport]) -> int:
        """Record an incident and credit for each newly lost segment; how many were new."""
        if not reports:
            return 0
        if time.monotonic() - self.started < self.config.incident_grace:
            # Just started: nodes that are fine may not have checked in yet. The checker's next
            # pass after the grace reports what is still lost.
            log.info("%d segments look lost %.0fs after start; not recorded before %.0fs", len(reports),
                     time.monotonic() - self.started, self.config.incident_grace)  # fmt: skip
            return 0
        by_id = {sid: (healthy, k) for sid, healthy, k in reports}
        new = 0
        for lost in await self.repo.lost_segments(list(by_id)):
            healthy, k = by_id[lost.segment_id]
            amount = int(lost.bytes * self.prices.compensation)
            now = dt.datetime.now(dt.UTC)
            incident = DataLossIncident(
                segment_id=lost.segment_id,
                tenant_id=lost.tenant_id,
                bucket=lost.bucket,
                key=lost.key,
                bytes=lost.bytes,
                healthy=healthy,
                k=k,
                credit=amount,
                found_at=now,
            )
            period = self._period()

            def credit(incident_id: int, lost=lost, amount=amount, period=period, now=now) -> ReserveEntry:
                return ReserveEntry(
                    at=now,
                    period=period,
                    kind="incident_credit",
                    amount=-amount,
                    tenant_id=lost.tenant_id,
                    incident_id=incident_id,
                    reason=f"data lost: s3://{lost.bucket}/{lost.key} segment {lost.segment_id}, {lost.bytes} bytes",
                )

            if await self.repo.record_incident(incident, credit):
                new += 1
                log.warning(
                    "data-loss incident: tenant %s lost %d bytes of s3://%s/%s (segment %d, %d of %d "
                    "pieces healthy); credited %s %s",
                    lost.tenant_id,
                    lost.bytes,
                    lost.bucket,
                    lost.key,
                    lost.segment_id,
                    healthy,
                    k,
                    self.prices.money(amount),
                    self.config.currency,
                )
        return new

    async def credit_by_hand(self, tenant_id: str, amount: object, reason: object) -> ReserveEntry:
        """An admin's credit of ``amount`` (currency, a decimal string) to a tenant, with a reason."""
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidArgument("a credit needs a reason (what the customer is compensated for)")
        try:
            value = Decimal(str(amount)) if isinstance(amount, str | int) and not isinstance(amount, bool) else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value <= 0:
            raise InvalidArgument(f"amount must be a positive decimal number of {self.config.currency}, got {amount!r}")
        units = self.prices.from_currency(value)
        if units <= 0:
            raise InvalidArgument(f"amount {value} {self.config.currency} is less than one token base unit")
        entry = ReserveEntry(
            at=dt.datetime.now(dt.UTC),
            period=self._period(),
            kind="manual_credit",
            amount=-units,
            tenant_id=tenant_id,
            reason=reason.strip()[:500],
        )
        return await self.repo.credit(entry)
