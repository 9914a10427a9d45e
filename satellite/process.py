"""The satellite's process model: one process, or a MAIN process supervising API workers.

``geoshard satellite run --api-workers N`` with N ≥ 2 starts a MAIN process (with whatever
else its ``--role`` serves: admin API, chores, see ``satellite.roles``) that reserves the public port and starts N
copies of ``python -m satellite.process``, each an ``API`` satellite. Every worker binds the
same port with ``SO_REUSEPORT`` and listens on its own socket: the kernel spreads new
connections over the listening sockets by a hash of the client's address and port, so the
gateways' keep-alive connections spread evenly over the workers (one shared accept queue,
the alternative, lets whichever worker wakes first take a whole burst of connections), and
a worker that dies takes only its own connections with it. The reservation is a bound socket
that never listens (the kernel gives connections only to listening sockets): it holds the
port while workers restart and turns port 0 into a number the workers are told.

The worker reads its configuration as one JSON line on stdin (so the MAIN process's
effective configuration, not the file, is what it serves), answers ``ready`` on stdout once
it listens, and stops when stdin reaches EOF: a worker whose parent died goes with it.

The pool restarts a worker that exits while the satellite runs, and logs it; while workers
keep dying soon after they start the delay doubles, up to 30 s, so a bad deploy does not
spin. Closing sends SIGTERM to every worker (they finish in-flight requests), waits, and
SIGKILLs any that lag.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from satellite.config import SatelliteConfig

if TYPE_CHECKING:
    from satellite.peer import Satellite

__all__ = ["ApiWorkerPool", "WorkerStartError", "main", "run_until_signal"]

log = logging.getLogger(__name__)

RESTART_DELAY = 0.5  # seconds before restarting a worker that died
MAX_RESTART_DELAY = 30.0
STABLE_AFTER = 30.0  # a worker that lived this long resets the delay
STOP_TIMEOUT = 15.0  # seconds a worker may take to finish after SIGTERM
READY_TIMEOUT = 60.0


class WorkerStartError(RuntimeError):
    """An API worker exited (or never answered) before it listened."""


class ApiWorkerPool:
    """N API worker processes on one port; built and registered by ``satellite.peer``."""

    def __init__(self, config: SatelliteConfig, count: int, *, python: str = sys.executable) -> None:
        if count < 1:
            raise ValueError("an API worker pool needs at least one worker")
        self.config = config
        self.count = count
        self.python = python
        self.port = 0
        self.restarts = 0
        self._reservation: socket.socket | None = None
        self._procs: list[asyncio.subprocess.Process | None] = [None] * count
        self._relays: set[asyncio.Task[None]] = set()
        self._closing = False
        self._closed = asyncio.Event()
        self._started = asyncio.Event()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p is not None and p.returncode is None]

    def reserve(self) -> int:
        """Hold ``host:port`` with SO_REUSEPORT (without listening); returns the port."""
        if self._reservation is None:
            family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind((self.config.host, self.config.port))
            except BaseException:
                sock.close()
                raise
            self._reservation = sock
            self.port = sock.getsockname()[1]
        return self.port

    async def start(self) -> None:
        """Reserve the port, start every worker and wait until each listens."""
        self.reserve()
        try:
            await asyncio.gather(*(self._spawn(i) for i in range(self.count)))
        except BaseException:
            await self.close()
            raise
        self._started.set()

    async def run(self) -> None:
        """Keep ``count`` workers running until :meth:`close` (start first)."""
        await self._started.wait()
        await asyncio.gather(*(self._supervise(i) for i in range(self.count)))

    async def _spawn(self, index: int) -> None:
        spec = dataclasses.asdict(self.config)
        spec["port"] = self.port
        proc = await asyncio.create_subprocess_exec(
            self.python, "-m", "satellite.process", "--index", str(index),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._procs[index] = proc
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(spec).encode() + b"\n")
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), READY_TIMEOUT)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            rc = await proc.wait()
            raise WorkerStartError(f"API worker {index} exited with {rc} before it listened; see its log above")
        relay = asyncio.create_task(_relay(proc.stdout))
        self._relays.add(relay)
        relay.add_done_callback(self._relays.discard)
        log.info("API worker %d listening (pid %d)", index, proc.pid)

    async def _supervise(self, index: int) -> None:
        delay = RESTART_DELAY
        while not self._closing:
            proc = self._procs[index]
            born = time.monotonic()
            if proc is not None:
                rc = await proc.wait()
                if self._closing:
                    return
                log.error("API worker %d (pid %d) exited with %s; restarting it in %.1f s", index, proc.pid, rc, delay)
            if time.monotonic() - born > STABLE_AFTER:
                delay = RESTART_DELAY
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), delay)
            if self._closing:
                return
            delay = min(delay * 2, MAX_RESTART_DELAY)
            try:
                await self._spawn(index)
                self.restarts += 1
            except WorkerStartError as e:
                log.error("%s", e)

    async def close(self) -> None:
        """SIGTERM every worker, wait for them (SIGKILL after ``STOP_TIMEOUT``), free the port."""
        self._closing = True
        self._closed.set()
        procs = [p for p in self._procs if p is not None]
        for p in procs:
            if p.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                await asyncio.wait_for(p.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.warning("API worker pid %d did not stop within %.0f s; killing it", p.pid, STOP_TIMEOUT)
                with contextlib.suppress(ProcessLookupError):
                    p.kill()
                await p.wait()
        for t in list(self._relays):
            t.cancel()
        if self._reservation is not None:
            self._reservation.close()
            self._reservation = None


async def _relay(stream: asyncio.StreamReader) -> None:
    """Pass on anything a worker prints after ``ready`` (and keep its pipe from filling)."""
    while line := await stream.readline():
        sys.stdout.write(line.decode(errors="replace"))
        sys.stdout.flush()


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


def _watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set ``stop`` when stdin reaches EOF: the MAIN process is gone (or closed the pipe)."""

    def readable() -> None:
        try:
            data = os.read(0, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(0)
            stop.set()

    loop.add_reader(0, readable)


async def _worker(config: SatelliteConfig) -> None:
    from satellite.peer import Satellite
    from satellite.roles import Role

    sat = await Satellite.create(config, role=Role.API, reuse_port=True)
    stop = asyncio.Event()
    _watch_stdin(asyncio.get_running_loop(), stop)

    def ready(_: Satellite) -> None:
        sys.stdout.write("ready\n")
        sys.stdout.flush()

    await run_until_signal(sat, announce=ready, stop=stop)


def _read_line(fd: int) -> bytes:
    """One line from ``fd``, unbuffered (the rest of stdin is only watched for EOF)."""
    line = bytearray()
    while not line.endswith(b"\n"):
        chunk = os.read(fd, 1)
        if not chunk:
            break
        line += chunk
    return bytes(line)


def main(argv: list[str] | None = None) -> int:
    """One API worker: ``python -m satellite.process --index I`` with its config on stdin."""
    ap = argparse.ArgumentParser(prog="python -m satellite.process", description=main.__doc__)
    ap.add_argument("--index", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("GEOSHARD_LOG", "INFO"),
        format=f"%(levelname)s:api-{args.index}[{os.getpid()}]:%(name)s:%(message)s",
    )
    spec: dict[str, Any] = json.loads(_read_line(0))
    config = SatelliteConfig(**spec)
    loop_factory: Any = None
    with contextlib.suppress(ImportError):
        import uvloop  # aiohttp and asyncpg spend less CPU per request on uvloop

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_worker(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
