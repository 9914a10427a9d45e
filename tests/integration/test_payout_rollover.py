"""A payout too small for its fee is rolled over by settlement and paid, once, in the next period.

The satellite is wired as ``satellite/peer.py`` wires it (accounting hands closed periods to
settlement; settlement tells accounting what it rolled over and what it confirmed) over a real
database (SQLite and PostgreSQL) and the satellite's own in-process chain. The network's
metadata is written directly (tests/accounting_fixtures.py), the accounting clock is moved by
the test, and the proof is each node wallet's token balance on chain.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

from eth_account import Account
from sqlalchemy import select, update

from common.identity import Identity
from common.messages import now
from satellite.accounting import Period
from satellite.config import SatelliteConfig
from satellite.db.accounting_models import NodeAccount
from satellite.db.models import Node
from satellite.payouts import BatchState, SettlementWorker, StepResult
from satellite.peer import Satellite
from tests.accounting_fixtures import seed_network
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

HOUR = 3600
ACCOUNTING = {"period_seconds": HOUR, "tally_interval": 60, "close_delay": 5, "meter_flush_interval": 1,
              "min_payout": "0", "month_seconds": 30 * 86400, "order_settlement_window": 600}  # fmt: skip
START = Period.at(now() - 10 * HOUR, HOUR).start  # hours well in the past: the test moves the clock


async def _tally_hour(sat: Satellite, start: int) -> None:
    """Tallies that cover ``[start, start + 1h]`` exactly (the first one begins the series at ``start``)."""
    for t in (start + 60, start + HOUR // 2, start + HOUR):
        await sat.accounting.tally.tally(now=t)


async def _close(sat: Satellite, period: Period) -> None:
    assert await sat.accounting.closer.run_once(now=period.end + 10) == period.id


async def _carried(sat: Satellite) -> dict[str, int]:
    async with sat.db.read() as s:
        return {a.node_id: a.carried for a in (await s.execute(select(NodeAccount))).scalars()}


async def _network(db, tmp_path: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    """Three nodes with wallets of their own; one segment on nodes 1 and 2, one on nodes 2 and 0:
    node 2 earns twice what 0 and 1 do. The satellite as peer.py wires it, its chain opened."""
    net = await seed_network(db, nodes=3, segments=2, pieces=2, piece_size=1000)
    wallets = {n: Account.create().address for n in net.nodes}
    async with db.transaction() as s:
        for n, w in wallets.items():
            await s.execute(update(Node).where(Node.id == n).values(wallet=w))
    config = SatelliteConfig.for_tests(str(tmp_path), accounting=ACCOUNTING, payout_native_price=1.0)
    sat = Satellite(config, db, Identity.generate())
    pc = await sat.settlement.worker.chain()
    return sat, net, wallets, pc


def _price_fee_at(sat: Satellite, pc, amount: int) -> None:  # type: ignore[no-untyped-def]
    """Price the native coin so that one payee's fee is 3/8 of ``amount``: more than a quarter of
    it (rolled over), less than a quarter of twice it (paid). The chain's fee holds until it mines."""
    worker = sat.settlement.worker
    max_fee, _tip = pc.chain.fees()
    price = Fraction(3 * amount, 8) * 10**18 / (worker.config.gas_per_payee * max_fee * 10**pc.decimals)
    worker.config = dataclasses.replace(worker.config, native_price=float(price))


