"""A Geoshard network of separate processes that a test can kill one at a time.

``geoshard devnet`` runs every process under one supervisor, which is what a user wants and
not what a crash test needs: here the satellite, each storage node and the gateway are
started by the test itself (``geoshard satellite run``, ``geoshard node run``,
``geoshard gateway run``, each in its own session) so that any one of them can be stopped
(SIGSTOP), killed (SIGKILL) and started again on the same data directory and port while the
others keep running.

The satellite's timing is shortened so that garbage collection is observable in seconds:
segment tokens and orders live ``ttl`` seconds, retain lists go out back to back, and nodes
empty their trash half a second after a list condemned a piece. Audits, repair and exit
chores are slowed down to keep the two cores for the test's own traffic.

Kill points are made deterministic by what can be observed from outside the processes:
piece files on the nodes' disks (``blobs/`` and ``tmp/``), bytes waiting in a stopped
process's socket (``/proc/net/tcp``), and the request body the test itself streams.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from botocore.config import Config
from botocore.credentials import Credentials
from sqlalchemy import func, select
from yarl import URL

from erasure.merkle import leaf_count
from gateway.config import write_private_file
from satellite.admin.client import AdminClient
from satellite.config import load_config, save_config
from satellite.db import create_database
from satellite.db.models import Node, PieceRow, SegmentRow
from storage_node.config import NodeConfig
from storage_node.pieces.format import header_length
from storage_node.pieces.store import SpaceUsage, scan_usage
from tests.devnet_fixture import _free_range, free_port
from tests.s3_requests import sign
from tests.satellite_fixtures import drop_pg_database, fresh_pg_database

__all__ = ["ChaosNet", "Proc", "StreamingPut", "running_net", "start_net", "wait_for"]

GEOSHARD = [sys.executable, "-m", "geoshard.cli"]
PLACES = (("DE", "eu"), ("FR", "eu"), ("NL", "eu"), ("US", "na"), ("CA", "na"), ("DE", "eu"))
DEADLINE = 60.0  # the longest any one wait may take on a loaded machine (a bound, not a timing)


async def wait_for(what: str, check: Callable[[], Any], *, timeout: float = DEADLINE, every: float = 0.05) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


def _http_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


@dataclass
class Proc:
    """One ``geoshard`` process, in its own session so that a kill reaches it alone."""

    name: str
    argv: list[str]
    log: Path
    ready_url: str
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)  # fmt: skip

    async def ready(self) -> None:
        def up() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise AssertionError(f"{self.name} exited before it was ready:\n{tail}")
            return _http_up(self.ready_url)

        await wait_for(f"{self.name} to answer {self.ready_url}", lambda: asyncio.to_thread(up))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            os.killpg(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the process (and anything it started): no handler, no cleanup runs."""
        if self.proc is None:
            return
        with_group = self.alive()
        if with_group:
            os.killpg(self.pid, signal.SIGKILL)
        self.proc.wait(DEADLINE)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.pid, signal.SIGCONT)
            os.killpg(self.pid, signal.SIGTERM)
            try:
                assert self.proc is not None
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class NodeProc(Proc):
    config_path: Path = Path()
    data_dir: Path = Path()
    host: str = ""
    port: int = 0
    node_id: str = ""

    def blobs(self) -> set[str]:
        """Piece ids committed on this node's disk."""
        out = set()
        for shard in (self.data_dir / "blobs").iterdir():
            out.update(f.name[:-4] for f in shard.iterdir() if f.name.endswith(".gsp"))
        return out

    def partial(self) -> list[Path]:
        """Uploads in progress: the unnamed files the running node holds open (each as its
        ``/proc/PID/fd`` link, which ``stat`` follows), and any named ones in ``tmp/`` (the
        fallback where the filesystem lacks O_TMPFILE, and what a crash there leaves)."""
        tmp = self.data_dir / "tmp"
        named = sorted(tmp.iterdir()) if tmp.is_dir() else []
        unnamed = []
        if self.alive():
            fds = Path(f"/proc/{self.pid}/fd")
            for fd in fds.iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith(str(self.data_dir)) and target.endswith(" (deleted)") and "/#" in target:
                        unnamed.append(fd)
        return named + unnamed

    def usage(self) -> SpaceUsage:
        return scan_usage(self.data_dir)

    def queued_bytes(self) -> int:
        """Bytes peers sent to this node that it has not read: its sockets' receive queues."""
        return sum(rx for port, rx in _tcp_rx_queues(self.host) if port == self.port)


