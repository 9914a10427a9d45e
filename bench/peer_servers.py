"""The S3 servers ``bench/peers.py`` compares, and their CPU from ``/proc``.

Each server is started on a free port in a temporary directory and stopped by ``close()``:

* **geoshard**: a whole ``geoshard devnet`` (satellite, ``--nodes`` storage nodes and the
  gateway, each its own process); its CPU is every process in ``DATA/devnet.pids`` (and their
  children, the satellite's API workers say), the supervisor itself excluded;
* **moto**: ``python -m moto.server`` (moto 5, a test dependency), objects in RAM;
* **s3rver**: npm ``s3rver`` 3.7.1 (``scripts/install-test-tools.sh`` installs it into
  ``.tools/npm``), objects as files.

CPU is user + system time from ``/proc/PID/stat``, so it is the server's own work whatever
else the machine runs. ``others_cores`` is the machine's busy time (``/proc/stat``) less this
benchmark's whole process tree, in cores: the load from other processes beside each figure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.devnet_fixture import Devnet, free_port, start_devnet

ROOT = Path(__file__).resolve().parent.parent
S3RVER = ROOT / ".tools" / "npm" / "node_modules" / "s3rver" / "bin" / "s3rver.js"
TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one live process, 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def _tree(pid: int) -> list[int]:
    try:
        return [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def machine_busy() -> float:
    """CPU seconds all processes of the machine have spent since boot (not idle, not iowait)."""
    cols = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(cols[:8]) - cols[3] - cols[4]) / TICK


def own_tree_cpu() -> float:
    """CPU seconds of this process, its reaped children and every live descendant."""
    t = os.times()
    own = t.user + t.system + t.children_user + t.children_system
    return own + sum(_proc_cpu(p) for p in _tree(os.getpid())[1:])


@dataclass
class Server:
    """One server under test: endpoint, credentials and the processes whose CPU is its own."""

    name: str
    endpoint: str
    access_key: str
    secret_key: str
    roles: dict[str, list[int]]  # role → pids (their children are counted too)
    stop: list[subprocess.Popen[bytes]] = field(default_factory=list)
    devnet: Devnet | None = None

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far per role, and ``all``."""
        out = {role: sum(_proc_cpu(p) for pid in pids for p in _tree(pid)) for role, pids in self.roles.items()}
        out["all"] = sum(out.values())
        return out

    def worker_cpu(self) -> dict[int, float]:
        """CPU seconds so far of each worker process of the gateway role (none for one process)."""
        return {p: _proc_cpu(p) for pid in self.roles.get("gateway", []) for p in _tree(pid)[1:]}

    def close(self) -> None:
        for proc in self.stop:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.devnet is not None:
            self.devnet.stop()


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # answering at all is enough
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _answering(server: Server) -> Server:
    """``server`` once its endpoint answers HTTP; stopped if it never does."""
    try:
        wait_http(server.endpoint + "/")
    except OSError:
        server.close()
        raise
    return server


def start_geoshard(tmp: Path, nodes: int) -> Server:
    data = tmp / "devnet"
    net = start_devnet(data, nodes=nodes, timeout=400)
    roles: dict[str, list[int]] = {"gateway": [], "satellite": [], "nodes": []}
    for entry in json.loads((data / "devnet.pids").read_text()):
        name = entry["name"]
        if name == "devnet":
            continue  # the supervisor only waits on its children
        roles["gateway" if "gateway" in name else "satellite" if "satellite" in name else "nodes"].append(entry["pid"])
    env = net.env
    return Server("geoshard", net.endpoint, env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], roles,
                  devnet=net)  # fmt: skip


def start_moto(tmp: Path) -> Server:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return _answering(Server("moto", f"http://127.0.0.1:{port}", "testing", "testing", {"moto": [proc.pid]}, [proc]))


def start_s3rver(tmp: Path) -> Server:
    if not S3RVER.exists() or shutil.which("node") is None:
        raise RuntimeError(f"no s3rver at {S3RVER}: run scripts/install-test-tools.sh (needs node and npm)")
    port, data = free_port(), tmp / "s3rver"
    data.mkdir()
    # s3rver's continuation tokens use DES, which Node 17+ (OpenSSL 3) has only in its legacy provider.
    argv = ["node", "--openssl-legacy-provider", str(S3RVER), "-d", str(data), "-a", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen([*argv, "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return _answering(Server("s3rver", f"http://127.0.0.1:{port}", "S3RVER", "S3RVER", {"s3rver": [proc.pid]}, [proc]))
