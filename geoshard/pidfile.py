"""Which processes a devnet started, on disk, so the next one can tell they still run.

``devnet`` records itself and each child (name, pid, start time) in ``DATA/devnet.pids``
as it starts them and removes the file after a clean stop. A new devnet on the same data
directory reads it first: any recorded process that is still alive — the same pid *and*
the same start time, so a recycled pid is not mistaken for it — makes it refuse to start,
naming the processes, instead of failing later with ``address already in use``. Ports held
by anything else are found the same way, by asking the kernel who listens on them.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["PidFile", "Recorded", "busy_ports"]


@dataclass(frozen=True)
class Recorded:
    name: str
    pid: int
    started: float

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid})"


class PidFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: list[Recorded] = []

    def add(self, name: str, pid: int) -> None:
        try:
            started = psutil.Process(pid).create_time()
        except psutil.Error:
            return  # already gone: nothing to warn the next run about
        self._entries.append(Recorded(name, pid, started))
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps([e.__dict__ for e in self._entries], indent=1) + "\n")
        os.replace(tmp, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def still_running(self) -> list[Recorded]:
        """The processes recorded by an earlier run that are alive now."""
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        alive = []
        for item in raw if isinstance(raw, list) else []:
            try:
                rec = Recorded(str(item["name"]), int(item["pid"]), float(item["started"]))
                proc = psutil.Process(rec.pid)
                if abs(proc.create_time() - rec.started) < 0.5 and proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(rec)
            except (KeyError, TypeError, ValueError, psutil.Error):
                continue
        return alive


def busy_ports(addresses: Iterable[tuple[str, int]]) -> list[str]:
    """``host:port (pid N: command)`` for every address that cannot be bound now."""
    busy = []
    for host, port in addresses:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((host, port))
                continue
            except OSError:
                pass
        busy.append(f"{host}:{port}{_owner(port)}")
    return busy


def _owner(port: int) -> str:
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return ""
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            try:
                cmd = " ".join(psutil.Process(c.pid).cmdline())
            except psutil.Error:
                cmd = "?"
            return f" (pid {c.pid}: {cmd[:120]})"
    return ""
