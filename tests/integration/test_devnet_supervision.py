"""``geoshard devnet`` under a process supervisor: SIGTERM, SIGKILL and a second devnet.

Real processes throughout. ``docker stop`` and systemd give a service 10 s between SIGTERM
and SIGKILL, so devnet must stop every child within that; a devnet that is SIGKILLed must
not leave its satellite and nodes holding their ports; and a devnet started on a data
directory whose processes still run must refuse, naming them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.devnet_fixture import Devnet, free_port, start_devnet

pytestmark = [pytest.mark.xdist_group("devnet-supervision"), pytest.mark.timeout(400)]

NODES = 6


def _tree(net: Devnet) -> list[psutil.Process]:
    return psutil.Process(net.proc.pid).children(recursive=True)


def _names(procs: list[psutil.Process]) -> list[str]:
    out = []
    for p in procs:
        try:
            out.append(" ".join(p.cmdline()))
        except psutil.Error:
            out.append(f"pid {p.pid}")
    return out


def test_second_devnet_on_the_same_data_refuses_naming_the_running_processes_then_sigterm_stops_all_within_10s(
    tmp_path: Path,
) -> None:
    data = tmp_path / "net"
    net = start_devnet(data, nodes=NODES)
    try:
        children = _tree(net)
        # satellite, NODES nodes and the gateway (the satellite may add API workers)
        assert len(children) >= NODES + 2, _names(children)
        second = subprocess.run(
            [sys.executable, "-m", "geoshard.cli", "devnet", "--data", str(data), "--nodes", str(NODES),
             "--port", str(free_port()), "--satellite-port", str(free_port()), "--admin-port", str(free_port())],
            capture_output=True, text=True, timeout=60,
        )
        assert second.returncode == 1, second.stdout + second.stderr
        assert "still running" in second.stderr
        assert f"devnet (pid {net.proc.pid})" in second.stderr
        assert "satellite (pid " in second.stderr and "gateway (pid " in second.stderr
        assert all(p.is_running() for p in children), "the refused devnet must not touch the running one"
        _join_devnet_adds_a_node_that_the_satellite_sees_online(net)

        started = time.monotonic()
        net.proc.send_signal(signal.SIGTERM)
        code = net.proc.wait(10)
        elapsed = time.monotonic() - started
        _gone, alive = psutil.wait_procs(children, timeout=0.5)
        assert not alive, f"still running {elapsed:.1f}s after SIGTERM: {_names(alive)}"
        assert elapsed < 10, elapsed
        assert code == 0, net.log.read_text()[-2000:]
        assert not (data / "devnet.pids").exists()
    finally:
        if net.proc.poll() is None:
            net.proc.kill()


def test_sigkilled_devnet_takes_every_child_with_it_and_the_next_one_starts(tmp_path: Path) -> None:
    data = tmp_path / "net"
    net = start_devnet(data, nodes=NODES)
    children = _tree(net)
    ports = [c.laddr.port for p in children for c in p.net_connections("tcp") if c.status == psutil.CONN_LISTEN]
    assert len(ports) >= NODES + 3  # satellite API and admin, nodes, gateway
    os.kill(net.proc.pid, signal.SIGKILL)
    net.proc.wait(10)
    _gone, alive = psutil.wait_procs(children, timeout=15)
    try:
        assert not alive, f"left behind by a SIGKILLed devnet: {_names(alive)}"
    finally:
        for p in alive:
            p.kill()

    # The pid file of the killed run names only dead processes now: the next run starts.
    assert (data / "devnet.pids").exists()
    again = start_devnet(data, nodes=NODES)
    try:
        assert again.env["AWS_ACCESS_KEY_ID"] == net.env["AWS_ACCESS_KEY_ID"]
        _banner_rclone_line_lists_buckets(again, tmp_path)
    finally:
        assert again.stop() == 0


def _banner_rclone_line_lists_buckets(net: Devnet, tmp_path: Path) -> None:
    """The rclone line devnet prints, pasted into a shell that sourced devnet.env and carries
    an unrelated AWS_CA_BUNDLE (as many corporate shells do), lists the devnet's buckets."""
    rclone = shutil.which("rclone")
    assert rclone, "rclone is installed by scripts/install-test-tools.sh"
    net.boto3().create_bucket(Bucket="pasted")
    line = next(ln.strip() for ln in net.log.read_text().splitlines() if "rclone lsd" in ln)
    env = {**net.client_env(), "AWS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
           "RCLONE_CONFIG": str(tmp_path / "rclone.conf")}
    script = f". {shlex.quote(str(net.data / 'devnet.env'))}\n{line}\n"
    res = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "pasted" in res.stdout


def _join_devnet_adds_a_node_that_the_satellite_sees_online(net: Devnet) -> None:
    from satellite.admin.client import AdminClient

    admin = AdminClient(net.env["GEOSHARD_ADMIN_URL"], net.env["GEOSHARD_ADMIN_TOKEN"])
    assert len(admin.call("GET", "/v1/nodes")["nodes"]) == NODES
    log = net.data / "join.log"
    # Another node's dashboard on this machine already holds the default dashboard port.
    held = socket.socket()
    with contextlib.suppress(OSError):
        held.bind(("127.0.0.1", 14002))
        held.listen()
    with open(log, "wb") as out:
        argv = [sys.executable, "-m", "geoshard.cli", "node", "join-devnet", "--data", str(net.data)]
        joined = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            online = [n for n in admin.call("GET", "/v1/nodes")["nodes"] if n["online"]]
            if len(online) == NODES + 1:
                break
            assert joined.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        text = log.read_text()
        assert f"node{NODES:02d}" in text and "serving at http://127.0." in text
        assert "geoshard node run --config" in text
        while "dashboard at http://" not in text:  # printed right after "serving at"
            assert "dashboard unavailable" not in text, text
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
            text = log.read_text()
        dashboard = re.search(r"dashboard at (http://\S+)", text)
        assert dashboard and not dashboard.group(1).endswith(":14002"), text
        with urllib.request.urlopen(f"{dashboard.group(1)}/metrics", timeout=10) as r:
            assert b"geoshard_node_pieces" in r.read()
    finally:
        held.close()
        joined.terminate()
        joined.wait(15)
