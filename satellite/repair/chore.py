"""The repair checker and the repair workers as the satellite runs them: loops on an interval.

Both do one unit of work per step (a batch of segments, one job) and report their state,
so tests step them directly; these loops only pace them. The checker sleeps
``checker_interval`` between passes and runs a pass's batches back to back. Each of
``workers`` repairers claims jobs until the queue is empty. Then only the first of them polls
the queue every ``interval`` (another process may fill it); the others wait until it finds a
job, or this process's checker queues some, and poll on their own only every
``IDLE_POLL_FACTOR × interval`` — an idle satellite then asks the database once per interval,
not once per worker per interval, and queued work starts at once instead of after a poll.
Several satellites' main processes may run workers on one PostgreSQL database: claims
are exclusive (``FOR UPDATE SKIP LOCKED``), so no segment is repaired twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from common.piece_client import PieceClient, PieceClientConfig
from common.piece_ttl import PieceTtl
from satellite.nodeselection import SelectionConfig
from satellite.orders import OrderSigner
from satellite.residency import MetadataLocation

from .checker import CheckerStep, LostHook, NodeSnapshot, RepairChecker
from .queue import RepairQueue
from .renewal import Renewals
from .repairer import Repairer

__all__ = ["RepairConfig", "RepairService"]

log = logging.getLogger(__name__)

IDLE_POLL_FACTOR = 10  # an idle repairer but the first polls this many intervals apart


@dataclass(frozen=True)
class RepairConfig:
    checker_interval: float = 30.0
    checker_batch: int = 1000
    interval: float = 300.0
    workers: int = 5
    claim_timeout: float = 6 * 3600.0
    job_timeout: float = 45 * 60.0
    short_retry: float = 300.0
    piece_ttl: PieceTtl = field(default_factory=PieceTtl)  # uploads' piece TTLs, which the checker renews

    @classmethod
    def from_satellite(cls, config: Any) -> RepairConfig:
        return cls(
            checker_interval=config.repair_checker_interval,
            checker_batch=config.repair_checker_batch,
            interval=config.repair_interval,
            workers=config.repair_workers,
            claim_timeout=config.repair_claim_timeout,
            job_timeout=config.repair_job_timeout,
            short_retry=config.repair_short_retry,
            piece_ttl=PieceTtl(config.lifecycle_day_seconds, config.lifecycle_piece_grace_seconds),
        )


class RepairService:
    """The checker and ``workers`` repairers over one queue; ``run``/``close`` for peer.py."""

    def __init__(
        self,
        queue: RepairQueue,
        nodes: NodeSnapshot,
        signer: OrderSigner,
        selection: SelectionConfig,
        config: RepairConfig,
        *,
        on_lost: LostHook | None = None,
        metadata: MetadataLocation | None = None,
    ) -> None:
        self.metadata = metadata  # where the satellite's database is: inline segments' residency
        self.queue = queue
        self.nodes = nodes
        self.signer = signer
        self.selection = selection
        self.config = config
        self.renewals = Renewals(queue.db, config.piece_ttl)
        self.checker = RepairChecker(
            queue, nodes, online_window=selection.online_window, batch_size=config.checker_batch, on_lost=on_lost,
            metadata=metadata, renewals=self.renewals,
        )
        self.repairers: list[Repairer] = []
        self._session: Any = None
        self._work = asyncio.Event()  # set when a job was found or queued: idle repairers claim

    def new_repairer(self, client: PieceClient) -> Repairer:
        return Repairer(
            self.queue,
            self.nodes,
            self.signer,
            client,
            selection=self.selection,
            claim_timeout=self.config.claim_timeout,
            job_timeout=self.config.job_timeout,
            short_retry=self.config.short_retry,
            metadata=self.metadata,
            renewals=self.renewals,
        )

    async def _check_forever(self) -> None:
        while True:
            try:
                step = await self.checker.run_once()
            except Exception:
                log.exception("repair checker step failed")
                step = CheckerStep.DONE
            if self.checker.state.queued:
                self.wake()  # this pass queued segments: the idle repairers start now
            if step is CheckerStep.DONE:
                await asyncio.sleep(self.config.checker_interval)

    def wake(self) -> None:
        """Tell this process's idle repairers that the queue may hold work."""
        self._work.set()

    async def _repair_forever(self, repairer: Repairer, index: int = 0) -> None:
        while True:
            try:
                result = await repairer.run_once()
            except Exception:
                log.exception("repairer step failed")
                result = None
            if result is not None:
                self.wake()  # there was a job: the others look for more
                continue
            self._work.clear()
            timeout = self.config.interval * (1 if index == 0 else IDLE_POLL_FACTOR)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._work.wait(), timeout)

    async def run_checker(self) -> None:
        """The checker alone (``--role repair-checker``): one process at a time, under a lease."""
        await self._check_forever()

    async def run_workers(self) -> None:
        """The ``workers`` repairers alone (``--role repair-workers``): any number of processes."""
        config = PieceClientConfig()
        self._session = PieceClient.new_session(config)
        client = PieceClient(self._session, config)
        self.repairers = [self.new_repairer(client) for _ in range(self.config.workers)]
        async with asyncio.TaskGroup() as tg:
            for i, r in enumerate(self.repairers):
                tg.create_task(self._repair_forever(r, i), name=f"repairer-{i}")

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.run_checker(), name="repair-checker")
            tg.create_task(self.run_workers(), name="repair-workers")

    async def close(self) -> None:
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
            self._session = None

    def counters(self) -> dict[str, int]:
        """Monotonic counters of this process's repairers, flat for a metrics exporter."""
        out: dict[str, int] = {"repair_jobs_total": 0, "repair_short_total": 0, "repair_segment_bytes_total": 0}
        for r in self.repairers:
            out["repair_jobs_total"] += r.state.jobs
            out["repair_short_total"] += r.state.short
            out["repair_segment_bytes_total"] += r.state.segment_bytes
            for outcome, n in r.state.by_outcome.items():
                key = f"repair_outcome_{outcome}_total"
                out[key] = out.get(key, 0) + n
        return out

    def status(self) -> dict[str, Any]:
        return {
            "checker": {
                "cursor": self.checker.state.cursor,
                "passes": self.checker.state.passes,
                "last_pass": self.checker.state.last_pass,
            },
            "repairers": [
                {"jobs": r.state.jobs, "by_outcome": r.state.by_outcome, "last_error": r.state.last_error}
                for r in self.repairers
            ],
            "counters": self.counters(),
        }

    async def capacity(self) -> dict[str, Any]:
        """The queue and the policies short of repair capacity (admin API, report, metrics)."""
        short = await self.queue.shortfalls()
        return {"queue": await self.queue.stats(), "capacity_short": short, **self.status()}
