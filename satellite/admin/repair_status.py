"""``GET /v1/repair/status``: the repair backlog as an admin watches it work down.

The queue comes from the database (``satellite.db.repair_status``): length by reason and by
policy, the oldest job, the job closest to loss, and the failing jobs with their last
error. Throughput comes from this process's repairers (``RepairService.repairers``): what
they finished since the satellite started and over the last samples, in segments and
bytes per minute. Progress is the backlog worked off since its peak in the sampled window
(1.0 when the queue is empty), so a bar in ``geoshard admin repair status`` and a
percentage in the JSON say the same thing.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from satellite.db.repair_status import repair_queue_status

__all__ = ["REPAIR_STATUS", "RepairStatusView", "RepairThroughput", "repair_status"]

WINDOW = 3600.0  # seconds of samples kept for the rate and the peak


@dataclass(frozen=True)
class _Sample:
    at: float
    repaired: int
    failed: int
    segment_bytes: int
    queued: int


class RepairThroughput:
    """Samples of the repairers' counters; a rate needs two, so each status call adds one."""

    def __init__(self, repair: Any, *, clock: Any = time.monotonic) -> None:
        self.repair = repair
        self.clock = clock
        self.started = clock()
        self.samples: collections.deque[_Sample] = collections.deque()

    def totals(self) -> tuple[int, int, int, int]:
        """(jobs, repaired, failed, repaired segment bytes) of this process's repairers."""
        jobs = repaired = failed = nbytes = 0
        for r in getattr(self.repair, "repairers", []) if self.repair is not None else []:
            jobs += r.state.jobs
            repaired += r.state.by_outcome.get("repaired", 0)
            failed += r.state.by_outcome.get("failed", 0)
            nbytes += r.state.segment_bytes
        return jobs, repaired, failed, nbytes

    def sample(self, queued: int) -> dict[str, Any]:
        t = self.clock()
        jobs, repaired, failed, nbytes = self.totals()
        self.samples.append(_Sample(t, repaired, failed, nbytes, queued))
        while len(self.samples) > 2 and t - self.samples[0].at > WINDOW:
            self.samples.popleft()
        first = self.samples[0]
        span = t - first.at
        per_minute = (lambda d: round(d * 60 / span, 3) if span > 0 else None)  # noqa: E731
        peak = max(s.queued for s in self.samples)
        return {
            "since_start": {
                "seconds": round(t - self.started, 1),
                "jobs": jobs,
                "repaired": repaired,
                "failed": failed,
                "repaired_bytes": nbytes,
            },
            "window_seconds": round(span, 1),
            "segments_per_minute": per_minute(repaired - first.repaired),
            "failures_per_minute": per_minute(failed - first.failed),
            "bytes_per_minute": per_minute(nbytes - first.segment_bytes),
            "backlog_peak": peak,
            "progress": 1.0 if queued == 0 else round(1 - queued / peak, 4) if peak else 0.0,
        }


class RepairStatusView:
    """What the handler reads: the satellite's Database and its RepairService (``None`` where
    no repairers run: throughput then stays 0)."""

    def __init__(self, db: Any, repair: Any) -> None:
        self.db = db
        self.throughput = RepairThroughput(repair)


REPAIR_STATUS = web.AppKey("repair_status", RepairStatusView)


async def repair_status(request: web.Request) -> web.Response:
    view = request.app[REPAIR_STATUS]
    try:
        failures = int(request.query.get("failures", "10"))
        if not 0 <= failures <= 100:
            raise ValueError
    except ValueError:
        return web.json_response(
            {"error": {"code": "InvalidArgument", "message": "failures must be a whole number from 0 to 100"}},
            status=400,
        )
    queue = await repair_queue_status(view.db, failures=failures)
    return web.json_response({"queue": queue.to_json(), "throughput": view.throughput.sample(queue.queued)})
