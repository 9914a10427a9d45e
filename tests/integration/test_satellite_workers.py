"""``geoshard satellite run --api-workers 2`` as an operator runs it: a MAIN process and two API workers.

A real process tree over a fresh database: concurrent gateways commit through both workers
(racing commits of one key leave one version), a worker killed with SIGKILL is restarted
and the API keeps answering, and SIGTERM (or SIGINT) to the MAIN process stops every worker.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from erasure.scheme import RedundancyScheme
from erasure.segment import SegmentLayout
from gateway import satellite_client as sc
from satellite.admin.client import AdminClient
from satellite.config import load_config
from satellite.nodeselection import PlacementPolicy
from tests.ops_fixtures import DEADLINE, GEOSHARD, init_satellite
from tests.satellite_fixtures import NODE_PLACES, FakeNode, drop_pg_database, fresh_pg_database

SCHEME = RedundancyScheme(2, 3, 4, 5)
# `satellite init` on free ports, configured so that placement accepts the test's new, small nodes.
SMALL_NODES: dict[str, Any] = {"new_node_fraction": 1.0, "min_free_bytes": 0}
B64 = lambda b: base64.b64encode(b).decode()  # noqa: E731


class Tree:
    """The running ``satellite run`` process, its URLs and a world of nodes and one tenant."""

    def __init__(self, proc: asyncio.subprocess.Process, api: str, admin: str, log: Path, cfg: Path) -> None:
        self.proc, self.api, self.admin, self.log = proc, api, admin, log
        self.config = load_config(cfg)
        self.port = int(api.rsplit(":", 1)[1])
        self.nodes: dict[str, FakeNode] = {}
        self.tenant = ""

    def workers(self) -> list[psutil.Process]:
        return [c for c in psutil.Process(self.proc.pid).children() if c.status() != psutil.STATUS_ZOMBIE]

    async def setup_world(self) -> None:
        admin = AdminClient(self.admin, self.config.admin_token)
        policy = PlacementPolicy(name="eu", scheme=SCHEME, allowed_countries=frozenset({"EU"}))
        await asyncio.to_thread(admin.call, "POST", "/v1/policies", policy.to_dict())
        tenant = await asyncio.to_thread(admin.call, "POST", "/v1/tenants", {"name": "acme", "default_policy": "eu"})
        self.tenant = tenant["id"]
        async with aiohttp.ClientSession() as http:
            for i, (country, region) in enumerate(NODE_PLACES):
                node = FakeNode(country, region, i + 1)
                self.nodes[node.id] = node
                async with http.post(f"{self.api}/api/v1/nodes/checkin", json=node.checkin()) as resp:
                    assert resp.status == 200, await resp.text()

    async def put(self, client: sc.SatelliteClient, key: str, size: int = 5000) -> dict[str, Any]:
        layout = SegmentLayout.for_segment(SCHEME, size)
        begin = await client.begin_segment(self.tenant, "photos", key, layout.piece_size)
        pieces = []
        for lim in begin["limits"]:
            root = hashlib.blake2b(f"{key}{lim['number']}".encode(), digest_size=32).digest()
            receipt = self.nodes[lim["node_id"]].receipt(lim["order_limit"], layout.piece_size, root)
            pieces.append({"number": lim["number"], "root": B64(root), "receipt": receipt})
        seg = {"token": begin["token"], "layout": layout.to_dict(), "wrapped_key": B64(b"k" * 40),
               "nonce": B64(b"n" * 16), "pieces": pieces}  # fmt: skip
        meta = {"size": size, "etag": hashlib.md5(key.encode()).hexdigest(), "content_type": "x/y"}
        return await client.commit_object(self.tenant, "photos", key, meta, [seg])



async def _start(cfg: Path, log: Path, workers: int) -> Tree:
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            *GEOSHARD, "satellite", "run", "--config", str(cfg), "--api-workers", str(workers),
            stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), DEADLINE)).decode()
    m = re.search(r"serving at (http://\S+) \(admin (http://\S+);", line)
    assert m, f"unexpected first line from satellite run: {line!r}; log: {log.read_text()[-2000:]}"
    return Tree(proc, m.group(1), m.group(2), log, cfg)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def tree(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Tree]:
    """``satellite init`` then ``satellite run --api-workers 2`` on a fresh database."""
    db_name, url = None, ""
    if request.param == "postgresql":
        db_name, url = await fresh_pg_database()
    t = await _start(await init_satellite(tmp_path, url, **SMALL_NODES), tmp_path / "satellite.log", workers=2)
    try:
        yield t
    finally:
        pids = [p.pid for p in t.workers()] if t.proc.returncode is None else []
        if t.proc.returncode is None:
            t.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(t.proc.wait(), DEADLINE)
        for pid in pids:  # never leave a worker behind, even when the test failed
            if psutil.pid_exists(pid):
                psutil.Process(pid).kill()
        if db_name is not None:
            await drop_pg_database(db_name)


def _serving(worker: psutil.Process, port: int) -> int:
    """Established connections ``worker`` holds on the API port."""
    return sum(1 for c in worker.net_connections("tcp") if c.status == "ESTABLISHED" and c.laddr.port == port)


async def test_two_workers_serve_concurrent_commits(tree: Tree) -> None:
    """16 gateways commit 96 objects, four keys raced by every gateway; both workers take connections."""
    workers = tree.workers()
    assert len(workers) == 2
    await tree.setup_world()
    clients = [sc.SatelliteClient(tree.api, tree.config.gateway_token) for _ in range(16)]
    try:
        await clients[0].create_bucket(tree.tenant, "photos")

        async def gateway(i: int, c: sc.SatelliteClient) -> None:
            for j in range(4):
                await tree.put(c, f"own/{i:02d}/{j}")
                await tree.put(c, f"raced/{j}", size=1000 + i)

        await asyncio.wait_for(asyncio.gather(*(gateway(i, c) for i, c in enumerate(clients))), DEADLINE)
        # Each gateway keeps its keep-alive connections open: the kernel spread them over both workers.
        assert all(_serving(w, tree.port) > 0 for w in workers), [_serving(w, tree.port) for w in workers]
        page = await clients[0].list_objects(tree.tenant, "photos", max_keys=1000)
    finally:
        for c in clients:
            await c.close()
    keys = [o["key"] for o in page["objects"]]
    assert keys == sorted([f"own/{i:02d}/{j}" for i in range(16) for j in range(4)] + [f"raced/{j}" for j in range(4)])
    raced = [o for o in page["objects"] if o["key"].startswith("raced/")]
    assert all(1000 <= o["size"] < 1016 for o in raced)
    assert [o["version"] for o in raced] == [16] * 4  # every racing commit took its own version
    log = tree.log.read_text()
    assert "database is locked" not in log and "Traceback" not in log, log[-3000:]


@pytest.mark.postgres
async def test_killed_worker_is_restarted_and_sigterm_stops_all(tmp_path: Path) -> None:
    db_name, url = await fresh_pg_database()
    try:
        await _killed_worker_is_restarted_and_sigterm_stops_all(tmp_path, url)
    finally:
        await drop_pg_database(db_name)


async def _killed_worker_is_restarted_and_sigterm_stops_all(tmp_path: Path, url: str) -> None:
    t = await _start(await init_satellite(tmp_path, url, **SMALL_NODES), tmp_path / "satellite.log", workers=2)
    all_pids: set[int] = set()
    try:
        await t.setup_world()
        async with sc.SatelliteClient(t.api, t.config.gateway_token) as c:
            await c.create_bucket(t.tenant, "photos")
            await t.put(c, "before")
        first = t.workers()
        all_pids.update(w.pid for w in first)
        victim = first[0]
        victim.kill()
        victim.wait(DEADLINE)

        async def replaced() -> list[psutil.Process]:
            while True:
                now = t.workers()
                if len(now) == 2 and victim.pid not in {w.pid for w in now}:
                    return now
                await asyncio.sleep(0.1)

        second = await asyncio.wait_for(replaced(), DEADLINE)
        all_pids.update(w.pid for w in second)
        assert first[1].pid in {w.pid for w in second}  # the other worker was left alone

        async def logged() -> None:
            while f"(pid {victim.pid}) exited with -9; restarting" not in t.log.read_text():
                await asyncio.sleep(0.1)

        await asyncio.wait_for(logged(), DEADLINE)
        # Fresh connections, so both the survivor and the new worker are asked.
        for i in range(8):
            async with sc.SatelliteClient(t.api, t.config.gateway_token) as c:
                await t.put(c, f"after/{i}")
        async with sc.SatelliteClient(t.api, t.config.gateway_token) as c:
            page = await c.list_objects(t.tenant, "photos")
        assert [o["key"] for o in page["objects"]] == ["after/" + str(i) for i in range(8)] + ["before"]

        t.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(t.proc.wait(), DEADLINE) == 0
        for pid in all_pids:
            assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, pid
    finally:
        if t.proc.returncode is None:
            t.proc.kill()
            await t.proc.wait()
        for pid in all_pids:
            if psutil.pid_exists(pid):
                psutil.Process(pid).kill()


async def test_sigint_stops_the_whole_tree(tmp_path: Path) -> None:
    """Ctrl-C in a terminal: SIGINT reaches the MAIN process, which stops its workers and exits 0."""
    t = await _start(await init_satellite(tmp_path, "", **SMALL_NODES), tmp_path / "satellite.log", workers=2)
    pids = [w.pid for w in t.workers()]
    assert len(pids) == 2
    t.proc.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(t.proc.wait(), DEADLINE) == 0
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)
