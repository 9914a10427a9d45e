"""``geoshard satellite run --role api`` and ``--role workers`` twice, on one database, as compose runs them.

Real processes over a fresh database: the API process serves nodes and no admin API or chores;
of the two workers processes each singleton chore runs in exactly one (its lease in the
database says which, and each process agrees about itself); when that process is SIGKILLed
the other takes every chore over, without waiting for the leases to expire.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from satellite.config import load_config
from tests.ops_fixtures import DEADLINE, GEOSHARD, init_satellite
from tests.satellite_fixtures import FakeNode, drop_pg_database, fresh_pg_database

LEASED = {"audit", "repair-checker", "gc", "graceful-exit", "lifecycle", "accounting", "payouts"}


@dataclass
class Proc:
    proc: asyncio.subprocess.Process
    line: str

    @property
    def admin(self) -> str:
        m = re.search(r"\(admin (http://\S+);", self.line)
        assert m, self.line
        return m.group(1)

    @property
    def api(self) -> str:
        m = re.search(r"serving at (http://\S+) ", self.line)
        assert m, self.line
        return m.group(1)



async def _run(cfg: Path, log: Path, role: str) -> Proc:
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            *GEOSHARD, "satellite", "run", "--config", str(cfg), "--role", role,
            stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), DEADLINE)).decode()
    assert "geoshard satellite" in line, f"{line!r}; log: {log.read_text()[-3000:]}"
    return Proc(proc, line)


async def _chores(http: aiohttp.ClientSession, p: Proc, token: str) -> dict[str, Any]:
    async with http.get(f"{p.admin}/v1/chores", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def _until_held(http: aiohttp.ClientSession, procs: list[Proc], token: str) -> dict[str, int]:
    """Poll until every leased chore is held by exactly one of ``procs``; chore -> index of its holder."""
    async with asyncio.timeout(DEADLINE):
        while True:
            views = [await _chores(http, p, token) for p in procs]
            owners: dict[str, list[int]] = {}
            for i, v in enumerate(views):
                for chore, held in v["held_here"].items():
                    if held:
                        owners.setdefault(chore, []).append(i)
            assert all(len(o) == 1 for o in owners.values()), f"a chore runs twice: {owners}"
            if set(owners) >= LEASED:
                live = {lease["chore"]: lease for lease in views[0]["leases"] if lease["live"]}
                for chore, (i,) in owners.items():  # the database agrees with the processes
                    assert live[chore]["holder"].split(":")[1] == str(procs[i].proc.pid), (chore, live[chore])
                return {c: o[0] for c, o in owners.items()}
            await asyncio.sleep(0.2)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield ""
        return
    name, url = await fresh_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(name)


async def test_api_and_two_workers_processes_split_the_satellite_and_a_dead_holder_is_replaced(
    tmp_path: Path, database_url: str
) -> None:
    # A long lease: a takeover within the test is by death, not by expiry.
    cfg = await init_satellite(tmp_path, database_url, lease_ttl=60.0)
    token = load_config(cfg).admin_token
    log = tmp_path / "satellite.log"
    procs: list[Proc] = []
    try:
        api = await _run(cfg, log, "api")
        procs.append(api)
        assert "no admin API" in api.line and "leased chores: none" in api.line
        workers = [await _run(cfg, log, "workers"), await _run(cfg, log, "workers")]
        procs.extend(workers)
        for w in workers:
            assert "serving no public API" in w.line and "role workers" in w.line
        async with aiohttp.ClientSession() as http:
            node = FakeNode("DE", "eu", 1)  # the API process alone serves nodes
            async with http.post(f"{api.api}/api/v1/nodes/checkin", json=node.checkin()) as r:
                assert r.status == 200, await r.text()
            owners = await _until_held(http, workers, token)
            # The node the API process took in is what the workers' admin API lists: one database.
            async with http.get(f"{workers[0].admin}/v1/nodes", headers={"Authorization": f"Bearer {token}"}) as r:
                assert node.id in await r.text()
            # The same split in the metrics: per chore, the two processes' gauges add up to one.
            held: dict[str, float] = {}
            scrapes = []
            for w in workers:
                async with http.get(f"{w.admin}/metrics") as r:
                    scrapes.append(f"{r.status} {await r.text()}")
                for chore, v in re.findall(r'^geoshard_chore_lease_held\{chore="([^"]+)"\} (\S+)$', scrapes[-1], re.M):
                    held[chore] = held.get(chore, 0.0) + float(v)
            assert set(held) >= LEASED and all(v == 1.0 for v in held.values()), (held, [t[:300] for t in scrapes])
            victim = max(set(owners.values()), key=list(owners.values()).count)
            workers[victim].proc.send_signal(signal.SIGKILL)
            await workers[victim].proc.wait()
            survivor = workers[1 - victim]
            # Within a few retries, far under the 60 s ttl: the holder's pid is gone on this host.
            owners = await _until_held(http, [survivor], token)
            assert set(owners) >= LEASED
    finally:
        for p in procs:
            if p.proc.returncode is None:
                p.proc.send_signal(signal.SIGTERM)
        for p in procs:
            await asyncio.wait_for(p.proc.wait(), DEADLINE)
