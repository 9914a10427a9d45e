"""Satellite, storage nodes and gateway as separate hosts: one Linux network namespace each.

Every process runs in a namespace of its own with its own address on its own /24
(``10.201.N.2``), all joined by one bridge in the test's namespace (on-link routes for
``10.201.0.0/16``, so no forwarding is switched on for the machine). The satellite sees
each node check in from the node's own address, the one-piece-per-/24 placement rule
spreads a segment over five real networks, and an S3 client outside every namespace
writes and reads through the gateway's address. Needs root and ``ip netns`` (iproute2).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

pytestmark = [pytest.mark.xdist_group("netns"), pytest.mark.timeout(600)]

NODES = 5
PLACES = [("DE", "eu"), ("FR", "eu"), ("NL", "eu"), ("US", "na"), ("CA", "na")]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _netns_available() -> str | None:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return "needs root and iproute2's `ip`"
    probe = f"gsprobe{secrets.token_hex(3)}"
    try:
        _ip("netns", "add", probe)
        _ip("netns", "del", probe)
    except (subprocess.CalledProcessError, OSError) as e:
        return f"`ip netns` does not work here: {e}"
    return None


class Hosts:
    """Namespaces on one bridge; ``host(i)`` is ``10.201.i.2``, the bridge ``10.201.255.1``."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(2)
        self.bridge = f"gsbr{self.tag}"
        self.names: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []

    def setup(self, count: int) -> None:
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", "10.201.255.1/16", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for i in range(count):
            ns, outside = f"gs{self.tag}h{i}", f"gs{self.tag}v{i}"
            _ip("netns", "add", ns)
            self.names.append(ns)
            _ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("link", "set", outside, "master", self.bridge, "up")
            _ip("-n", ns, "addr", "add", f"{self.host(i)}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "route", "add", "10.201.0.0/16", "dev", "eth0", "scope", "link")

    @staticmethod
    def host(i: int) -> str:
        return f"10.201.{i}.2"

    def run(self, i: int, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with open(log, "ab") as out:
            proc = subprocess.Popen(["ip", "netns", "exec", self.names[i], *argv], stdout=out,
                                    stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        self.procs.append(proc)
        return proc

    def check(self, i: int, argv: list[str]) -> str:
        res = subprocess.run(["ip", "netns", "exec", self.names[i], *argv], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    def teardown(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for ns in self.names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    why = _netns_available()
    if why:
        pytest.skip(why)
    h = Hosts()
    try:
        h.setup(NODES + 2)
        yield h
    finally:
        h.teardown()


def _wait(cond, what: str, timeout: float = 180.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_satellite_nodes_and_gateway_on_separate_hosts_place_and_serve_an_object(
    hosts: Hosts, tmp_path: Path
) -> None:
    from satellite.admin.client import AdminClient
    from satellite.config import load_config, save_config

    geoshard = [sys.executable, "-m", "geoshard.cli"]
    sat_host, gw_host = hosts.host(0), hosts.host(NODES + 1)
    sat_dir, gw_toml, key = tmp_path / "sat", tmp_path / "gateway.toml", tmp_path / "master.key"
    hosts.check(0, [*geoshard, "satellite", "init", "--data", str(sat_dir), "--host", sat_host, "--admin-host",
                    sat_host, "--gateway-config", str(gw_toml), "--master-key-file", str(key)])  # fmt: skip
    cfg = load_config(sat_dir / "satellite.json")
    cfg.checkin_interval, cfg.online_window, cfg.new_node_fraction, cfg.min_free_bytes = 2, 60, 1.0, 0
    cfg.node_cache_ttl = 0.5
    save_config(cfg, sat_dir / "satellite.json")
    hosts.run(0, [*geoshard, "satellite", "run", "--config", str(sat_dir / "satellite.json")], tmp_path / "sat.log")
    admin = AdminClient(f"http://{sat_host}:7778", cfg.admin_token)

    def admin_up() -> bool:
        try:
            admin.call("GET", "/v1/nodes")
            return True
        except Exception:
            return False

    _wait(admin_up, "the satellite")
    # Every node host runs `node init` (which asks the satellite for its id) and then `node run`.
    for i in range(1, NODES + 1):
        country, region = PLACES[i - 1]
        config = tmp_path / f"node{i}" / "config.toml"
        init = [*geoshard, "node", "init", "--data", str(config.parent), "--capacity", "1GB", "--country", country,
                "--region", region, "--wallet", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                "--satellite", f"http://{sat_host}:7777", "--listen-host", hosts.host(i), "--port", "7777"]
        run = [*geoshard, "node", "run", "--config", str(config)]
        script = " ".join(shlex.quote(a) for a in init) + " && exec " + " ".join(shlex.quote(a) for a in run)
        hosts.run(i, ["sh", "-c", script], tmp_path / f"node{i}.log")
    _wait(lambda: sum(n["online"] for n in admin.call("GET", "/v1/nodes")["nodes"]) == NODES, "check-ins")
    nodes = admin.call("GET", "/v1/nodes")["nodes"]
    assert sorted(n["address"] for n in nodes) == [f"http://{hosts.host(i)}:7777" for i in range(1, NODES + 1)]

    hosts.check(NODES + 1, [*geoshard, "gateway", "init", "--master-key-file", str(key)])
    hosts.run(NODES + 1, [*geoshard, "gateway", "run", "--config", str(gw_toml), "--host", gw_host, "--port", "9000"],
              tmp_path / "gateway.log")  # fmt: skip
    admin.call("POST", "/v1/policies", {"name": "spread", "scheme": "2/3/4/5", "min_countries": 2})
    tenant = admin.call("POST", "/v1/tenants", {"name": "t", "default_policy": "spread"})
    k = admin.call("POST", admin.path("v1", "tenants", tenant["id"], "keys"))
    s3 = boto3.client("s3", endpoint_url=f"http://{gw_host}:9000", aws_access_key_id=k["access_key_id"],
                      aws_secret_access_key=k["secret_access_key"], region_name="us-east-1")  # fmt: skip

    def gateway_up() -> bool:
        try:
            s3.list_buckets()
            return True
        except Exception:
            return False

    _wait(gateway_up, "the gateway")
    s3.create_bucket(Bucket="hosts")
    body = os.urandom(500_000)
    s3.put_object(Bucket="hosts", Key="o", Body=body)
    assert s3.get_object(Bucket="hosts", Key="o")["Body"].read() == body
    report = admin.call("GET", "/v1/buckets/hosts/report")
    # At least success = 4 pieces, one per node, each node on a /24 of its own: placement
    # counted five real networks (on one /24 it could have placed only one piece).
    assert report["pieces"] >= 4 and report["compliant"], json.dumps(report)[:500]
    assert len(report["pieces_by_country"]) >= 3, report["pieces_by_country"]
