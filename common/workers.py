"""Worker processes on one port: a parent that supervises them, and the worker's side of the pipe.

A :class:`WorkerPool` (the satellite's ``--api-workers``, the gateway's ``--workers``) reserves
the public port and starts N copies of ``python -m MODULE --index I``. Every worker binds the
same port with ``SO_REUSEPORT`` and listens on its own socket: the kernel spreads new
connections over the listening sockets by a hash of the client's address and port, so
keep-alive connections spread evenly over the workers (one shared accept queue, the
alternative, lets whichever worker wakes first take a whole burst of connections), and a
worker that dies takes only its own connections with it. The reservation is a bound socket
that never listens (the kernel gives connections only to listening sockets): it holds the
port while workers restart and turns port 0 into a number the workers are told.

The worker reads its configuration as one JSON line on stdin (:func:`read_spec`, so the
parent's effective configuration, not a file, is what it serves), answers ``ready`` on stdout
once it listens (:func:`announce_ready`), and stops when stdin reaches EOF
(:func:`watch_stdin`): a worker whose parent died goes with it.

The pool restarts a worker that exits while the parent runs, and logs it; while workers keep
dying soon after they start the delay doubles, up to 30 s, so a bad deploy does not spin.
Closing sends SIGTERM to every worker (they finish in-flight requests), waits, and SIGKILLs
any that lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["WorkerPool", "WorkerStartError", "announce_ready", "read_spec", "watch_stdin"]

log = logging.getLogger(__name__)

RESTART_DELAY = 0.5  # seconds before restarting a worker that died
MAX_RESTART_DELAY = 30.0
STABLE_AFTER = 30.0  # a worker that lived this long resets the delay
STOP_TIMEOUT = 15.0  # seconds a worker may take to finish after SIGTERM
READY_TIMEOUT = 60.0


class WorkerStartError(RuntimeError):
    """A worker exited (or never answered) before it listened."""


class WorkerPool:
    """``count`` processes of ``python -m module`` serving ``host:port``, each given ``spec``
    (with the reserved port) on stdin; ``env`` and ``pass_fds`` are added to each worker's."""

    def __init__(
        self,
        *,
        module: str,
        spec: Mapping[str, Any],
        host: str,
        port: int,
        count: int,
        label: str = "worker",
        python: str = sys.executable,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        if count < 1:
            raise ValueError(f"a pool of {label}s needs at least one worker")
        self.module = module
        self.spec = dict(spec)
        self.host = host
        self.count = count
        self.label = label
        self.python = python
        self.env = {**os.environ, **env} if env else None
        self.pass_fds = tuple(pass_fds)
        self.port = port
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
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind((self.host, self.port))
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
        spec = {**self.spec, "port": self.port}
        proc = await asyncio.create_subprocess_exec(
            self.python, "-m", self.module, "--index", str(index),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=self.env, pass_fds=self.pass_fds,
        )  # fmt: skip
        self._procs[index] = proc
        if self._closing:  # close() took its list of workers while this one was being created
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return
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
            raise WorkerStartError(f"{self.label} {index} exited with {rc} before it listened; see its log above")
        relay = asyncio.create_task(_relay(proc.stdout))
        self._relays.add(relay)
        relay.add_done_callback(self._relays.discard)
        log.info("%s %d listening (pid %d)", self.label, index, proc.pid)

    async def _supervise(self, index: int) -> None:
        delay = RESTART_DELAY
        while not self._closing:
            proc = self._procs[index]
            born = time.monotonic()
            if proc is not None:
                rc = await proc.wait()
                if self._closing:
                    return
                log.error("%s %d (pid %d) exited with %s; restarting it in %.1f s",
                          self.label, index, proc.pid, rc, delay)  # fmt: skip
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
                log.warning("%s pid %d did not stop within %.0f s; killing it", self.label, p.pid, STOP_TIMEOUT)
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


# --- the worker's side ----------------------------------------------------------------------


def read_spec() -> dict[str, Any]:
    """The configuration the pool wrote on stdin (one JSON line, read unbuffered: the rest
    of stdin is only watched for EOF)."""
    line = bytearray()
    while not line.endswith(b"\n"):
        chunk = os.read(0, 1)
        if not chunk:
            break
        line += chunk
    spec: dict[str, Any] = json.loads(bytes(line))
    return spec


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set ``stop`` when stdin reaches EOF: the parent is gone (or closed the pipe)."""

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


def announce_ready() -> None:
    """Tell the pool this worker listens."""
    sys.stdout.write("ready\n")
    sys.stdout.flush()
