"""``geoshard gateway run`` as its own process, against a satellite a test runs (planet's).

For tests about what a gateway *process* does: two gateways sharing one satellite, the
bytes a gateway reads from its sockets (``/proc/PID/io``), what its command line shows.
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

from gateway.config import create_master_key, write_private_file

__all__ = ["GatewayProcess", "gateway_process"]


@dataclass
class GatewayProcess:
    url: str
    proc: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def bytes_read(self) -> int:
        """Bytes the process has read through read(2)-like calls (sockets included) so far."""
        for line in Path(f"/proc/{self.pid}/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
        raise RuntimeError("no rchar in /proc/PID/io")


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
        yield GatewayProcess(m.group(1), proc, log)
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(15):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
