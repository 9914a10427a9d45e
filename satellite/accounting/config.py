"""The economy's settings: rates, token, periods, held-back schedule; checked once at start.

Rates are in the network's currency (``currency``, USD by default) per TB-month stored and
per TB moved, TB = 10**12 bytes, a month = 720 hours (Storj's units). They become token base
units (``10**-token_decimals`` of a token) through ``token_price``, the currency value of one
whole token. Anything negative, absurd (above :data:`ABSURD_RATE` per TB) or inconsistent
(a customer price below what the operators it pays cost, a held schedule that rises with age)
raises :class:`AccountingConfigError` with a message naming the key, so a satellite with a
mistyped rate never starts rather than paying nonsense.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["ABSURD_RATE", "AccountingConfig", "AccountingConfigError"]

ABSURD_RATE = Decimal(1000)  # currency per TB (or TB-month): no real network charges or pays more

_RATE_KEYS = (
    "storage_rate",
    "egress_rate",
    "repair_egress_rate",
    "audit_egress_rate",
    "customer_storage_rate",
    "customer_egress_rate",
)


class AccountingConfigError(ValueError):
    """The accounting section of the satellite's config is wrong; the satellite must not start."""


def _decimal(key: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise AccountingConfigError(f"accounting.{key} must be a number, got {value!r}")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise AccountingConfigError(f"accounting.{key} must be a number, got {value!r}") from None
    if not d.is_finite():
        raise AccountingConfigError(f"accounting.{key} must be a finite number, got {value!r}")
    return d


@dataclass(frozen=True)
class AccountingConfig:
    # Periods: 0 = calendar months (UTC), else a fixed length in seconds (devnet: 30-120).
    period_seconds: int = 0
    tally_interval: float = 3600.0  # seconds between tallies of stored bytes
    tally_batch: int = 10_000  # segments per tally step (one transaction each)
    close_delay: float = 300.0  # seconds after a period ends before it is closed (late meter flushes)
    meter_flush_interval: float = 60.0  # seconds an API process keeps request counts before writing them
    order_settlement_window: int = 7 * 86400  # seconds after an order expires that it may still be settled
    # Operator rates, currency per TB-month stored and per TB of egress (Storj's).
    currency: str = "USD"
    storage_rate: Decimal = Decimal("1.50")
    egress_rate: Decimal = Decimal("2.00")
    repair_egress_rate: Decimal = Decimal("2.00")
    audit_egress_rate: Decimal = Decimal("2.00")
    # The token operators are paid in.
    token_symbol: str = "GSD"
    token_price: Decimal = Decimal("1.00")  # currency per whole token
    token_decimals: int = 18
    min_payout: Decimal = Decimal("1.00")  # currency; smaller amounts roll over to the next period
    # Held back by node age (Storj): (through month, percent held), then 0.
    held_schedule: tuple[tuple[int, int], ...] = ((3, 75), (6, 50), (9, 25))
    held_return_month: int = 15  # after this month of age ...
    held_return_percent: int = 50  # ... this share of the held balance is returned, once
    month_seconds: int = 30 * 86400  # the length of one month of node age
    # Customers: currency per TB-month, per TB egress, per 10,000 requests of each class.
    customer_storage_rate: Decimal = Decimal("4.00")
    customer_egress_rate: Decimal = Decimal("7.00")
    customer_class_a_rate: Decimal = Decimal("0.05")  # PUT, COPY, LIST, multipart
    customer_class_b_rate: Decimal = Decimal("0.004")  # GET, HEAD
    reserve_share: Decimal = Decimal("0.10")  # of customer revenue, into the reserve fund
    compensation_rate: Decimal = Decimal("50.00")  # currency credited per TB of data lost
    # Seconds after the satellite starts before lost segments become incidents: a satellite that
    # was down longer than its online window sees every node offline until they check in again.
    incident_grace: float = 900.0

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> AccountingConfig:
        """Parse the satellite config's ``accounting`` section and check it (see the module doc)."""
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise AccountingConfigError(
                f"unknown accounting config keys: {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.type in ("Decimal",):
                kwargs[f.name] = _decimal(f.name, value)
            elif f.name == "held_schedule":
                try:
                    kwargs[f.name] = tuple((int(m), int(p)) for m, p in value)
                except (TypeError, ValueError):
                    raise AccountingConfigError(
                        f"accounting.held_schedule must be a list of [through_month, percent], got {value!r}"
                    ) from None
            elif f.type in ("int", "float"):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise AccountingConfigError(f"accounting.{f.name} must be a number, got {value!r}")
                kwargs[f.name] = int(value) if f.type == "int" else float(value)
            else:
                kwargs[f.name] = str(value)
        config = cls(**kwargs)
        config.check()
        return config

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = (
                str(v) if isinstance(v, Decimal) else ([list(x) for x in v] if f.name == "held_schedule" else v)
            )
        return out

    def check(self) -> None:
        """Raise :class:`AccountingConfigError` for a negative, absurd or inconsistent setting."""
        for key in (*_RATE_KEYS, "customer_class_a_rate", "customer_class_b_rate", "min_payout", "compensation_rate"):
            v: Decimal = getattr(self, key)
            if v < 0:
                raise AccountingConfigError(f"accounting.{key} is negative ({v}); rates and amounts are >= 0")
        for key in _RATE_KEYS:
            v = getattr(self, key)
            if v > ABSURD_RATE:
                raise AccountingConfigError(
                    f"accounting.{key} = {v} {self.currency} per TB is absurd (limit {ABSURD_RATE}); "
                    "rates are per TB (10**12 bytes) or TB-month, not per byte or GB"
                )
        if self.compensation_rate > 100 * ABSURD_RATE:
            raise AccountingConfigError(f"accounting.compensation_rate = {self.compensation_rate} per TB is absurd")
        for key in ("customer_class_a_rate", "customer_class_b_rate"):
            if getattr(self, key) > ABSURD_RATE:
                raise AccountingConfigError(f"accounting.{key} is absurd (more than {ABSURD_RATE} per 10,000 requests)")
        if self.token_price <= 0:
            raise AccountingConfigError(
                f"accounting.token_price must be > 0 {self.currency} per token, got {self.token_price}"
            )
        if not 0 <= self.token_decimals <= 36:
            raise AccountingConfigError(f"accounting.token_decimals must be 0-36, got {self.token_decimals}")
        if not Decimal(0) <= self.reserve_share < Decimal(1):
            raise AccountingConfigError(f"accounting.reserve_share must be in [0, 1), got {self.reserve_share}")
        if self.period_seconds < 0 or (0 < self.period_seconds < 1):
            raise AccountingConfigError(
                f"accounting.period_seconds must be 0 (months) or >= 1, got {self.period_seconds}"
            )
        if self.tally_interval <= 0 or self.tally_batch <= 0 or self.month_seconds <= 0:
            raise AccountingConfigError("accounting.tally_interval, tally_batch and month_seconds must be > 0")
        if self.period_seconds and self.tally_interval > self.period_seconds:
            raise AccountingConfigError(
                f"accounting.tally_interval ({self.tally_interval}s) is longer than a period "
                f"({self.period_seconds}s): a period could close with no tally in it"
            )
        if self.incident_grace < 0:
            raise AccountingConfigError(f"accounting.incident_grace must be >= 0, got {self.incident_grace}")
        if self.close_delay < 0 or self.meter_flush_interval <= 0 or self.order_settlement_window < 0:
            raise AccountingConfigError(
                "accounting.close_delay, order_settlement_window must be >= 0, meter_flush_interval > 0"
            )
        if self.close_delay < self.meter_flush_interval:
            raise AccountingConfigError(
                f"accounting.close_delay ({self.close_delay}s) is shorter than meter_flush_interval "
                f"({self.meter_flush_interval}s): request counts of a closed period would be lost"
            )
        last_month, last_pct = 0, 100
        for month, pct in self.held_schedule:
            if month <= last_month or not 0 <= pct <= 100 or pct > last_pct:
                raise AccountingConfigError(
                    f"accounting.held_schedule {[list(x) for x in self.held_schedule]} is inconsistent: months must "
                    "rise and held percentages (0-100) must not rise with age"
                )
            last_month, last_pct = month, pct
        if not 0 <= self.held_return_percent <= 100 or self.held_return_month < last_month:
            raise AccountingConfigError(
                f"accounting.held_return_month ({self.held_return_month}) must be after the held schedule ends "
                f"(month {last_month}) and held_return_percent 0-100"
            )
        if self.customer_storage_rate < self.storage_rate or self.customer_egress_rate < self.egress_rate:
            raise AccountingConfigError(
                f"customer rates ({self.customer_storage_rate}/TB-month, {self.customer_egress_rate}/TB) are below "
                f"what operators are paid ({self.storage_rate}, {self.egress_rate}): the network would pay its "
                "operators from nothing; fee revenue, not emissions, pays operators"
            )
