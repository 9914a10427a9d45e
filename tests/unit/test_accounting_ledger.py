"""Accounting over a real database (SQLite and PostgreSQL): tallies, period close, held-back
amounts and the reserve fund, order settlement and its bad input. No nodes: the satellite's
metadata is written directly, orders are signed with a satellite identity made here."""

from __future__ import annotations

import asyncio
import datetime as dt
from fractions import Fraction

import pytest
from sqlalchemy import func, select, update

from common.identity import Identity
from common.messages import Action, OrderLimit, OrderSettlement, Signed, new_serial, now
from satellite.accounting import AccountingConfig, Period
from satellite.accounting.periods import PeriodNotOver
from satellite.accounting.service import AccountingService
from satellite.accounting.tally import TallyChore, TallyStep
from satellite.db.accounting import PeriodAlreadyClosed
from satellite.db.accounting_models import (
    AccountingPeriod,
    NodeAccount,
    NodeTally,
    PaystubRow,
    ReserveEntry,
    StatementRow,
)
from satellite.db.models import GracefulExit, Node, OrderSerial
from satellite.errors import NodeRejected
from tests.accounting_fixtures import WALLET, seed_network
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

HOUR = 3600
# A period of one hour, tallies every minute: byte-hours come out as round numbers.
CONFIG = {"period_seconds": HOUR, "tally_interval": 60, "close_delay": 5, "meter_flush_interval": 1,
          "min_payout": "0", "month_seconds": 30 * 86400, "order_settlement_window": 600}  # fmt: skip
START = Period.at(now() - 10 * HOUR, HOUR).start  # an hour well in the past


def service(db, **overrides) -> AccountingService:  # noqa: F811
    return AccountingService(db, AccountingConfig.from_dict({**CONFIG, **overrides}), SATELLITE.id)


SATELLITE = Identity.generate()


