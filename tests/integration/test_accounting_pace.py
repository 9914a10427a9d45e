"""The accounting chore rests until there can be work (the next tally, a period becoming
closable) instead of waking every second, on SQLite and PostgreSQL."""

from __future__ import annotations

from common.identity import Identity
from satellite.accounting import AccountingConfig
from satellite.accounting.service import AccountingService
from satellite.accounting.tally import TallyStep
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

T0 = 1_800_000_000  # a multiple of 60: a period starts here


def service(db) -> AccountingService:  # type: ignore[no-untyped-def]  # noqa: F811
    cfg = AccountingConfig.from_dict({"period_seconds": 60, "tally_interval": 10, "close_delay": 5,
                                      "meter_flush_interval": 1})  # fmt: skip
    return AccountingService(db, cfg, Identity.generate().id)


async def test_after_a_tally_the_chore_rests_until_the_next_one_is_due(db) -> None:  # noqa: F811
    acc = service(db)
    assert await acc.run_once(now=T0 + 20) is TallyStep.DONE
    assert acc.tally.next_due == acc.tally.state.last_tally_at + 10
    assert acc.rest(now=acc.tally.next_due - 10) == 10.0  # not the old 2.5 s pace
    assert await acc.run_once(now=T0 + 25) is TallyStep.IDLE  # too soon: it says when it will not be
    assert acc.tally.next_due == acc.tally.state.last_tally_at + 10


def test_the_chore_wakes_when_the_period_that_just_ended_becomes_closable(db) -> None:  # noqa: F811
    acc = service(db)
    acc.tally.next_due = T0 + 70
    assert acc.rest(now=T0 + 62) == 3.0  # the period [T0, T0 + 60) is closable at T0 + 65
    acc.tally.next_due = T0 + 130
    assert acc.rest(now=T0 + 66) == 10.0  # at most one tally interval, whatever is due later
    acc.tally.next_due = T0 + 118
    assert acc.rest(now=T0 + 116) == 2.0


def test_without_a_known_next_tally_the_chore_keeps_the_old_pace(db) -> None:  # noqa: F811
    acc = service(db)
    acc.tally.next_due = None  # another satellite began the tally, or a step failed
    assert acc.rest(now=T0 + 20) == 2.5  # half of min(tally interval, close delay)


async def test_a_satellite_back_from_downtime_closes_its_backlog_of_periods_without_resting(db) -> None:  # noqa: F811
    acc = service(db)
    assert await acc.run_once(now=T0 + 20) is TallyStep.DONE and acc.closed_last is None
    closed = []
    for _ in range(6):  # down from T0 + 20 to T0 + 250: four periods ended meanwhile
        await acc.run_once(now=T0 + 250)
        closed.append(acc.closed_last)
    assert [c is not None for c in closed] == [True] * 4 + [False] * 2  # run() rests only after the last
    assert len(set(closed[:4])) == 4
