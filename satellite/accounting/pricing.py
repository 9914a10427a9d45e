"""Periods, prices and paystubs: the economy's arithmetic, pure and exact.

**Units.** Every amount is an ``int`` of token base units (``10**-decimals`` of one token):
what settlement pays and what the ledgers store. A rate in currency per TB-month becomes a
:class:`fractions.Fraction` of base units per byte-hour, and an amount is the floor of
usage × rate, so nothing is lost to floating point and rounding always favours the payer by
less than one base unit per line.

**Periods.** Production periods are calendar months (UTC), named ``2026-12``; a devnet sets
``period_seconds`` and gets periods named by their UTC start, ``20261201T104500``.

**A paystub** (Storj's model): gross = storage + egress + repair egress + audit egress;
``held`` = gross × the node's held percentage for its age in months (75 % in months 1-3,
50 % 4-6, 25 % 7-9, then 0); after month 15 half of the held balance is returned once; a
completed graceful exit returns all of it; a disqualified node forfeits its held balance to
the reserve fund. ``to_pay`` = gross − held + returned + carried in; below the minimum
payout, or with no valid wallet, it is carried to the next period instead.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from .config import AccountingConfig

__all__ = [
    "HOURS_PER_MONTH",
    "TB",
    "NodeStanding",
    "NodeUsage",
    "Paystub",
    "Period",
    "Prices",
    "Statement",
    "TenantUsage",
    "compute_paystub",
    "compute_statement",
]

TB = 10**12
HOURS_PER_MONTH = 720

_MONTH_ID = re.compile(r"^(\d{4})-(\d{2})$")
_SECONDS_ID = re.compile(r"^\d{8}T\d{6}$")


@dataclass(frozen=True, slots=True)
class Period:
    """One accounting period: ``[start, end)`` in unix seconds, named by ``id``."""

    id: str
    start: int
    end: int

    @classmethod
    def at(cls, t: float, period_seconds: int) -> Period:
        """The period containing unix time ``t``."""
        if period_seconds:
            start = int(t) // period_seconds * period_seconds
            name = dt.datetime.fromtimestamp(start, dt.UTC).strftime("%Y%m%dT%H%M%S")
            return cls(name, start, start + period_seconds)
        d = dt.datetime.fromtimestamp(int(t), dt.UTC)
        return cls._month(d.year, d.month)

    @classmethod
    def _month(cls, year: int, month: int) -> Period:
        start = calendar.timegm((year, month, 1, 0, 0, 0))
        ny, nm = (year + 1, 1) if month == 12 else (year, month + 1)
        return cls(f"{year:04d}-{month:02d}", start, calendar.timegm((ny, nm, 1, 0, 0, 0)))

    @classmethod
    def parse(cls, name: str, period_seconds: int) -> Period:
        """The period called ``name``; ``ValueError`` naming the expected form otherwise."""
        if period_seconds:
            if not _SECONDS_ID.match(name):
                raise ValueError(f"period {name!r} is not of the form YYYYMMDDTHHMMSS (periods are {period_seconds}s)")
            start = calendar.timegm(dt.datetime.strptime(name, "%Y%m%dT%H%M%S").timetuple())
            p = cls.at(start, period_seconds)
            if p.start != start:
                raise ValueError(f"period {name!r} does not start on a {period_seconds}s boundary")
            return p
        m = _MONTH_ID.match(name)
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"period {name!r} is not of the form YYYY-MM (periods are calendar months)")
        return cls._month(int(m.group(1)), int(m.group(2)))

    def next(self, period_seconds: int) -> Period:
        return Period.at(self.end, period_seconds)

    def previous(self, period_seconds: int) -> Period:
        return Period.at(self.start - 1, period_seconds)


@dataclass(frozen=True)
class Prices:
    """Rates as exact fractions of token base units per byte-hour, per byte, per request."""

    storage: Fraction
    egress: Fraction
    repair_egress: Fraction
    audit_egress: Fraction
    customer_storage: Fraction
    customer_egress: Fraction
    customer_class_a: Fraction
    customer_class_b: Fraction
    reserve_share: Fraction
    compensation: Fraction  # per byte lost
    min_payout: int
    unit: Fraction  # base units per currency unit
    decimals: int

    @classmethod
    def from_config(cls, c: AccountingConfig) -> Prices:
        unit = Fraction(10**c.token_decimals) / Fraction(c.token_price)

        def per_byte_hour(rate: Decimal) -> Fraction:
            return Fraction(rate) * unit / (TB * HOURS_PER_MONTH)

        def per_byte(rate: Decimal) -> Fraction:
            return Fraction(rate) * unit / TB

        return cls(
            storage=per_byte_hour(c.storage_rate),
            egress=per_byte(c.egress_rate),
            repair_egress=per_byte(c.repair_egress_rate),
            audit_egress=per_byte(c.audit_egress_rate),
            customer_storage=per_byte_hour(c.customer_storage_rate),
            customer_egress=per_byte(c.customer_egress_rate),
            customer_class_a=Fraction(c.customer_class_a_rate) * unit / 10_000,
            customer_class_b=Fraction(c.customer_class_b_rate) * unit / 10_000,
            reserve_share=Fraction(c.reserve_share),
            compensation=per_byte(c.compensation_rate),
            min_payout=int(Fraction(c.min_payout) * unit),
            unit=unit,
            decimals=c.token_decimals,
        )

    def to_currency(self, units: int) -> Decimal:
        """Base units as currency (exact to 18 places, then trailing zeros dropped)."""
        value = Fraction(units) / self.unit
        with localcontext() as ctx:
            ctx.prec = 80
            return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("1e-18")).normalize()

    def money(self, units: int) -> str:
        """Base units as a plain currency string (``"0.0125"``, never exponent notation)."""
        return format(self.to_currency(units), "f")

    def from_currency(self, amount: Decimal) -> int:
        return int(Fraction(amount) * self.unit)

    def tokens(self, units: int) -> str:
        """Base units as whole tokens, exactly, for people to read."""
        whole, frac = divmod(abs(units), 10**self.decimals)
        text = f"{whole}.{frac:0{self.decimals}d}".rstrip("0").rstrip(".") if self.decimals else str(whole)
        return ("-" if units < 0 else "") + text


def held_percent(config: AccountingConfig, age_month: int) -> int:
    for through, pct in config.held_schedule:
        if age_month <= through:
            return pct
    return 0


def age_month(created_at: float, at: float, month_seconds: int) -> int:
    """Month 1 is a node's first ``month_seconds`` after it first checked in."""
    return max(0, int(at - created_at)) // month_seconds + 1