async def _tally_hour(acc: AccountingService, start: int = START) -> None:
    """Tallies at the start, middle and end of the hour: the hour is covered exactly."""
    for t in (start, start + HOUR // 2, start + HOUR):
        await acc.tally.tally(now=t)


async def _ledger(db) -> dict[str, object]:  # noqa: F811
    async with db.read() as s:
        return {
            "periods": (await s.execute(select(func.count()).select_from(AccountingPeriod))).scalar(),
            "paystubs": sorted((p.period, p.node_id, p.to_pay, p.held)
                               for p in (await s.execute(select(PaystubRow))).scalars()),
            "accounts": sorted((a.node_id, a.held_balance, a.carried)
                               for a in (await s.execute(select(NodeAccount))).scalars()),
            "reserve": sorted((e.kind, e.amount) for e in (await s.execute(select(ReserveEntry))).scalars()),
            "statements": (await s.execute(select(func.count()).select_from(StatementRow))).scalar(),
            "orders": sorted((o.serial, o.settled_bytes) for o in (await s.execute(select(OrderSerial))).scalars()),
        }  # fmt: skip


async def _held_by(db) -> dict[str, int]:  # noqa: F811
    async with db.read() as s:
        rows = (await s.execute(select(NodeTally.node_id, func.sum(NodeTally.bytes)).group_by(NodeTally.node_id))).all()
    return {n: int(b) for n, b in rows}


async def test_tally_counts_the_bytes_of_nodes_in_good_standing_only(db) -> None:  # noqa: F811
    net = await seed_network(db, nodes=5, segments=20, pieces=3, piece_size=1000)
    dq, suspended, exited = net.nodes[0], net.nodes[1], net.nodes[2]
    at = dt.datetime.now(dt.UTC)
    async with db.transaction() as s:
        await s.execute(update(Node).where(Node.id == dq).values(disqualified_at=at))
        await s.execute(update(Node).where(Node.id == suspended).values(suspended_at=at))
        s.add(GracefulExit(node_id=exited, status="exited", initiated_at=at, finished_at=at))
    acc = service(db)
    await acc.tally.tally(now=START)
    expected: dict[str, int] = {}
    for i in range(1, 21):
        for j in range(3):
            n = net.nodes[(i + j) % 5]
            expected[n] = expected.get(n, 0) + 1000
    good = {n: b for n, b in expected.items() if n not in (dq, suspended, exited)}
    assert await _held_by(db) == good


async def test_a_tally_interrupted_mid_pass_resumes_at_its_cursor_and_counts_each_piece_once(db) -> None:  # noqa: F811
    await seed_network(db, nodes=4, segments=25, pieces=3, piece_size=10)
    whole = service(db)
    chore = TallyChore(whole.repo, interval=60, batch=4)
    assert await chore.run_once(now=START) is TallyStep.BUSY
    assert await chore.run_once(now=START) is TallyStep.BUSY
    # The process dies here; a new one (a new chore, no memory) picks up the running tally.
    restarted = TallyChore(whole.repo, interval=60, batch=4)
    await restarted.tally(now=START + 5)
    assert sum((await _held_by(db)).values()) == 25 * 3 * 10
    assert await restarted.run_once(now=START + 10) is TallyStep.IDLE  # the last tally is recent


async def test_closing_a_period_prices_byte_hours_into_paystubs_with_the_held_back_share(db) -> None:  # noqa: F811
    net = await seed_network(db, nodes=3, segments=6, pieces=3, piece_size=1000)
    acc = service(db)
    await _tally_hour(acc)
    period = Period.at(START, HOUR)
    with pytest.raises(PeriodNotOver):
        await acc.closer.close(Period.at(now(), HOUR))
    await acc.closer.close(period)
    stubs = {p.node_id: p for p in await acc.repo.paystubs(period=period.id)}
    assert set(stubs) == set(net.nodes)
    per_byte_hour = Fraction(15, 10) * 10**18 / (10**12 * 720)  # $1.50 per TB-month at 1 token = $1
    for p in stubs.values():
        assert p.byte_hours == 6000  # 6 pieces of 1000 bytes per node, for one hour
        assert p.storage_amount == int(6000 * per_byte_hour) == p.gross
        assert (p.age_month, p.held_percent) == (1, 75)
        assert p.held == p.gross * 75 // 100
        assert p.to_pay == p.gross - p.held and p.carried_out == 0
    row = await acc.repo.period(period.id)
    assert row is not None and row.settlement == "awaiting_settlement" and row.payees == 3


async def test_a_period_closed_twice_leaves_every_ledger_unchanged(db) -> None:  # noqa: F811
    await seed_network(db, nodes=3, segments=6)
    acc = service(db)
    await _tally_hour(acc)
    period = Period.at(START, HOUR)
    await acc.closer.close(period)
    before = await _ledger(db)
    with pytest.raises(PeriodAlreadyClosed):
        await acc.closer.close(period)
    assert await acc.closer.run_once(now=period.end + 10) is None  # the chore does not close it again
    assert await _ledger(db) == before


async def test_a_disqualified_node_forfeits_its_held_balance_to_the_reserve_fund(db) -> None:  # noqa: F811
    net = await seed_network(db, nodes=3, segments=6)
    acc = service(db)
    await _tally_hour(acc)
    first = Period.at(START, HOUR)
    await acc.closer.close(first)
    held = (await acc.repo.node_account(net.nodes[0])).held_balance
    assert held > 0
    async with db.transaction() as s:
        await s.execute(update(Node).where(Node.id == net.nodes[0]).values(disqualified_at=dt.datetime.now(dt.UTC)))
        s.add(GracefulExit(node_id=net.nodes[1], status="exited", initiated_at=dt.datetime.now(dt.UTC)))
    second = first.next(HOUR)
    await acc.tally.tally(now=second.end)
    await acc.closer.close(second)
    stubs = {p.node_id: p for p in await acc.repo.paystubs(period=second.id)}
    dq, ex = stubs[net.nodes[0]], stubs[net.nodes[1]]
    assert dq.forfeited == held and dq.byte_hours == 0 and "disqualified" in dq.note
    assert ex.returned > 0 and ex.to_pay == ex.returned and "graceful exit" in ex.note
    assert (await acc.repo.node_account(net.nodes[0])).held_balance == 0
    _, movements = await acc.repo.reserve()
    assert [(m.kind, m.amount, m.node_id) for m in movements if m.kind == "held_forfeit"] == [
        ("held_forfeit", held, net.nodes[0])
    ]


# --- order settlement ---------------------------------------------------------------------


def _order(node: Identity, *, action: Action = Action.GET, max_bytes: int = 1000, expires: int | None = None,
           signer: Identity = SATELLITE) -> str:  # fmt: skip
    t = now()
    limit = OrderLimit(serial=new_serial(), satellite_id=SATELLITE.id, node_id=node.id, piece_id="ab" * 32,
                       action=action, max_bytes=max_bytes, expires=expires or t + 60, created=t)  # fmt: skip
    return Signed.sign(signer, limit).dumps()


def _settlement(node: Identity, orders: list[str], amounts: list[int]) -> dict:
    msg = OrderSettlement(node_id=node.id, satellite_id=SATELLITE.id, timestamp=now(), orders=tuple(orders),
                          amounts=tuple(amounts))  # fmt: skip
    return Signed.sign(node, msg).to_json()


async def test_settled_orders_count_as_egress_by_kind_each_at_its_own_rate(db) -> None:  # noqa: F811
    node = Identity.generate()
    async with db.transaction() as s:
        t = dt.datetime.now(dt.UTC)
        s.add(Node(id=node.id, address="http://10.9.9.1:1", country="DE", wallet=WALLET, created_at=t,
                   last_contact_at=t))  # fmt: skip
    acc = service(db, egress_rate="2.00", repair_egress_rate="1.00", audit_egress_rate="3.00")
    orders = [_order(node, max_bytes=900), _order(node, action=Action.REPAIR_GET), _order(node, action=Action.AUDIT)]
    result = await acc.settler.settle(_settlement(node, orders, [900, 500, 100]))
    assert len(result.accepted) == 3 and not result.rejected and result.bytes == 1500
    period = Period.at(now(), HOUR)
    usage = (await acc.repo.node_usage(period, node.id))[node.id]
    assert (usage.egress, usage.repair_egress, usage.audit_egress) == (900, 500, 100)
    stub = await acc.estimate(node.id)
    per_tb = Fraction(10**18, 10**12)
    assert (stub.egress_amount, stub.repair_amount, stub.audit_amount) == (
        int(900 * 2 * per_tb),
        int(500 * 1 * per_tb),
        int(100 * 3 * per_tb),
    )


async def test_bad_orders_are_rejected_with_a_reason_and_change_no_ledger(db) -> None:  # noqa: F811
    node, other = Identity.generate(), Identity.generate()
    acc = service(db)
    good = _order(node)
    assert (await acc.settler.settle(_settlement(node, [good], [1000]))).accepted
    before = await _ledger(db)
    cases = {
        "already settled": (good, 1000),
        "forged": (_order(node, signer=Identity.generate()), 10),
        "other node": (_order(other), 10),
        "expired": (_order(node, expires=now() - 601), 10),
        "over limit": (_order(node, max_bytes=100), 101),
        "not a download": (_order(node, action=Action.PUT), 10),
    }
    result = await acc.settler.settle(_settlement(node, [o for o, _ in cases.values()], [a for _, a in cases.values()]))
    assert result.accepted == []
    assert sorted(r["reason"].split(":")[0] for r in result.rejected) == sorted(cases)
    garbage = await acc.settler.settle(_settlement(node, ["{not json", '{"message": 1}'], [1, 1]))
    assert [r["reason"].split(":")[0] for r in garbage.rejected] == ["forged", "forged"]
    assert await _ledger(db) == before


async def test_a_settlement_signed_by_another_node_is_refused_whole(db) -> None:  # noqa: F811
    node, thief = Identity.generate(), Identity.generate()
    acc = service(db)
    env = _settlement(node, [_order(node)], [10])
    env["signer"] = thief.id
    env["signature"] = _settlement(thief, [], [])["signature"]
    with pytest.raises(NodeRejected):
        await acc.settler.settle(env)
    assert (await _ledger(db))["orders"] == []


async def test_one_serial_submitted_concurrently_is_paid_exactly_once(db) -> None:  # noqa: F811
    node = Identity.generate()
    acc = service(db)
    order = _order(node)
    results = await asyncio.gather(*(acc.settler.settle(_settlement(node, [order], [1000])) for _ in range(6)))
    assert sum(len(r.accepted) for r in results) == 1
    assert sum(len(r.rejected) for r in results) == 5
    assert len((await _ledger(db))["orders"]) == 1


class RecordingPlanner:
    """Settlement's side of the seam (satellite/payouts/types.py) as accounting sees it."""

    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[str, list]] = []
        self.fail = fail

    async def plan_period(self, period, payees) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("settlement is down")
        self.calls.append((period, list(payees)))