def _tcp_rx_queues(host: str) -> list[tuple[int, int]]:
    """(local port, rx queue) of established IPv4 sockets bound to ``host``."""
    a, b, c, d = (int(x) for x in host.split("."))
    want = f"{d:02X}{c:02X}{b:02X}{a:02X}"  # /proc/net/tcp prints the address little-endian
    out = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        addr, port = fields[1].split(":")
        if addr == want and fields[3] == "01":
            out.append((int(port, 16), int(fields[4].split(":")[1], 16)))
    return out


@dataclass
class ChaosNet:
    data: Path
    satellite: Proc
    sat_config: Path
    nodes: list[NodeProc]
    gateway: Proc
    endpoint: str
    access_key: str
    secret_key: str
    admin: AdminClient
    database_url: str
    segment_size: int
    scheme: tuple[int, int, int, int]
    _db: Any = field(default=None, repr=False)

    # --- processes -----------------------------------------------------------------------

    async def restart(self, proc: Proc) -> None:
        proc.kill()
        proc.start()
        await proc.ready()

    def set_segment_size(self, size: int) -> None:
        """The gateway's ``--segment-size`` from its next start on."""
        argv = self.gateway.argv
        argv[argv.index("--segment-size") + 1] = str(size)
        self.segment_size = size

    async def start_all(self) -> None:
        self.satellite.start()
        await self.satellite.ready()
        for n in self.nodes:
            n.start()
        await asyncio.gather(*(n.ready() for n in self.nodes))

    def stop_all(self) -> None:
        procs = (self.gateway, *self.nodes, self.satellite)
        for p in procs:  # all at once: each stop may take a second on a loaded machine
            if p.alive():
                os.killpg(p.pid, signal.SIGCONT)
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            p.stop()

    # --- clients -------------------------------------------------------------------------

    def s3(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name="us-east-1",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=60),
        )  # fmt: skip

    def credentials(self) -> Credentials:
        return Credentials(self.access_key, self.secret_key)

    async def db(self):  # type: ignore[no-untyped-def]
        if self._db is None:
            self._db = create_database(self.database_url, pool_size=2)
        return self._db

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()

    # --- what the satellite and the disks say --------------------------------------------

    async def live_bytes(self) -> dict[str, tuple[int, int]]:
        """Per node: (piece count, bytes of piece files) that the satellite's rows reference."""
        out = {n.node_id: (0, 0) for n in self.nodes}
        db = await self.db()
        async with db.read() as s:
            rows = await s.execute(
                select(PieceRow.node_id, PieceRow.size, SegmentRow.layout).join(
                    SegmentRow, SegmentRow.id == PieceRow.segment_id
                )
            )
            for node_id, size, layout in rows:
                count, total = out[node_id]
                out[node_id] = (count + 1, total + header_length(leaf_count(size, layout["share_size"])) + size)
        return out

    async def disk_matches_live(self) -> bool:
        """Every node's disk holds exactly the referenced pieces: no garbage, no trash, no temp file."""
        live = await self.live_bytes()
        for n in self.nodes:
            u = n.usage()
            if (u.piece_count, u.pieces, u.trash, len(n.partial())) != (*live[n.node_id], 0, 0):
                return False
        return True

    async def reported_used(self) -> dict[str, int]:
        """What each node last reported as used space in its check-in."""
        db = await self.db()
        async with db.read() as s:
            return dict((await s.execute(select(Node.id, Node.used))).all())  # type: ignore[arg-type]

    async def piece_row_count(self) -> int:
        db = await self.db()
        async with db.read() as s:
            return int((await s.execute(select(func.count()).select_from(PieceRow))).scalar_one())

    def blobs(self) -> dict[str, set[str]]:
        return {n.node_id: n.blobs() for n in self.nodes}

    def new_blobs(self, before: dict[str, set[str]]) -> int:
        return sum(len(n.blobs() - before[n.node_id]) for n in self.nodes)


