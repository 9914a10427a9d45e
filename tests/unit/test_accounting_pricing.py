"""The economy's arithmetic without a database: rates checked at start, periods, the held-back
schedule, paystubs and statements, exactly in token base units."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from satellite.accounting import AccountingConfig, AccountingConfigError, Period, Prices
from satellite.accounting.pricing import (
    NodeStanding,
    NodeUsage,
    TenantUsage,
    compute_paystub,
    compute_statement,
    held_percent,
)

MONTH = 30 * 86400
PERIOD = Period.parse("2026-12", 0)


def test_production_defaults_are_storjs_rates_and_schedule() -> None:
    c = AccountingConfig.from_dict({})
    assert (c.storage_rate, c.egress_rate, c.repair_egress_rate, c.audit_egress_rate) == (
        Decimal("1.50"), Decimal("2.00"), Decimal("2.00"), Decimal("2.00"))  # fmt: skip
    assert [held_percent(c, m) for m in (1, 3, 4, 6, 7, 9, 10, 15)] == [75, 75, 50, 50, 25, 25, 0, 0]
    assert c.period_seconds == 0 and Period.at(PERIOD.start + 5, 0) == PERIOD


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        ({"storage_rate": "-1"}, "negative"),
        ({"egress_rate": -0.5}, "negative"),
        ({"storage_rate": "1500"}, "absurd"),
        ({"audit_egress_rate": "1e9"}, "absurd"),
        ({"storage_rate": "nan"}, "finite"),
        ({"storage_rate": "one fifty"}, "must be a number"),
        ({"token_price": "0"}, "token_price"),
        ({"token_decimals": 99}, "token_decimals"),
        ({"reserve_share": "1.5"}, "reserve_share"),
        ({"customer_storage_rate": "1.00"}, "below what operators are paid"),
        ({"held_schedule": [[3, 25], [6, 50]]}, "inconsistent"),
        ({"held_return_month": 5}, "after the held schedule"),
        ({"period_seconds": 10, "tally_interval": 60}, "longer than a period"),
        ({"close_delay": 1, "meter_flush_interval": 60}, "close_delay"),
        ({"storage_rat": "1.5"}, "unknown accounting config keys"),
    ],
)
def test_bad_rates_stop_the_satellite_with_a_message_naming_the_setting(setting: dict, words: str) -> None:
    with pytest.raises(AccountingConfigError, match=words):
        AccountingConfig.from_dict(setting)


def test_satellite_refuses_to_start_with_a_negative_rate(tmp_path) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    from satellite.config import SatelliteConfig, save_config

    config = SatelliteConfig.for_tests(str(tmp_path), accounting={"storage_rate": "-1.5"})
    save_config(config, tmp_path / "satellite.json")
    geoshard = Path(sys.executable).with_name("geoshard")
    run = subprocess.run([str(geoshard), "satellite", "run", "--config", str(tmp_path / "satellite.json")],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "accounting.storage_rate is negative" in run.stderr
    assert json.loads((tmp_path / "satellite.json").read_text())["accounting"]["storage_rate"] == "-1.5"


def test_periods_are_calendar_months_or_fixed_seconds_and_parse_back() -> None:
    assert Period.parse("2026-02", 0).end - Period.parse("2026-02", 0).start == 28 * 86400
    assert Period.parse("2026-12", 0).next(0).id == "2027-01"
    p = Period.at(1_800_000_007, 10)
    assert (p.start, p.end) == (1_800_000_000, 1_800_000_010) and Period.parse(p.id, 10) == p
    for bad, secs in (("2026-13", 0), ("december", 0), ("20261201T000005", 10)):
        with pytest.raises(ValueError):
            Period.parse(bad, secs)


def test_rates_convert_to_token_base_units_through_price_and_decimals() -> None:
    prices = Prices.from_config(AccountingConfig.from_dict({"token_price": "0.25", "token_decimals": 6}))
    # $1.50 per TB-month at $0.25 a token = 6 tokens = 6e6 base units per 1e12 bytes × 720 hours.
    assert prices.storage == Fraction(6 * 10**6, 10**12 * 720)
    assert prices.money(4 * 10**6) == "1"  # four tokens are one dollar
    assert prices.tokens(1_234_500) == "1.2345"


def _stub(age_months: float, **standing: object):
    c = AccountingConfig.from_dict({"min_payout": "0"})
    prices = Prices.from_config(c)
    usage = NodeUsage("n", byte_hours=10**12 * 720)  # one TB for one month: $1.50 gross
    st = NodeStanding(created_at=PERIOD.end - age_months * MONTH, wallet_ok=True, disqualified=False, exited=False)
    st = _replace(st, standing)
    return compute_paystub(c, prices, usage, st, PERIOD)


def _replace(st: NodeStanding, changes: dict) -> NodeStanding:
    import dataclasses

    return dataclasses.replace(st, **changes)


def test_held_back_follows_node_age_and_half_is_returned_after_month_15() -> None:
    dollar = 10**18
    young = _stub(0.5)
    assert (young.gross, young.held, young.to_pay) == (dollar * 3 // 2, dollar * 3 // 2 * 75 // 100, dollar * 3 // 8)
    assert _stub(4.5).held_percent == 50 and _stub(8.5).held_percent == 25 and _stub(9.5).held == 0
    old = _stub(15.5, held_balance=1000)
    assert old.returned == 500 and old.held_balance == 500 and old.half_returned
    again = _stub(16.5, held_balance=500, half_returned=True)
    assert again.returned == 0 and again.held_balance == 500


def test_exit_returns_all_held_and_disqualification_forfeits_it() -> None:
    exited = _stub(2.5, held_balance=7000, exited=True)
    assert exited.returned == 7000 + exited.held and exited.held_balance == 0 and exited.closed_out
    dq = _stub(2.5, held_balance=7000, disqualified=True)
    assert dq.forfeited == 7000 + dq.held and dq.returned == 0 and dq.to_pay == dq.gross - dq.held


def test_small_amounts_and_nodes_without_a_wallet_roll_over() -> None:
    c = AccountingConfig.from_dict({"min_payout": "5.00"})
    prices = Prices.from_config(c)
    st = NodeStanding(created_at=PERIOD.start - 20 * MONTH, wallet_ok=True, disqualified=False, exited=False,
                      carried=10**18)  # fmt: skip
    small = compute_paystub(c, prices, NodeUsage("n", byte_hours=10**12 * 720), st, PERIOD)
    assert small.to_pay == 0 and small.carried_out == 10**18 * 5 // 2  # $1 carried in + $1.50 earned
    big = compute_paystub(c, prices, NodeUsage("n", byte_hours=10**12 * 720 * 4), st, PERIOD)
    assert big.to_pay == 7 * 10**18 and big.carried_out == 0
    no_wallet = compute_paystub(c, prices, NodeUsage("n", byte_hours=10**12 * 720 * 4),
                                _replace(st, {"wallet_ok": False}), PERIOD)  # fmt: skip
    assert no_wallet.to_pay == 0 and no_wallet.carried_out == 7 * 10**18


def test_a_statement_prices_storage_egress_and_requests_and_subtracts_credits() -> None:
    prices = Prices.from_config(AccountingConfig.from_dict({}))
    usage = TenantUsage("t", byte_hours=10**12 * 720, egress=10**12, class_a=10_000, class_b=20_000)
    st = compute_statement(prices, usage, credits=10**18)
    d = 10**18
    assert (st.storage_charge, st.egress_charge) == (4 * d, 7 * d)
    assert st.request_charge == int(Fraction("0.05") * d + 2 * Fraction("0.004") * d)
    assert st.revenue == 11 * d + st.request_charge and st.total == st.revenue - d
    assert st.reserve_share == st.revenue // 10