async def test_closed_periods_wait_for_settlement_and_are_handed_on_once_it_is_connected(db, caplog) -> None:  # noqa: F811
    net = await seed_network(db, nodes=2, segments=4)
    acc = service(db)
    await _tally_hour(acc)
    period = Period.at(START, HOUR)
    with caplog.at_level("INFO", logger="satellite.accounting.periods"):
        # The first tally's interval began a minute before the hour: that period closes first.
        assert await acc.closer.run_once(now=period.end + 10) == period.previous(HOUR).id
        assert await acc.closer.run_once(now=period.end + 10) == period.id
    assert "awaiting settlement" in caplog.text
    planner = RecordingPlanner(fail=1)
    acc.planner = planner
    with pytest.raises(ConnectionError):  # settlement down: the period stays awaiting, nothing lost
        await acc.closer.run_once(now=period.end + 20)
    assert (await acc.repo.period(period.id)).settlement == "awaiting_settlement"
    await acc.closer.run_once(now=period.end + 30)
    await acc.closer.run_once(now=period.end + 40)
    assert [c[0] for c in planner.calls] == [period.previous(HOUR).id, period.id]  # each once
    payees = planner.calls[1][1]
    stubs = {p.node_id: p for p in await acc.repo.paystubs(period=period.id)}
    assert sorted(p.node_id for p in payees) == sorted(net.nodes)
    assert all(p.amount == stubs[p.node_id].to_pay > 0 and p.wallet == WALLET for p in payees)
    assert (await acc.repo.period(period.id)).settlement == "planned"
    assert await acc.repo.record_settlement(period.id, [payees[0].node_id], "confirmed", "0x" + "ab" * 32) == 1
    assert (await acc.repo.paystubs(node_id=payees[0].node_id))[0].tx_hash == "0x" + "ab" * 32
    earnings = await acc.earnings(payees[0].node_id)
    assert earnings["paid_total_units"] == str(stubs[payees[0].node_id].to_pay)  # only what settlement confirmed
    assert int(earnings["pending_total_units"]) > 0  # the earlier period is still awaiting confirmation


