"""Long-tail fan-out: returns at the success threshold and cancels and awaits the rest."""

from __future__ import annotations

import asyncio
import time

import pytest

from common.fanout import long_tail


def _job(delay: float, log: dict[int, str], i: int, fail: bool = False):
    async def run() -> int:
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            log[i] = "cancelled"
            raise
        if fail:
            log[i] = "failed"
            raise RuntimeError(f"job {i} broke")
        log[i] = "done"
        return i

    return run


async def test_returns_at_success_and_cancels_the_slow_ones():
    log: dict[int, str] = {}
    delays = [0.01, 0.02, 0.03, 5, 5, 5]
    t0 = time.monotonic()
    res = await long_tail([_job(d, log, i) for i, d in enumerate(delays)], success=3)
    assert time.monotonic() - t0 < 1
    assert sorted(res.succeeded) == [0, 1, 2] and res.cancelled == [3, 4, 5] and not res.failed
    # the slow jobs were not merely abandoned: each saw its cancellation before we returned
    assert [log[i] for i in (3, 4, 5)] == ["cancelled"] * 3


async def test_failures_are_recorded_and_do_not_count():
    log: dict[int, str] = {}
    jobs = [_job(0.01, log, 0, fail=True), _job(0.02, log, 1), _job(0.03, log, 2), _job(5, log, 3)]
    res = await long_tail(jobs, success=2)
    assert set(res.succeeded) == {1, 2} and isinstance(res.failed[0], RuntimeError) and res.cancelled == [3]


async def test_too_few_successes_waits_for_all_then_returns():
    log: dict[int, str] = {}
    res = await long_tail([_job(0.01, log, 0, fail=True), _job(0.02, log, 1)], success=2)
    assert list(res.succeeded) == [1] and list(res.failed) == [0] and res.cancelled == []


async def test_cancelling_the_caller_cancels_every_job():
    log: dict[int, str] = {}
    task = asyncio.create_task(long_tail([_job(5, log, i) for i in range(4)], success=2))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == {i: "cancelled" for i in range(4)}


async def test_no_jobs():
    res = await long_tail([], success=1)
    assert not res.succeeded and not res.failed and not res.cancelled
