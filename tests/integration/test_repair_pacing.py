"""How idle repairers pace themselves: one poll of the queue per interval, not one per worker,
and every worker at once when there is work (the checker queued some, or one found a job)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from tests.planet import planet


async def until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_idle_repairers_poll_the_queue_once_per_interval_and_all_wake_when_work_is_queued(tmp_path) -> None:
    config = {"repair_workers": 5, "repair_interval": 0.05}
    async with planet(tmp_path, nodes=3, scheme="1/2/3/3", satellite_config=config) as net:
        svc = net.satellite.repair
        claims: Counter[str] = Counter()
        real: Callable[..., Awaitable[Any]] = svc.queue.claim

        async def counting(worker_id: str, *args: Any, **kwargs: Any) -> Any:
            claims[worker_id] += 1
            return await real(worker_id, *args, **kwargs)

        svc.queue.claim = counting  # type: ignore[method-assign]
        task = asyncio.create_task(svc.run_workers())
        try:
            await until(lambda: len(svc.repairers) == 5 and claims[svc.repairers[0].worker_id] >= 20)
            others = [claims[r.worker_id] for r in svc.repairers[1:]]
            # 20 polls of the first worker are one second; each other worker polls every ten intervals.
            assert all(1 <= n <= 4 for n in others), others
            before = Counter(claims)
            svc.wake()  # what the checker does after queueing segments
            await until(lambda: all(claims[r.worker_id] > before[r.worker_id] for r in svc.repairers[1:]), 2.0)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await svc.close()