@dataclass(frozen=True, slots=True)
class NodeUsage:
    node_id: str
    byte_hours: int = 0
    egress: int = 0
    repair_egress: int = 0
    audit_egress: int = 0


@dataclass(frozen=True, slots=True)
class NodeStanding:
    """What the satellite knows of a node at period close, and its running held/carried balance."""

    created_at: float
    wallet_ok: bool
    disqualified: bool
    exited: bool  # graceful_exits.status = 'exited'
    held_balance: int = 0
    carried: int = 0
    half_returned: bool = False
    closed_out: bool = False  # held balance already settled by an exit or forfeited


@dataclass(frozen=True)
class Paystub:
    node_id: str
    byte_hours: int
    egress: int
    repair_egress: int
    audit_egress: int
    age_month: int
    held_percent: int
    storage_amount: int
    egress_amount: int
    repair_amount: int
    audit_amount: int
    gross: int
    held: int
    returned: int
    forfeited: int
    carried_in: int
    to_pay: int
    carried_out: int
    held_balance: int  # after this period
    half_returned: bool
    closed_out: bool
    note: str


def compute_paystub(
    config: AccountingConfig, prices: Prices, usage: NodeUsage, standing: NodeStanding, period: Period
) -> Paystub:
    storage = int(usage.byte_hours * prices.storage)
    egress = int(usage.egress * prices.egress)
    repair = int(usage.repair_egress * prices.repair_egress)
    audit = int(usage.audit_egress * prices.audit_egress)
    gross = storage + egress + repair + audit
    month = age_month(standing.created_at, period.end, config.month_seconds)
    pct = held_percent(config, month)
    held = gross * pct // 100
    balance = standing.held_balance + held
    returned = forfeited = 0
    half_returned, closed_out = standing.half_returned, standing.closed_out
    notes = []
    if standing.closed_out:
        # Exited or disqualified earlier: nothing more is held (earnings, if any, are paid whole).
        balance, held = standing.held_balance, 0
    elif standing.disqualified:
        forfeited, balance, closed_out = balance, 0, True
        notes.append("disqualified: held balance forfeited to the reserve fund")
    elif standing.exited:
        returned, balance, closed_out = balance, 0, True
        notes.append("graceful exit completed: held balance returned")
    elif month > config.held_return_month and not half_returned:
        returned = standing.held_balance * config.held_return_percent // 100
        balance -= returned
        half_returned = True
        notes.append(f"month {month}: {config.held_return_percent}% of the held balance returned")
    amount = gross - held + returned + standing.carried
    if not standing.wallet_ok and amount > 0:
        to_pay, carried_out = 0, amount
        notes.append("no valid wallet: carried to the next period")
    elif 0 < amount < prices.min_payout:
        to_pay, carried_out = 0, amount
        notes.append("below the minimum payout: carried to the next period")
    else:
        to_pay, carried_out = amount, 0
    return Paystub(
        node_id=usage.node_id,
        byte_hours=usage.byte_hours,
        egress=usage.egress,
        repair_egress=usage.repair_egress,
        audit_egress=usage.audit_egress,
        age_month=month,
        held_percent=pct,
        storage_amount=storage,
        egress_amount=egress,
        repair_amount=repair,
        audit_amount=audit,
        gross=gross,
        held=held,
        returned=returned,
        forfeited=forfeited,
        carried_in=standing.carried,
        to_pay=to_pay,
        carried_out=carried_out,
        held_balance=balance,
        half_returned=half_returned,
        closed_out=closed_out,
        note="; ".join(notes),
    )


@dataclass(frozen=True, slots=True)
class TenantUsage:
    tenant_id: str
    byte_hours: int = 0
    egress: int = 0
    class_a: int = 0
    class_b: int = 0


@dataclass(frozen=True)
class Statement:
    tenant_id: str
    byte_hours: int
    egress: int
    class_a: int
    class_b: int
    storage_charge: int
    egress_charge: int
    request_charge: int
    revenue: int  # before credits
    credits: int  # >= 0, subtracted
    total: int  # what the customer owes (never below 0)
    reserve_share: int  # of revenue, into the reserve fund


def compute_statement(prices: Prices, usage: TenantUsage, credits: int = 0) -> Statement:
    storage = int(usage.byte_hours * prices.customer_storage)
    egress = int(usage.egress * prices.customer_egress)
    requests = int(usage.class_a * prices.customer_class_a + usage.class_b * prices.customer_class_b)
    revenue = storage + egress + requests
    return Statement(
        tenant_id=usage.tenant_id,
        byte_hours=usage.byte_hours,
        egress=usage.egress,
        class_a=usage.class_a,
        class_b=usage.class_b,
        storage_charge=storage,
        egress_charge=egress,
        request_charge=requests,
        revenue=revenue,
        credits=credits,
        total=max(0, revenue - credits),
        reserve_share=int(revenue * prices.reserve_share),
    )