async def test_lost_segments_are_not_incidents_while_a_restarted_satellite_waits_for_check_ins(db) -> None:  # noqa: F811
    net = await seed_network(db, nodes=3, segments=2)
    just_started = service(db, incident_grace=900)
    assert await just_started.compensation.segments_lost([(1, 1, 2)]) == 0
    assert await just_started.repo.incidents() == []
    settled_in = service(db, incident_grace=0)
    assert await settled_in.compensation.segments_lost([(1, 1, 2), (2, 0, 2)]) == 2
    assert await settled_in.compensation.segments_lost([(1, 1, 2)]) == 0  # once per segment
    incidents = await settled_in.repo.incidents(net.tenant_id)
    assert sorted((i.segment_id, i.key, i.healthy) for i in incidents) == [
        (1, "obj-00000001", 1),
        (2, "obj-00000002", 0),
    ]
    balance, _ = await settled_in.repo.reserve()
    assert balance == -sum(i.credit for i in incidents) < 0


async def test_two_satellites_stepping_one_tally_count_every_piece_once(db) -> None:  # noqa: F811
    await seed_network(db, nodes=4, segments=40, pieces=3, piece_size=10)
    repo = service(db).repo
    first, second = TallyChore(repo, interval=60, batch=3), TallyChore(repo, interval=60, batch=3)
    await asyncio.gather(first.tally(now=START), second.tally(now=START))
    assert sum((await _held_by(db)).values()) == 40 * 3 * 10
    async with db.read() as s:
        from satellite.db.accounting_models import AccountingTally

        tallies = list((await s.execute(select(AccountingTally))).scalars())
    assert [(t.status, t.cursor) for t in tallies] == [("done", 40)]


async def test_a_satellite_that_read_the_last_tally_end_before_another_finished_one_begins_no_second(db) -> None:  # noqa: F811
    await seed_network(db, nodes=2, segments=5, pieces=2, piece_size=10)
    repo = service(db).repo
    assert await repo.last_tally_end() is None  # what the slow satellite read ...
    await TallyChore(repo, interval=60, batch=3).tally(now=START)  # ... before this one tallied it all
    assert await repo.begin_tally(START + 1, 60) is None  # so its begin starts nothing
    assert sum((await _held_by(db)).values()) == 5 * 2 * 10
    later = await repo.begin_tally(START + 60, 60)  # a whole interval on, a new tally begins
    assert later is not None and (later.interval_start, later.interval_end) == (START, START + 60)
