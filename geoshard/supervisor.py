"""Run a set of child processes as one unit: start in order, watch, stop in reverse.

``devnet`` (and the compose-less test network) start the satellite, the storage nodes
and the gateway as separate operating-system processes, exactly as an operator would.
The supervisor gives each child its own log file, waits for a readiness probe before
starting the next tier, reports a child that dies (name, exit code and the tail of its
log) instead of carrying on silently, and on stop sends SIGTERM to every child in reverse
start order, escalating to SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Child", "ChildDied", "Supervisor", "die_with_parent", "http_ready"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


# Loaded once in the parent: the pre-exec hook runs between fork and exec, where loading a
# library is not safe.
_LIBC = _load_libc()


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when its parent dies.

    ``None`` where the platform has no ``PR_SET_PDEATHSIG``. The kernel ties the signal to
    the *thread* that forked, so the supervisor must start children from a thread that
    lives as long as it does (devnet starts them from its main thread). A parent that died
    between fork and prctl is caught by comparing the parent pid afterwards.
    """
    if _LIBC is None:
        return None
    libc, parent = _LIBC, os.getpid()

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return preexec


class ChildDied(RuntimeError):
    """A supervised process exited while it should have been running."""


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    ready: Callable[[], bool] | None = None
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    reported: bool = False

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def http_ready(url: str, context: ssl.SSLContext | None = None) -> Callable[[], bool]:
    """A readiness probe: ``url`` answers with any HTTP status (over TLS with ``context``)."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1, context=context):
                return True
        except urllib.error.HTTPError:
            return True
        except (OSError, ValueError):
            return False

    return probe


class Supervisor:
    """``stop_grace``: seconds from the first SIGTERM to SIGKILL of whatever still runs;
    ``first_tier_grace``: the part of it the last-started child gets to itself."""

    def __init__(
        self,
        *,
        stop_grace: float = 7.0,
        first_tier_grace: float = 2.0,
        on_start: Callable[[Child], None] | None = None,
    ) -> None:
        self.children: list[Child] = []
        self.on_start = on_start
        self.stop_grace = stop_grace
        self.first_tier_grace = first_tier_grace

    def start(self, child: Child, *, ready_timeout: float = 30.0, wait: bool = True) -> None:
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(child.log_path, "ab")  # noqa: SIM115 - the child owns it from here on
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        if child.env:
            env.update(child.env)
        # A new process group: Ctrl-C in the terminal reaches only the supervisor, which
        # then stops the children in order instead of all of them dying at once.
        child.proc = subprocess.Popen(
            child.argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        log.close()
        self.children.append(child)
        if self.on_start is not None:
            self.on_start(child)
        if wait and child.ready is not None:
            self.wait_ready([child], timeout=ready_timeout)

    def wait_ready(self, children: Sequence[Child], *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = [c for c in children if c.ready is not None]
        while waiting:
            for c in list(waiting):
                self._check_alive(c)
                if c.ready is not None and c.ready():
                    waiting.remove(c)
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(c.name for c in waiting)
                raise ChildDied(f"not ready after {timeout:.0f}s: {names} (logs: {waiting[0].log_path})")
            time.sleep(0.1)

    def _check_alive(self, child: Child) -> None:
        if child.proc is not None and child.proc.poll() is not None:
            raise ChildDied(
                f"{child.name} exited with code {child.proc.returncode}; last lines of "
                f"{child.log_path}:\n{child.log_tail()}"
            )

    def dead_children(self) -> list[Child]:
        """Children that exited since the last call (each reported once)."""
        dead = []
        for c in self.children:
            if c.proc is not None and c.proc.poll() is not None and not c.reported:
                c.reported = True
                dead.append(c)
        return dead

    def watch(self, *, interval: float = 0.5, out: Callable[[str], None] | None = None) -> None:
        """Block until SIGINT/SIGTERM, reporting any child that dies meanwhile."""
        say = out or (lambda s: print(s, file=sys.stderr, flush=True))
        stopping = False

        def on_signal(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        old_int = signal.signal(signal.SIGINT, on_signal)
        old_term = signal.signal(signal.SIGTERM, on_signal)
        try:
            while not stopping:
                for c in self.dead_children():
                    say(
                        f"!! {c.name} exited with code {c.proc.returncode if c.proc else '?'}; "
                        f"last lines of {c.log_path}:\n{c.log_tail()}"
                    )
                time.sleep(interval)
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)

    def running(self) -> list[Child]:
        return [c for c in self.children if c.proc is not None and c.proc.poll() is None]

    def stop(self) -> list[str]:
        """Stop the last-started child first, then all the others at once, within ``stop_grace``;
        the names of the children that had to be SIGKILLed."""
        deadline = time.monotonic() + self.stop_grace
        alive = self.running()
        lagging: list[Child] = []
        if alive:
            first, rest = alive[-1], alive[:-1]
            _terminate([first], min(deadline, time.monotonic() + self.first_tier_grace))
            _terminate(rest, deadline)
            lagging = [c for c in alive if c.proc is not None and c.proc.poll() is None]
            _kill(lagging)
        self.children.clear()
        return [c.name for c in lagging]


def _terminate(children: Sequence[Child], deadline: float) -> None:
    """SIGTERM every child, then wait for them together until ``deadline``."""
    for c in children:
        if c.proc is not None and c.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                c.proc.send_signal(signal.SIGTERM)
    for c in children:
        if c.proc is None:
            continue
        try:
            c.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass


def _kill(children: Sequence[Child]) -> None:
    for c in children:
        if c.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                c.proc.kill()
            c.proc.wait()

