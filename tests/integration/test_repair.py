"""Repair end to end on a planet (real nodes over HTTP, one process): disqualification,
corrupt pieces, many nodes lost at once, crashes between upload and swap."""

from __future__ import annotations

import asyncio
import random
import signal
import sys
import time
from pathlib import Path

import aiohttp
from sqlalchemy import select

from satellite.db.models import BadPieceReport
from satellite.repair import RepairOutcome
from tests.planet import planet
from tests.repair_helpers import (
    busiest_node,
    delete_pieces,
    held_by,
    kill_node,
    pieces_by_segment,
    read_all,
    repair_all,
    upload_objects,
)
from tests.satellite_fixtures import db_backend, drop_database, fresh_database  # noqa: F401

SEGMENT = 64 * 1024


async def test_segments_of_a_disqualified_node_are_repaired_onto_other_nodes(tmp_path, db_backend) -> None:  # noqa: F811
    database, schema = await fresh_database(db_backend, tmp_path)
    try:
        async with planet(tmp_path, nodes=8, segment_size=SEGMENT, database=database) as net:
            objects = await upload_objects(net, "data", 6, 2 * SEGMENT + 100)
            before = await pieces_by_segment(net)
            victim = busiest_node(before)
            # Chaos (a), repair half: the node silently loses 10% of its pieces and is
            # disqualified (through the admin API here; the audit chore does it in test_audit).
            assert delete_pieces(net, victim, 0.1, among=held_by(before, victim)) >= 1
            await _admin(net, "POST", f"/v1/nodes/{victim}/disqualify", {"reason": "lost 10% of its pieces"})

            results = await repair_all(net)
            held = {sid for sid, rows in before.items() if any(p.node_id == victim for p in rows)}
            at_risk = {sid for sid in held if len(before[sid]) - 1 <= 3}  # repair threshold 3
            assert at_risk, "the test needs a segment that falls to the repair threshold"
            # Every segment the disqualified node held is repaired, not only those at risk.
            assert {r.segment_id for r in results} == held
            assert all(r.outcome is RepairOutcome.REPAIRED for r in results), [r.error for r in results]

            after = await pieces_by_segment(net)
            for sid, rows in after.items():
                assert len({p.node_id for p in rows}) == len(rows), "one piece per node"
                assert len({p.number for p in rows}) == len(rows)
                assert victim not in {p.node_id for p in rows}
                assert len(rows) >= 4, f"segment {sid} has {len(rows)} healthy pieces, success is 4"
            assert await net.satellite.repair.queue.jobs() == []
            assert await repair_all(net) == []  # a second pass finds nothing to do
            # The victim's data is not needed any more: lose all of it, read everything.
            delete_pieces(net, victim)
            await read_all(net, "data", objects)
    finally:
        await drop_database(database, schema)


def _corrupt(path, rng: random.Random, count: int = 8) -> None:
    """Flip ``count`` random bytes of a piece file's body (after its header)."""
    raw = bytearray(path.read_bytes())
    body = int.from_bytes(raw[10:14], "big")
    for _ in range(count):
        i = rng.randrange(body, len(raw))
        raw[i] ^= 1 + rng.randrange(255)
    path.write_bytes(bytes(raw))


def _piece_file(net, p) -> Path:
    return net.node_of(p.node_id).config.data_dir / "blobs" / p.piece_id[:2] / f"{p.piece_id}.gsp"


async def test_corrupt_pieces_never_reach_a_reader_and_repair_reads_around_them(tmp_path) -> None:
    rng = random.Random(5)
    async with planet(tmp_path, nodes=8, segment_size=SEGMENT) as net:
        objects = await upload_objects(net, "data", 4, 2 * SEGMENT + 100)
        before = await pieces_by_segment(net)
        # One random piece of every segment gets random bytes flipped on disk.
        for rows in before.values():
            _corrupt(_piece_file(net, rng.choice(rows)), rng)
        await read_all(net, "data", objects)  # the gateway verifies shares: right bytes anyway

        # A segment whose lowest-numbered piece (the first the repairer reads) is corrupt,
        # pushed to the repair threshold by disqualifying the nodes of its last pieces.
        sid, rows = next(iter(before.items()))
        _corrupt(_piece_file(net, rows[0]), rng)
        for p in rows[3:]:
            await net.satellite.nodes.disqualify(p.node_id, "test")
        results = {r.segment_id: r for r in await repair_all(net)}
        assert results[sid].outcome is RepairOutcome.REPAIRED, results[sid].error
        assert rows[0].number in results[sid].corrupt
        after = {p.number: p for p in (await pieces_by_segment(net))[sid]}
        assert after[rows[0].number].node_id != rows[0].node_id, "the corrupt piece was replaced"
        assert len(after) >= 4
        async with net.satellite.db.read() as s:
            reports = (await s.execute(select(BadPieceReport).where(BadPieceReport.segment_id == sid))).scalars().all()
        assert rows[0].node_id in {r.node_id for r in reports}
        await read_all(net, "data", objects)


