"""``geoshard devnet`` as a user runs it: HTTPS, a child that dies, Ctrl-C, and resuming.

One devnet with ``--tls`` and the minimum five nodes: boto3 trusts it through the
``AWS_CA_BUNDLE`` that ``devnet.env`` exports; a storage node killed behind devnet's back
is reported in its output; SIGINT stops every process it started; starting it again on
the same data directory (on other ports) brings back the same network, credentials and
objects.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import boto3
import psutil
import pytest

from tests.devnet_fixture import Devnet, free_port, start_devnet

pytestmark = [pytest.mark.xdist_group("devnet-lifecycle"), pytest.mark.timeout(400)]


def _client(net: Devnet):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=net.endpoint,
        aws_access_key_id=net.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=net.env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
        verify=net.env["AWS_CA_BUNDLE"],
    )


def _children(net: Devnet) -> list[psutil.Process]:
    return psutil.Process(net.proc.pid).children(recursive=True)


def test_devnet_serves_https_reports_a_dead_child_stops_cleanly_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "net"
    net = start_devnet(data, nodes=5, extra=("--tls",))
    try:
        assert net.endpoint.startswith("https://")
        assert Path(net.env["AWS_CA_BUNDLE"]).is_file()
        s3 = _client(net)
        s3.create_bucket(Bucket="photos", CreateBucketConfiguration={"LocationConstraint": "eu"})
        body = os.urandom(300_000)
        s3.put_object(Bucket="photos", Key="cat.jpg", Body=body)
        assert s3.get_object(Bucket="photos", Key="cat.jpg")["Body"].read() == body
        _banner_rclone_line_lists(net, "photos", tmp_path)

        # A node killed behind devnet's back is reported, not silently ignored.
        children = _children(net)
        node = next(p for p in children if "node" in p.cmdline() and "run" in p.cmdline())
        node.kill()
        deadline = time.monotonic() + 30
        while b"exited with code" not in net.log.read_bytes():
            assert time.monotonic() < deadline, net.log.read_text()[-2000:]
            time.sleep(0.2)

        # Ctrl-C stops every process devnet started.
        children = _children(net)
        assert net.stop() == 0
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, f"still running after devnet stopped: {[p.cmdline() for p in alive]}"
    finally:
        if net.proc.poll() is None:
            net.proc.send_signal(signal.SIGKILL)

    again = start_devnet(data, nodes=5, extra=("--tls",))
    try:
        assert again.env["AWS_ACCESS_KEY_ID"] == net.env["AWS_ACCESS_KEY_ID"]
        assert _client(again).get_object(Bucket="photos", Key="cat.jpg")["Body"].read() == body
    finally:
        assert again.stop() == 0


def _banner_rclone_line_lists(net: Devnet, bucket: str, tmp_path: Path) -> None:
    """The rclone line the banner prints, pasted after ``. devnet.env`` (which exports the
    devnet's AWS_CA_BUNDLE), trusts the self-signed certificate and lists the bucket."""
    line = next(ln.strip() for ln in net.log.read_text().splitlines() if "rclone" in ln and "lsd" in ln)
    assert "--ca-cert" in line
    script = f". {shlex.quote(str(net.data / 'devnet.env'))}\n{line}\n"
    env = {**os.environ, "RCLONE_CONFIG": str(tmp_path / "rclone.conf")}
    res = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert bucket in res.stdout


def _layout_backends(data: Path) -> dict[str, set[str]]:
    """Object key → the erasure backends its segments record, read from the satellite."""
    with sqlite3.connect(data / "satellite" / "satellite.db") as db:
        rows = db.execute(
            "SELECT o.key, s.layout FROM segments s JOIN objects o ON o.id = s.object_id WHERE s.layout IS NOT NULL"
        ).fetchall()
    out: dict[str, set[str]] = {}
    for key, layout in rows:
        out.setdefault(key.decode() if isinstance(key, bytes) else key, set()).add(json.loads(layout)["backend"])
    return out


def test_zfec_segments_written_before_an_upgrade_read_back_through_an_upgraded_gateway(tmp_path: Path) -> None:
    """The rolling upgrade of docs/admin.md: a gateway pinned to zfec wrote; a second gateway
    of the same network, unpinned, reads that object and codes new ones with ISA-L."""
    data = tmp_path / "net"
    net = start_devnet(data, nodes=5, env={"GEOSHARD_ERASURE_BACKEND": "zfec"})
    upgraded: subprocess.Popen[bytes] | None = None
    try:
        s3 = net.boto3()
        s3.create_bucket(Bucket="logs", CreateBucketConfiguration={"LocationConstraint": "eu"})
        old = os.urandom(300_000)
        s3.put_object(Bucket="logs", Key="before.bin", Body=old)
        assert _layout_backends(data) == {"before.bin": {"zfec"}}

        # The same gateway command, on another port, without the pin.
        pinned = next(p for p in _children(net) if "gateway" in p.cmdline() and "run" in p.cmdline())
        argv = pinned.cmdline()
        if "--parent" in argv:  # a parent of gateway workers shows the command that started it after "--"
            argv = argv[argv.index("--") + 1 :]
        port = free_port()
        argv[argv.index("--port") + 1] = str(port)
        env = {k: v for k, v in os.environ.items() if k != "GEOSHARD_ERASURE_BACKEND"}
        upgraded = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert upgraded.poll() is None and time.monotonic() < deadline, "the second gateway did not start"
                time.sleep(0.2)
        s3 = net.boto3(endpoint_url=endpoint)
        assert s3.get_object(Bucket="logs", Key="before.bin")["Body"].read() == old
        ranged = s3.get_object(Bucket="logs", Key="before.bin", Range="bytes=1000-200999")["Body"].read()
        assert ranged == old[1000:201000]
        new = os.urandom(300_000)
        s3.put_object(Bucket="logs", Key="after.bin", Body=new)
        assert s3.get_object(Bucket="logs", Key="after.bin")["Body"].read() == new
        # The pinned gateway reads it too: a pin only chooses how new segments are coded.
        assert net.boto3().get_object(Bucket="logs", Key="after.bin")["Body"].read() == new
        assert _layout_backends(data) == {"before.bin": {"zfec"}, "after.bin": {"isal"}}
    finally:
        if upgraded is not None:
            upgraded.terminate()
            upgraded.wait(30)
        assert net.stop() == 0
