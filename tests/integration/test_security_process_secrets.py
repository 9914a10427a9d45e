"""Finding 4 of issue 16: no secret of a devnet is on any process's command line.

Any local user can read every process's arguments (``ps``, ``/proc/PID/cmdline``), so the
gateway's satellite token, the admin token, tenants' secret keys and the master key must
reach processes by file (mode 0600) or environment (``/proc/PID/environ`` is the owner's
alone). The test starts a real ``geoshard devnet`` and reads the command line of it and
every process under it; it also checks the files that hold secrets are 0600, and that the
gateway's token opens the metainfo API only, not the admin API.
"""

from __future__ import annotations

import json
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from satellite.config import load_config
from tests.devnet_fixture import Devnet, start_devnet

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.timeout(600)]


@pytest.fixture
def small_devnet(tmp_path: Path) -> Iterator[Devnet]:
    """Five nodes, the fewest devnet runs: the test reads processes, it stores nothing."""
    net = start_devnet(tmp_path / "devnet", nodes=5, timeout=400)
    try:
        yield net
    finally:
        net.stop()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _status(url: str, token: str, method: str = "GET", body: bytes | None = None) -> int:
    req = urllib.request.Request(url, data=body, method=method, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_no_devnet_process_has_a_secret_in_its_arguments_and_secret_files_are_0600(small_devnet: Devnet) -> None:
    devnet = small_devnet
    cfg_path = devnet.data / "satellite" / "satellite.json"
    cfg = load_config(cfg_path)
    tenant = json.loads((devnet.data / "devnet-tenant.json").read_text())
    master_key = (devnet.data / "gateway" / "master.key").read_text().strip()
    secrets = {"gateway token": cfg.gateway_token, "admin token": cfg.admin_token,
               "tenant secret key": tenant["secret_key"], "master key": master_key}  # fmt: skip
    pids = _descendants(devnet.proc.pid)
    cmdlines = {}
    for pid in pids:
        try:
            cmdlines[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # exited meanwhile
    assert any(" gateway run " in c for c in cmdlines.values()), f"no gateway among {cmdlines}"
    assert sum(" node run " in c for c in cmdlines.values()) >= 5
    leaks = [f"{what} in pid {pid}: {line}"
             for pid, line in cmdlines.items() for what, secret in secrets.items() if secret in line]  # fmt: skip
    assert not leaks, "\n".join(leaks)

    for path in (cfg_path, devnet.data / "devnet.env", devnet.data / "devnet-tenant.json",
                 devnet.data / "gateway" / "satellite.token", devnet.data / "gateway" / "master.key"):  # fmt: skip
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is mode {mode:o}"

    # The gateway token opens the metainfo API and nothing of the admin API.
    admin_url, api_url = devnet.env["GEOSHARD_ADMIN_URL"], f"http://127.0.0.1:{cfg.port}"
    assert _status(f"{admin_url}/v1/nodes", cfg.gateway_token) == 401
    assert _status(f"{admin_url}/v1/tenants", cfg.gateway_token) == 401
    assert _status(f"{admin_url}/v1/nodes", cfg.admin_token) == 200
    assert _status(f"{api_url}/api/v1/metainfo/bucket/list", cfg.admin_token, "POST", b"{}") == 401