async def test_total_minus_k_nodes_lost_at_once(tmp_path) -> None:
    """success = total, so every committed segment holds all n pieces (with long-tail
    cancellation a segment may hold only ``success``, and survives ``success − k`` losses)."""
    async with planet(tmp_path, nodes=9, scheme="2/3/5/5", segment_size=SEGMENT) as net:
        objects = await upload_objects(net, "data", 5, 2 * SEGMENT + 100)
        before = await pieces_by_segment(net)
        load: dict[str, int] = {}
        for rows in before.values():
            for p in rows:
                load[p.node_id] = load.get(p.node_id, 0) + 1
        dead = sorted(load, key=lambda n: -load[n])[:3]  # total 5 - k 2
        for node_id in dead:
            await kill_node(net, node_id)
        await read_all(net, "data", objects)  # every object readable at once

        results = await repair_all(net)
        assert results and all(r.outcome is RepairOutcome.REPAIRED for r in results), [r.error for r in results]
        repaired = {r.segment_id for r in results}
        nodes = {n.id: n for n in await net.satellite.nodes.candidates()}
        for sid, rows in (await pieces_by_segment(net)).items():
            held = {p.node_id for p in rows}
            assert len(held) == len(rows), "one piece per node"
            assert len({nodes[n].net for n in held}) == len(held)
            healthy = held - set(dead)
            assert len(healthy) > 3, f"segment {sid}: {len(healthy)} healthy pieces, repair threshold 3"
            lost = len([p for p in before[sid] if p.node_id in dead])
            if 5 - lost <= 3:  # fell to the repair threshold: restored to success, on survivors
                assert sid in repaired and healthy == held and len(held) == 5, f"segment {sid} not restored"
        await read_all(net, "data", objects)


async def _admin(net, method: str, path: str, body: dict | None = None) -> dict:
    headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
    url = net.satellite.admin_url + path
    async with aiohttp.ClientSession() as session, session.request(method, url, json=body, headers=headers) as resp:
        assert resp.status < 300, await resp.text()
        return await resp.json()


async def test_policy_change_and_location_override_migrate_pieces_until_compliant(tmp_path) -> None:
    async with planet(tmp_path, nodes=8, segment_size=SEGMENT) as net:
        objects = await upload_objects(net, "data", 4, 2 * SEGMENT + 100)
        assert (await _admin(net, "GET", "/v1/buckets/data/report"))["compliant"]
        # The bucket moves from "global" to "eu", and an EU node turns out to be in the US.
        await _admin(net, "PUT", "/v1/buckets/data/policy", {"policy": "eu"})
        eu_nodes = [n for n in await net.satellite.nodes.candidates() if n.region == "eu"]
        moved = eu_nodes[0].id
        await _admin(net, "PUT", f"/v1/nodes/{moved}/location", {"country": "US", "region": "na"})
        report = await _admin(net, "GET", "/v1/buckets/data/report")
        assert report["out_of_policy"]["pieces"] > 0 and not report["compliant"]

        results = await repair_all(net)
        assert results and all(r.outcome is RepairOutcome.REPAIRED for r in results), [r.error for r in results]
        report = await _admin(net, "GET", "/v1/buckets/data/report")
        assert report["out_of_policy"]["pieces"] == 0 and report["compliant"], report
        assert set(report["pieces_by_region"]) == {"eu"}
        assert report["below_repair_threshold"]["segments"] == 0
        assert await repair_all(net) == []
        await read_all(net, "data", objects)


async def test_a_repairer_killed_between_upload_and_swap_changes_nothing_and_the_job_is_retried(tmp_path) -> None:
    async with planet(tmp_path, nodes=8, segment_size=SEGMENT) as net:
        objects = await upload_objects(net, "data", 3, 2 * SEGMENT + 100)
        before = await pieces_by_segment(net)
        _, rows = next(iter(before.items()))
        for p in rows[2:]:
            await net.satellite.nodes.disqualify(p.node_id, "test")
        await net.satellite.repair.checker.run_pass()
        identity = tmp_path / "satellite-identity.pem"
        net.satellite.identity.save(identity)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.repair_crash_worker", net.satellite.db.url, str(identity),
            stdout=asyncio.subprocess.PIPE, cwd=str(Path(__file__).resolve().parents[2]),
        )  # fmt: skip
        out, _ = await proc.communicate()
        assert proc.returncode == -signal.SIGKILL, out
        crashed_sid, uploaded = map(int, out.split())
        assert uploaded > 0, "the crash must come after pieces landed on nodes"

        # Metadata is exactly as before the crash; the job is still claimed by the dead worker.
        assert await pieces_by_segment(net) == before or {
            s: [(p.number, p.node_id, p.piece_id) for p in r] for s, r in (await pieces_by_segment(net)).items()
        } == {s: [(p.number, p.node_id, p.piece_id) for p in r] for s, r in before.items()}
        jobs = {j.segment_id: j for j in await net.satellite.repair.queue.jobs()}
        assert jobs[crashed_sid].claimed_by == "doomed-worker"
        # Before the claim times out, nobody else takes it; after, a live worker repairs it.
        first = await repair_all(net)
        assert crashed_sid not in {r.segment_id for r in first}
        later = time.time() + net.satellite.config.repair_claim_timeout + 1
        results = {r.segment_id: r for r in await repair_all(net, now=later)}
        assert results[crashed_sid].outcome is RepairOutcome.REPAIRED, results[crashed_sid].error
        after = (await pieces_by_segment(net))[crashed_sid]
        assert len({p.number for p in after}) == len(after) == len({p.node_id for p in after}) >= 4
        assert await net.satellite.repair.queue.jobs() == []
        await read_all(net, "data", objects)
