"""The satellite's process model: one process, or a MAIN process supervising API workers.

``geoshard satellite run --api-workers N`` with N ≥ 2 starts a MAIN process (with whatever
else its ``--role`` serves: admin API, chores, see ``satellite.roles``) that reserves the public port and starts N
copies of ``python -m satellite.process``, each an ``API`` satellite, through a
:class:`common.workers.WorkerPool`: every worker binds the same port with ``SO_REUSEPORT``,
reads the MAIN process's effective configuration on stdin, and stops when its stdin reaches
EOF; the pool restarts a worker that dies (see ``common/workers.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from common.workers import WorkerPool, WorkerStartError, announce_ready, read_spec, watch_stdin
from satellite.config import SatelliteConfig

if TYPE_CHECKING:
    from satellite.peer import Satellite

__all__ = ["ApiWorkerPool", "WorkerStartError", "main", "run_until_signal"]

log = logging.getLogger(__name__)


class ApiWorkerPool(WorkerPool):
    """N API worker processes on one port; built and registered by ``satellite.peer``."""

    def __init__(self, config: SatelliteConfig, count: int, *, python: str = sys.executable) -> None:
        super().__init__(module="satellite.process", spec=dataclasses.asdict(config), host=config.host,
                         port=config.port, count=count, label="API worker", python=python)  # fmt: skip
        self.config = config


async def run_until_signal(
    sat: Satellite, *, announce: Callable[[Satellite], None] | None = None, stop: asyncio.Event | None = None
) -> None:
    """Run ``sat`` until SIGTERM, SIGINT or ``stop`` (or until a service fails), then close it.

    ``announce`` is called once every listener of ``sat`` is up.
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = asyncio.create_task(sat.run())
    started = asyncio.create_task(sat.started.wait())
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({runner, started, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if started in done and runner not in done and stopping not in done:
            if announce is not None:
                announce(sat)
            done, _ = await asyncio.wait({runner, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if runner not in done:
            runner.cancel()  # Satellite.run closes its services in reverse order
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    finally:
        started.cancel()
        stopping.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _worker(config: SatelliteConfig) -> None:
    from satellite.peer import Satellite
    from satellite.roles import Role

    sat = await Satellite.create(config, role=Role.API, reuse_port=True)
    stop = asyncio.Event()
    watch_stdin(asyncio.get_running_loop(), stop)
    await run_until_signal(sat, announce=lambda _: announce_ready(), stop=stop)


def main(argv: list[str] | None = None) -> int:
    """One API worker: ``python -m satellite.process --index I`` with its config on stdin."""
    ap = argparse.ArgumentParser(prog="python -m satellite.process", description=main.__doc__)
    ap.add_argument("--index", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("GEOSHARD_LOG", "INFO"),
        format=f"%(levelname)s:api-{args.index}[{os.getpid()}]:%(name)s:%(message)s",
    )
    config = SatelliteConfig(**read_spec())
    from common.eventloop import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(_worker(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
