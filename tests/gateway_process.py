"""``geoshard gateway run`` as its own process, against a satellite a test runs (planet's).

For tests about what a gateway *process* does: two gateways sharing one satellite, the
bytes a gateway reads from its sockets (``/proc/PID/io`` of the process and its workers),
what its command line shows, its worker processes.
The satellite token reaches it the way production passes it: a file of mode 0600.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from gateway.config import create_master_key, write_private_file

__all__ = ["GatewayProcess", "gateway_process"]


@dataclass
class GatewayProcess:
    url: str
    proc: asyncio.subprocess.Process
    log: Path
    metrics_url: str = ""  # with ``--metrics-port``

    @property
    def pid(self) -> int:
        return self.proc.pid

    def workers(self) -> list[int]:
        """The pids of its live worker processes (none when it serves S3 itself)."""
        kids = psutil.Process(self.pid).children()
        return [c.pid for c in kids if c.status() != psutil.STATUS_ZOMBIE]

    def bytes_read(self) -> int:
        """Bytes the process and its workers have read through read(2)-like calls (sockets
        included) so far."""
        total = 0
        for pid in [self.pid, *self.workers()]:
            lines = Path(f"/proc/{pid}/io").read_text().splitlines()
            total += next(int(line.split()[1]) for line in lines if line.startswith("rchar:"))
        return total


@contextlib.asynccontextmanager
async def gateway_process(directory: Path, satellite_url: str, token: str, *args: str) -> AsyncIterator[GatewayProcess]:
    """Start a gateway on a free port (``--port 0``; it prints the URL it bound)."""
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "master.key"
    if not key.exists():
        create_master_key(key)
    token_file = directory / "satellite.token"
    write_private_file(token_file, token)
    log = directory / "gateway.log"
    argv = [sys.executable, "-m", "geoshard.cli", "gateway", "run", "--satellite", satellite_url,
            "--satellite-token-file", str(token_file), "--master-key-file", str(key), "--host", "127.0.0.1",
            "--port", "0", *args]  # fmt: skip
    with open(log, "ab") as err:
        proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=err,
                                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            while True:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"gateway exited: {log.read_text()[-3000:]}")
                m = re.search(r"serving S3 at (\S+)", line)
                if m:
                    break
            metrics = ""
            if "--metrics-port" in args:
                metrics = (await proc.stdout.readline()).decode().split(" at ")[-1].strip().removesuffix("/metrics")
        yield GatewayProcess(m.group(1), proc, log, metrics)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(15):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
