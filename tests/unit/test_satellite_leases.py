"""Chore leases on both databases: one holder at a time, hand-over on release, expiry and death."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import update

from common.lifecycle import Service
from satellite.db.lease_models import ChoreLease
from satellite.db.leases import LeaseRepository
from satellite.leases import LeasedService, holder_id, holder_is_dead
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

TTL = 2.0  # long enough that a loaded machine renews in time: the tests prove exclusion, not speed
DEADLINE = 30.0


class Chore:
    """A chore that runs until cancelled and says, per holder, whether it is running."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.changed = asyncio.Event()
        self.cancelled: list[str] = []

    def service(self, who: str) -> Service:
        async def run() -> None:
            self.running.add(who)
            self.changed.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.append(who)
                raise
            finally:
                self.running.discard(who)
                self.changed.set()

        return Service("audit", run)

    async def until(self, cond) -> None:  # type: ignore[no-untyped-def]
        async with asyncio.timeout(DEADLINE):
            while not cond():
                self.changed.clear()
                await self.changed.wait()


async def _renewals(repo: LeaseRepository, n: int) -> None:
    """Wait until the lease's expiry moved ``n`` times: its holder renewed it ``n`` times."""
    seen: list[str] = []
    async with asyncio.timeout(DEADLINE):
        while len(seen) <= n:
            (lease,) = await repo.holders()
            if not seen or lease["expires_at"] != seen[-1]:
                seen.append(lease["expires_at"])
            await asyncio.sleep(TTL / 6)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_two_processes_never_run_one_chore_at_once_and_release_hands_it_over(db) -> None:  # noqa: F811
    repo = LeaseRepository(db)
    chore = Chore()
    a = LeasedService(chore.service("a"), repo, ttl=TTL, holder="host-a:1:x")
    b = LeasedService(chore.service("b"), repo, ttl=TTL, holder="host-b:1:y")
    ta, tb = asyncio.create_task(a.run()), asyncio.create_task(b.run())
    try:
        await chore.until(lambda: chore.running)
        first, other = (a, b) if "a" in chore.running else (b, a)
        await _renewals(repo, 3)  # three renewals later the other one still waits
        assert chore.running == {first.holder[5]} and first.held and not other.held
        (lease,) = await repo.holders()
        assert lease["holder"] == first.holder and lease["live"]
        await first.close()  # a clean stop releases the lease...
        await _stop(ta if first is a else tb)
        await chore.until(lambda: chore.running == {other.holder[5]})  # ...and the standby runs the chore
        assert other.takeovers == 1
    finally:
        await _stop(ta)
        await _stop(tb)


async def test_a_crashed_holder_is_replaced_once_its_lease_expires(db) -> None:  # noqa: F811
    repo = LeaseRepository(db)
    chore = Chore()
    a = LeasedService(chore.service("a"), repo, ttl=TTL, holder="host-a:1:x")
    ta = asyncio.create_task(a.run())
    await chore.until(lambda: chore.running == {"a"})
    await _stop(ta)  # dies without releasing: the row stays until it expires
    (lease,) = await repo.holders()
    assert lease["holder"] == "host-a:1:x"
    b = LeasedService(chore.service("b"), repo, ttl=TTL, holder="host-b:1:y")
    tb = asyncio.create_task(b.run())
    try:
        await chore.until(lambda: chore.running == {"b"})
        (lease,) = await repo.holders()
        assert lease["holder"] == "host-b:1:y"
    finally:
        await _stop(tb)


async def test_a_holder_that_finds_its_lease_taken_stops_the_chore(db) -> None:  # noqa: F811
    """As after a pause longer than the ttl: another process took the lease; this one must stop."""
    repo = LeaseRepository(db)
    chore = Chore()
    a = LeasedService(chore.service("a"), repo, ttl=TTL, holder="host-a:1:x")
    ta = asyncio.create_task(a.run())
    try:
        await chore.until(lambda: chore.running == {"a"})
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        async with db.write_conn() as c:
            await c.execute(update(ChoreLease.__table__).values(holder="host-b:1:y", expires_at=later))
        await chore.until(lambda: not chore.running)
        assert chore.cancelled == ["a"] and not a.held
        assert not ta.done()  # it waits as a standby
    finally:
        await _stop(ta)


async def test_a_dead_process_on_this_host_is_taken_over_at_once(db) -> None:  # noqa: F811
    repo = LeaseRepository(db)
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    mine = holder_id()
    host = mine.rsplit(":", 2)[0]
    dead = f"{host}:{int(proc.stdout)}:abcd"
    assert holder_is_dead(dead)
    assert not holder_is_dead(mine)  # this very process: alive
    assert not holder_is_dead(f"other-host:{int(proc.stdout)}:abcd")  # another host: cannot know
    assert await repo.acquire("gc", dead, ttl=3600)
    assert not await repo.acquire("gc", "other-host:1:z", ttl=3600)  # live for an hour...
    assert await repo.acquire("gc", mine, ttl=3600, stale=holder_is_dead)  # ...but its holder is gone
    (lease,) = await repo.holders()
    assert lease["holder"] == mine


@pytest.mark.parametrize("ttl", [0.0, -1.0])
def test_a_lease_needs_a_positive_ttl(ttl: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        LeasedService(Service("x", asyncio.sleep), None, ttl=ttl)  # type: ignore[arg-type]
