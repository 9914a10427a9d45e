"""``geoshard admin repair status`` and ``GET /v1/repair/status`` on a planet (real nodes over
HTTP): the backlog appears when nodes are disqualified, is broken down by reason and policy,
names the job that cannot be repaired with its last error, and shows throughput and
progress once the repairers have worked it down."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from common.piece_client import PieceClient
from geoshard.cli import main
from tests.planet import Planet, planet
from tests.repair_helpers import pieces_by_segment, upload_objects
from tests.satellite_fixtures import db_backend, drop_database, fresh_database  # noqa: F401

SEGMENT = 64 * 1024


async def _admin(net: Planet, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
    async with aiohttp.ClientSession() as session, session.request(
        method, net.satellite.admin_url + path, json=body, headers=headers
    ) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def database(db_backend: str, tmp_path: Path):  # noqa: F811  (both backends: the grouped reads differ)
    database, schema = await fresh_database(db_backend, tmp_path)
    try:
        yield database
    finally:
        await drop_database(database, schema)


async def test_repair_status_shows_the_backlog_by_reason_and_policy_failures_throughput_and_progress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], database
) -> None:
    async with planet(tmp_path, nodes=8, segment_size=SEGMENT, database=database) as net:
        await upload_objects(net, "data", 4, 2 * SEGMENT + 100)
        status, idle = await _admin(net, "GET", "/v1/repair/status")
        assert status == 200
        assert idle["queue"]["queued"] == 0 and idle["queue"]["oldest_job_at"] is None
        assert idle["throughput"]["progress"] == 1.0

        # Two nodes holding pieces are disqualified: their segments fall to the repair threshold.
        before = await pieces_by_segment(net)
        counts: dict[str, int] = {}
        for rows in before.values():
            for p in rows:
                counts[p.node_id] = counts.get(p.node_id, 0) + 1
        victims = sorted(counts, key=lambda n: -counts[n])[:2]
        for v in victims:
            assert (await _admin(net, "POST", f"/v1/nodes/{v}/disqualify", {"reason": "test"}))[0] == 200
        await net.satellite.repair.checker.run_pass()
        # One queued segment loses every piece (deleted behind the nodes' backs): its repair fails.
        doomed = (await net.satellite.repair.queue.jobs())[0].segment_id
        for p in before[doomed]:
            files = list((net.node_of(p.node_id).config.data_dir / "blobs").rglob(f"{p.piece_id}.gsp"))
            assert files, p.piece_id
            for f in files:
                f.unlink()

        _, queued = await _admin(net, "GET", "/v1/repair/status")
        q = queued["queue"]
        assert q["queued"] >= 2 and q["claimed"] == 0 and q["failing"] == 0
        assert sum(q["by_reason"].values()) == q["queued"]
        assert q["by_policy"] == {"global": q["queued"]}
        assert q["oldest_job_at"] is not None and q["oldest_job_age_seconds"] >= 0
        assert queued["throughput"]["progress"] == 0.0 and queued["throughput"]["backlog_peak"] == q["queued"]

        # The repairers work the queue down (registered as RepairService.run registers them).
        async with PieceClient.new_session() as session:
            worker = net.satellite.repair.new_repairer(PieceClient(session))
            net.satellite.repair.repairers.append(worker)
            results = []
            while (result := await worker.run_once()) is not None:
                results.append(result)
        repaired = sum(1 for r in results if r.outcome == "repaired")
        assert repaired == q["queued"] - 1, (doomed, [(r.segment_id, r.outcome, r.error) for r in results])

        _, after = await _admin(net, "GET", "/v1/repair/status?failures=5")
        q2, t = after["queue"], after["throughput"]
        assert q2["queued"] == 1 and q2["failing"] == 1  # the doomed segment, retried after the claim timeout
        (failure,) = q2["failures"]
        assert failure["segment_id"] == doomed and failure["attempts"] == 1 and failure["last_error"]
        assert t["since_start"]["repaired"] == repaired and t["since_start"]["failed"] == 1
        assert t["since_start"]["repaired_bytes"] > 0 and t["segments_per_minute"] > 0
        assert 0 < t["progress"] < 1

        assert (await _admin(net, "GET", "/v1/repair/status?failures=-1"))[0] == 400

        argv = ["admin", "--url", net.satellite.admin_url, "--token", net.satellite.config.admin_token,
                "repair", "status"]
        assert await asyncio.to_thread(main, argv) == 0
        out = capsys.readouterr().out
        assert "queue        1 segment(s) waiting, 0 being repaired, 1 failing" in out
        assert "by policy    global 1" in out and f"{repaired} repaired" in out
        assert "%" in out and "failing jobs" in out and str(doomed) in out and failure["last_error"][:30] in out
