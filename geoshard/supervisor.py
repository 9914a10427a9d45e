"""Run a set of child processes as one unit: start in order, watch, stop in reverse.

``devnet`` (and the compose-less test network) start the satellite, the storage nodes
and the gateway as separate operating-system processes, exactly as an operator would.
The supervisor gives each child its own log file, waits for a readiness probe before
starting the next tier, reports a child that dies (name, exit code and the tail of its
log) instead of carrying on silently, and on stop sends SIGTERM to every child in reverse
start order, escalating to SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Child", "ChildDied", "Supervisor", "http_ready"]


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


def http_ready(url: str) -> Callable[[], bool]:
    """A readiness probe: ``url`` answers with any HTTP status."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except urllib.error.HTTPError:
            return True
        except (OSError, ValueError):
            return False

    return probe


class Supervisor:
    def __init__(self, *, stop_grace: float = 10.0) -> None:
        self.children: list[Child] = []
        self.stop_grace = stop_grace

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
            child.argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        self.children.append(child)
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

    def stop(self) -> None:
        """SIGTERM every child in reverse start order; SIGKILL what outlives the grace period."""
        for c in reversed(self.children):
            if c.proc is not None and c.proc.poll() is None:
                c.proc.send_signal(signal.SIGTERM)
                try:
                    c.proc.wait(self.stop_grace)
                except subprocess.TimeoutExpired:
                    c.proc.kill()
                    c.proc.wait()
        self.children.clear()
