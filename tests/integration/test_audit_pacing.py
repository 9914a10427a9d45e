"""The audit chore keeps to ``audit_max_rate``: coverage is a setting, not whatever the CPU allows."""

from __future__ import annotations

import asyncio
import contextlib
import time

from satellite.audit import AuditChore
from tests.audit_fixtures import audit_world
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)


async def test_the_running_audit_chore_audits_no_faster_than_its_max_rate(db, tmp_path) -> None:  # noqa: F811
    async with audit_world(db, tmp_path, nodes=4) as world:
        await world.add_segments(10)  # 40 pieces, ten on each node
        chore = world.chore(max_rate=5.0, interval=0.01, reservoir_size=40, batch=2)
        task = asyncio.create_task(chore.run())
        started = time.monotonic()
        try:
            deadline = started + 60
            while chore.state.audited < 20:
                assert time.monotonic() < deadline, "the chore stopped auditing"
                await asyncio.sleep(0.02)
            elapsed = time.monotonic() - started
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await chore.close()
        # Groups of at most eight (two pieces of each of four nodes, one request per node); after
        # the first, each waits len(group) / 5 s: the cap counts audits, not requests.
        # Unpaced, twenty audits of loopback nodes take well under a second.
        assert chore.state.outcomes["success"] == chore.state.audited
        assert elapsed >= (20 - 8) / 5.0 * 0.95


def test_the_pace_gives_no_credit_for_an_idle_stretch_and_none_without_a_cap() -> None:
    chore = AuditChore(None, None, max_rate=10.0)  # type: ignore[arg-type]
    assert chore.pace(5, due=0.0, now=0.0) == 0.5  # five audits at ten a second: the next group in 0.5 s
    assert chore.pace(5, due=0.5, now=0.6) == 1.0  # on time: due 0.5 s after the last was due
    assert chore.pace(5, due=0.0, now=10.0) == 10.0  # long behind (or idle): due now, no burst owed
    assert AuditChore(None, None).pace(5, due=0.0, now=3.0) == 3.0  # type: ignore[arg-type]