class StreamingPut:
    """A PutObject (or UploadPart) whose body the test releases in steps.

    The body is sent aws-chunked (``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, as recent AWS SDKs
    send it) with a CRC32 trailer. ``hold_at`` bytes go out at once; the rest, the final
    zero-length chunk and the trailer wait for :meth:`release`. Holding back only the final
    chunk leaves a gateway that has landed every segment and waits for the end of the body:
    the request's state right before its commit.
    """

    def __init__(self, net: ChaosNet, bucket: str, key: str, data: bytes, hold_at: int,
                 query: dict[str, str] | None = None) -> None:  # fmt: skip
        self.net, self.data, self.hold_at = net, data, hold_at
        self._release = asyncio.Event()
        qs = "&".join(f"{k}={v}" for k, v in (query or {}).items())
        self.url = f"{net.endpoint}/{bucket}/{key}" + (f"?{qs}" if qs else "")
        self.sent = 0
        self.task: asyncio.Task[tuple[int, dict[str, str], bytes]] | None = None

    def release(self) -> None:
        self._release.set()

    async def _body(self) -> AsyncIterator[bytes]:
        step = 256 * 1024
        for start in range(0, self.hold_at, step):
            chunk = self.data[start : min(start + step, self.hold_at)]
            self.sent += len(chunk)
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
        await self._release.wait()
        for start in range(self.hold_at, len(self.data), step):
            chunk = self.data[start : start + step]
            self.sent += len(chunk)
            yield b"%x\r\n%s\r\n" % (len(chunk), chunk)
        crc = base64.b64encode(zlib.crc32(self.data).to_bytes(4, "big")).decode()
        yield f"0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n".encode()

    async def _send(self) -> tuple[int, dict[str, str], bytes]:
        headers = {
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": str(len(self.data)),
            "x-amz-trailer": "x-amz-checksum-crc32",
        }
        req = sign("v4", "PUT", self.url, b"", headers, credentials=self.net.credentials(),
                   payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER").prepare()  # fmt: skip
        sent_headers = {k: v for k, v in req.headers.items() if k.lower() != "content-length"}
        async with (
            aiohttp.ClientSession() as session,
            session.put(
                URL(req.url, encoded=True), data=self._body(), headers=sent_headers, skip_auto_headers=("Content-Type",)
            ) as resp,
        ):
            return resp.status, dict(resp.headers), await resp.read()

    def start(self) -> StreamingPut:
        self.task = asyncio.create_task(self._send())
        return self

    async def abandon(self) -> None:
        """The client gives up (its gateway died): whatever the request ended with is ignored."""
        assert self.task is not None
        self.release()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def _cli(*args: str) -> None:
    """A ``geoshard`` init command, through the real parser but in this process (saves a start-up)."""
    from geoshard.cli import build_parser

    def run() -> None:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            parsed = build_parser().parse_args(list(args))
            code = parsed.func(parsed)
        assert not code, f"geoshard {' '.join(args)}: {out.getvalue()}"

    await asyncio.to_thread(run)


async def start_net(
    data: Path,
    *,
    nodes: int = 5,
    scheme: str = "2/3/4/5",
    segment_size: int = 1 << 20,
    ttl: int = 6,
    database_url: str = "",
    satellite: dict[str, Any] | None = None,
) -> ChaosNet:
    """Satellite, ``nodes`` storage nodes on their own loopback /24s, a gateway, one tenant."""
    sat_dir, logs = data / "satellite", data / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    sat_port, admin_port = free_port(), free_port()
    init = ["satellite", "init", "--data", str(sat_dir), "--port", str(sat_port), "--admin-port", str(admin_port)]
    await _cli(*init, *(["--database-url", database_url] if database_url else []))
    cfg_path = sat_dir / "satellite.json"
    cfg = load_config(cfg_path)
    for k, v in {
        "host": "127.0.0.1", "admin_host": "127.0.0.1", "checkin_interval": 2, "online_window": 600,
        "new_node_fraction": 1.0, "min_free_bytes": 0, "node_cache_ttl": 0.5,
        # Garbage is collectable ``ttl`` seconds after its upload began, and lists go out at once.
        "segment_token_ttl": ttl, "order_ttl": ttl, "gc_clock_skew": 0, "gc_interval": 1.0,
        "gc_false_positive_rate": 1e-9,
        "audit_interval": 3600.0, "repair_checker_interval": 3600.0, "repair_interval": 3600.0,
        "exit_interval": 3600.0, **(satellite or {}),
    }.items():  # fmt: skip
        setattr(cfg, k, v)
    save_config(cfg, cfg_path)
    from common.identity import Identity

    sat_id = Identity.load(cfg.resolved_identity_path).id
    sat_url, admin_url = f"http://127.0.0.1:{sat_port}", f"http://127.0.0.1:{admin_port}"
    sat = Proc("satellite", [*GEOSHARD, "satellite", "run", "--config", str(cfg_path)], logs / "satellite.log",
               f"{sat_url}/api/v1/identity")  # fmt: skip

    base = _free_range(nodes)
    node_procs: list[NodeProc] = []

    async def init_node(i: int) -> NodeProc:
        host, port = f"127.0.{10 + i}.1", base + i
        country, region = PLACES[i % len(PLACES)]
        ndir = data / "nodes" / f"node{i}"
        await _cli("node", "init", "--data", str(ndir), "--capacity", "1GB", "--country", country,
                   "--region", region, "--wallet", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                   "--satellite", f"{sat_id}@{sat_url}", "--offline", "--listen-host", host, "--port", str(port),
                   "--address", f"http://{host}:{port}")  # fmt: skip
        ncfg_path = ndir / "config.toml"
        ncfg = NodeConfig.load(ncfg_path)
        ncfg.checkin_interval, ncfg.checkin_retry_max = 2.0, 2.0
        ncfg.trash_grace, ncfg.chore_interval = 0.5, 0.25
        ncfg.save(ncfg_path)
        node_id = Identity.load(ncfg.identity_path).id
        return NodeProc(f"node{i}", [*GEOSHARD, "node", "run", "--config", str(ncfg_path)], logs / f"node{i}.log",
                        f"http://{host}:{port}/v1/info", config_path=ncfg_path, data_dir=ncfg.data_dir,
                        host=host, port=port, node_id=node_id)  # fmt: skip

    node_procs = [await init_node(i) for i in range(nodes)]  # one at a time: they redirect stdout
    key_file = data / "gateway" / "master.key"
    await _cli("gateway", "init", "--master-key-file", str(key_file))
    gw_port = free_port()
    token_file = data / "gateway" / "satellite.token"
    write_private_file(token_file, cfg.gateway_token)
    gateway = Proc("gateway", [*GEOSHARD, "gateway", "run", "--satellite", sat_url, "--satellite-token-file",
                               str(token_file), "--host", "127.0.0.1", "--port", str(gw_port),
                               "--master-key-file", str(key_file), "--segment-size", str(segment_size)],
                   logs / "gateway.log", f"http://127.0.0.1:{gw_port}/")  # fmt: skip

    admin = AdminClient(admin_url, cfg.admin_token)
    net = ChaosNet(data, sat, cfg_path, node_procs, gateway, f"http://127.0.0.1:{gw_port}", "", "", admin,
                   cfg.resolved_database_url, segment_size, tuple(int(x) for x in scheme.split("/")))  # type: ignore[arg-type]  # fmt: skip
    try:
        net.gateway.start()
        await net.start_all()
        await asyncio.to_thread(admin.call, "POST", "/v1/policies", {"name": "global", "scheme": scheme,
                                                                      "min_countries": 1})  # fmt: skip
        tenant = await asyncio.to_thread(admin.call, "POST", "/v1/tenants", {"name": "chaos",
                                                                             "default_policy": "global"})  # fmt: skip
        key = await asyncio.to_thread(admin.call, "POST", admin.path("v1", "tenants", tenant["id"], "keys"))
        net.access_key, net.secret_key = key["access_key_id"], key["secret_access_key"]
        await net.gateway.ready()
        # Placement needs every node checked in: wait until the satellite knows them all.
        await wait_for("every node to check in", lambda: _all_known(net))
    except BaseException:
        net.stop_all()
        raise
    return net


@contextlib.asynccontextmanager
async def running_net(data: Path, backend: str = "sqlite", **kw: Any) -> AsyncIterator[ChaosNet]:
    """:func:`start_net` on SQLite or on a fresh PostgreSQL database, every process stopped and
    the database dropped at the end."""
    db_name, url = (None, "") if backend == "sqlite" else await fresh_pg_database()
    try:
        net = await start_net(data, database_url=url, **kw)
        try:
            yield net
        finally:
            net.stop_all()
            await net.close()
    finally:
        if db_name is not None:
            await drop_pg_database(db_name)


async def _all_known(net: ChaosNet) -> bool:
    return len(await net.reported_used()) == len(net.nodes)