async def test_a_payout_rolled_over_for_its_fee_is_carried_and_paid_once_in_the_next_period(
    db,  # noqa: F811
    tmp_path: Path,
) -> None:
    sat, net, wallets, pc = await _network(db, tmp_path)
    worker = sat.settlement.worker
    small, other, big = net.nodes

    first = Period.at(START, HOUR)
    await _tally_hour(sat, first.start)
    await _close(sat, first)
    stubs = {p.node_id: p for p in await sat.accounting.repo.paystubs(period=first.id)}
    assert stubs[small].to_pay == stubs[other].to_pay > 0 and 1.9 < stubs[big].to_pay / stubs[small].to_pay < 2.1
    _price_fee_at(sat, pc, stubs[small].to_pay)

    assert await worker.run_until_idle() is StepResult.IDLE
    assert sorted(p.node_id for p in await sat.payouts.rolled_over(first.id)) == sorted([small, other])
    balances = {n: pc.chain.token_balance(pc.token, w) for n, w in wallets.items()}
    assert balances == {small: 0, other: 0, big: stubs[big].to_pay}
    stubs = {p.node_id: p for p in await sat.accounting.repo.paystubs(period=first.id)}
    assert stubs[small].settlement_state == "rolled_over" and stubs[big].settlement_state == "confirmed"
    assert (await _carried(sat))[small] == stubs[small].to_pay  # owed, and the next period pays it
    earnings = await sat.accounting.earnings(small, now=first.end + 20)
    assert earnings["paid_total_units"] == "0" and earnings["pending_total_units"] == "0"  # not pending twice

    # A restarted worker tells accounting of every rollover on record again: nothing is carried twice.
    restarted = SettlementWorker(
        worker.store, worker.config, chain=pc, on_confirmed=worker.on_confirmed, on_rolled_over=worker.on_rolled_over
    )
    assert await restarted.run_until_idle() is StepResult.IDLE
    assert (await _carried(sat))[small] == stubs[small].to_pay

    second = first.next(HOUR)
    await _tally_hour(sat, second.start)
    await _close(sat, second)
    later = {p.node_id: p for p in await sat.accounting.repo.paystubs(period=second.id)}
    assert later[small].carried_in == stubs[small].to_pay
    assert later[small].to_pay == stubs[small].to_pay + later[small].gross - later[small].held  # the sum
    assert (await _carried(sat))[small] == 0
    assert await restarted.run_until_idle() is StepResult.IDLE
    assert await sat.payouts.rolled_over(second.id) == []
    assert all(b.state is BatchState.CONFIRMED for b in await sat.payouts.batches())
    balances = {n: pc.chain.token_balance(pc.token, w) for n, w in wallets.items()}
    assert balances[small] == later[small].to_pay  # paid the sum, once
    # Every node: what it was paid on chain is exactly what it earned after held amounts.
    for n in net.nodes:
        earned = sum(p.gross - p.held for p in (stubs[n], later[n]))
        assert balances[n] == earned, n
    assert (await sat.accounting.earnings(small, now=second.end + 20))["paid_total_units"] == str(later[small].to_pay)

    # A third period: nothing carried in any more, so nothing is paid twice.
    third = second.next(HOUR)
    await _tally_hour(sat, third.start)
    await _close(sat, third)
    assert all(p.carried_in == 0 for p in await sat.accounting.repo.paystubs(period=third.id))


async def test_a_worker_killed_before_telling_accounting_of_a_rollover_tells_it_when_restarted(
    db,  # noqa: F811
    tmp_path: Path,
) -> None:
    sat, net, wallets, pc = await _network(db, tmp_path)
    wired = sat.settlement.worker
    small = net.nodes[0]
    first = Period.at(START, HOUR)
    await _tally_hour(sat, first.start)
    await _close(sat, first)
    owed = {p.node_id: p.to_pay for p in await sat.accounting.repo.paystubs(period=first.id)}
    _price_fee_at(sat, pc, owed[small])
    # A worker that cuts the period and dies before telling accounting: the rollover is on record
    # in settlement's tables only.
    killed = SettlementWorker(wired.store, wired.config, chain=pc, on_confirmed=wired.on_confirmed)
    assert await killed.run_until_idle() is StepResult.IDLE
    assert small in {p.node_id for p in await sat.payouts.rolled_over(first.id)}
    assert small not in await _carried(sat) or (await _carried(sat))[small] == 0
    # Its successor tells accounting at its first pass: carried once, paid once with the next period.
    assert await wired.run_until_idle() is StepResult.IDLE
    assert (await _carried(sat))[small] == owed[small]
    second = first.next(HOUR)
    await _tally_hour(sat, second.start)
    await _close(sat, second)
    assert await wired.run_until_idle() is StepResult.IDLE
    later = {p.node_id: p for p in await sat.accounting.repo.paystubs(period=second.id)}
    assert later[small].carried_in == owed[small] and later[small].settlement_state == "confirmed"
    assert pc.chain.token_balance(pc.token, wallets[small]) == later[small].to_pay


async def test_a_worker_killed_before_writing_a_confirmation_on_the_paystubs_writes_it_when_restarted(
    db,  # noqa: F811
    tmp_path: Path,
) -> None:
    sat, _net, wallets, pc = await _network(db, tmp_path)
    wired = sat.settlement.worker
    first = Period.at(START, HOUR)
    await _tally_hour(sat, first.start)
    await _close(sat, first)
    wired.config = dataclasses.replace(wired.config, native_price=0.0)  # no fee: every payee is paid
    # A worker that pays the period and dies before accounting hears of it: paid on chain,
    # confirmed in settlement's tables, and the paystubs still say nothing.
    killed = SettlementWorker(wired.store, wired.config, chain=pc, on_rolled_over=wired.on_rolled_over)
    assert await killed.run_until_idle() is StepResult.IDLE
    assert {b.state for b in await wired.store.batches()} == {BatchState.CONFIRMED}
    stubs = await sat.accounting.repo.paystubs(period=first.id)
    assert all(p.settlement_state != "confirmed" and p.tx_hash is None for p in stubs)
    paid = {w: pc.chain.token_balance(pc.token, w) for w in wallets.values()}
    # Its successor writes every confirmation on record at its first pass, and pays nobody again.
    assert await wired.run_until_idle() is StepResult.IDLE
    stubs = await sat.accounting.repo.paystubs(period=first.id)
    assert stubs and all(p.settlement_state == "confirmed" and p.tx_hash for p in stubs if p.to_pay > 0)
    assert {w: pc.chain.token_balance(pc.token, w) for w in wallets.values()} == paid
