"""Long-tail cancellation: start every transfer, stop waiting once enough have succeeded.

An upload to ``n`` nodes only needs ``success`` of them; the slowest few are usually slow
because of the network or the node, not the data, so waiting for them only adds latency
(Storj's uplink ``segmentupload``). :func:`long_tail` starts every job at once, returns as
soon as ``success`` jobs have finished without error, then cancels the rest *and awaits
them* so that no task outlives the call and nothing leaks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["FanoutResult", "long_tail"]

T = TypeVar("T")


@dataclass
class FanoutResult(Generic[T]):
    """Outcome of a fan-out: successes and failures by job index; the rest were cancelled."""

    succeeded: dict[int, T] = field(default_factory=dict)
    failed: dict[int, BaseException] = field(default_factory=dict)
    cancelled: list[int] = field(default_factory=list)


async def long_tail(
    jobs: Sequence[Callable[[], Awaitable[T]]], success: int
) -> FanoutResult[T]:
    """Run ``jobs`` concurrently; return once ``success`` succeeded or all have finished.

    Jobs still running at that point are cancelled and awaited before returning. A job's
    exception is recorded in ``failed``, never raised; the caller decides whether the
    successes it got are enough. Cancelling the caller cancels every job.
    """
    result: FanoutResult[T] = FanoutResult()
    if not jobs:
        return result
    tasks: dict[asyncio.Task[T], int] = {
        asyncio.ensure_future(job()): i for i, job in enumerate(jobs)
    }
    pending: set[asyncio.Task[T]] = set(tasks)
    try:
        while pending and len(result.succeeded) < success:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                idx = tasks[t]
                if t.cancelled():
                    result.cancelled.append(idx)
                elif (exc := t.exception()) is not None:
                    result.failed[idx] = exc
                else:
                    result.succeeded[idx] = t.result()
    finally:
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        for t in pending:
            idx = tasks[t]
            if t.cancelled():
                result.cancelled.append(idx)
            elif (exc := t.exception()) is not None:
                result.failed[idx] = exc
            else:  # finished between the last wait and the cancel: keep the work
                result.succeeded[idx] = t.result()
    result.cancelled.sort()
    return result
