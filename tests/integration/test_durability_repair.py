"""Repair under shortage and reader reports, on a planet (real nodes over HTTP): a bad share
read once queues its segment and repair follows with no audit; a repair with one eligible
node places one piece, says the policy is short, and drains when a node joins; a node that
returns after its pieces were rebuilt elsewhere loses them to the retain list and takes new
pieces."""

from __future__ import annotations

import random
import time

from sqlalchemy import func, select

from erasure import RedundancyScheme
from satellite.db.models import AuditResult, BadPieceReport
from satellite.nodeselection.policy import PlacementPolicy
from satellite.repair import RepairOutcome
from tests.durability_helpers import (
    add_node,
    admin,
    corrupt_piece,
    piece_file,
    queued,
    repair_running,
    repair_settle_time,
    restart_node,
    wait_until,
)
from tests.planet import planet
from tests.repair_helpers import kill_node, pieces_by_segment, read_all, repair_all, upload_objects

SEGMENT = 64 * 1024


async def test_one_read_of_a_corrupt_piece_queues_its_segment_and_repair_restores_it_without_an_audit(
    tmp_path,
) -> None:
    # success = total = 5: every segment holds five pieces, so losing one leaves it above the
    # repair threshold (3): only the reader's report can make it worth repairing.
    async with planet(tmp_path, nodes=7, scheme="2/3/5/5", segment_size=SEGMENT) as net:
        objects = await upload_objects(net, "data", 2, SEGMENT + 100)
        before = await pieces_by_segment(net)
        sid, rows = next(iter(before.items()))
        first = rows[0]  # piece 0: a systematic piece, the first a reader asks for
        assert first.number == 0 and len(rows) == 5
        corrupt_piece(piece_file(net, first.node_id, first.piece_id), random.Random(2))

        await read_all(net, "data", objects)  # one read, right bytes: the gateway read around it
        jobs = await wait_until(lambda: _queued_with(net, sid), 10, "the segment in the repair queue")
        assert jobs[sid].reason == "reported" and jobs[sid].healthy == 4
        rows_now = {p.number: p for p in (await pieces_by_segment(net))[sid]}
        assert 0 not in rows_now, "the reported piece no longer counts"

        async with repair_running(net):
            await wait_until(lambda: _restored(net, sid, 5), repair_settle_time(net), "the segment repaired")
        after = {p.number: p for p in (await pieces_by_segment(net))[sid]}
        assert after[0].piece_id != first.piece_id
        async with net.satellite.db.read() as s:
            assert (await s.execute(select(func.count()).select_from(AuditResult))).scalar_one() == 0, "no audit"
            reports = (await s.execute(select(BadPieceReport))).scalars().all()
        assert first.node_id in {r.node_id for r in reports}
        await read_all(net, "data", objects)


async def _queued_with(net, sid: int) -> dict | None:
    jobs = await queued(net)
    return jobs if sid in jobs else None


async def _restored(net, sid: int, count: int) -> bool:
    return len((await pieces_by_segment(net))[sid]) >= count and sid not in await queued(net)


async def test_one_eligible_node_takes_one_piece_the_policy_is_short_and_the_backlog_drains(tmp_path) -> None:
    async with planet(tmp_path, nodes=6, scheme="2/3/5/5", segment_size=SEGMENT) as net:
        objects = await upload_objects(net, "data", 1, SEGMENT // 2)  # one segment
        ((sid, rows),) = (await pieces_by_segment(net)).items()
        assert len(rows) == 5
        dead = [rows[3].node_id, rows[4].node_id]
        for node_id in dead:
            await kill_node(net, node_id)
        # 3 healthy (the repair threshold), 6 nodes of which 5 hold a piece: 1 eligible. The old
        # all-or-nothing repair refused ("no placement for 2 new pieces"); now it places one.
        (result,) = await repair_all(net)
        assert result.outcome is RepairOutcome.PARTIAL and len(result.uploaded) == 1, result
        after = (await pieces_by_segment(net))[sid]
        alive = {n.identity.id for n in net.nodes} - set(dead)
        assert len([p for p in after if p.node_id in alive]) == 4
        assert len({p.node_id for p in after} & set(dead)) == 1, "the offline piece not replaced is kept"
        jobs = await queued(net)
        assert jobs[sid].reason == "short" and jobs[sid].healthy == 4

        status = await admin(net, "GET", "/v1/repair")
        (short,) = status["capacity_short"]
        assert short["policy"] == "global" and short["segments"] == 1 and short["pieces_missing"] == 1
        assert short["nodes_needed"] == 1 and short["eligible_nodes"] == 1
        assert status["queue"]["queued"] == 1 and "counters" in status
        report = await admin(net, "GET", "/v1/buckets/data/report")
        assert report["status"] == "degraded" and not report["compliant"]
        assert report["out_of_policy"]["pieces"] == 0 and report["capacity_short"]["nodes_needed"] == 1

        # Capacity returns: a node joins, and the short segment is taken again after the short
        # retry, brought to success, and the policy is no longer short.
        await add_node(net, tmp_path, 6)
        later = time.time() + net.satellite.config.repair_short_retry + 0.5
        results = await repair_all(net, now=later)
        assert [r.outcome for r in results] == [RepairOutcome.REPAIRED], results
        final = (await pieces_by_segment(net))[sid]
        assert len(final) == 5 and not {p.node_id for p in final} & set(dead)
        assert (await admin(net, "GET", "/v1/repair"))["capacity_short"] == []
        report = await admin(net, "GET", "/v1/buckets/data/report")
        assert report["status"] == "compliant" and report["capacity_short"] is None
        await read_all(net, "data", objects)


async def test_a_node_back_after_its_pieces_were_rebuilt_elsewhere_loses_them_to_gc_and_takes_new_ones(
    tmp_path,
) -> None:
    # The retain list is built "one margin later": the nodes must still count as online then.
    gc = {"gc_false_positive_rate": 1e-9, "online_window": 600}
    async with planet(tmp_path, nodes=8, scheme="2/3/5/5", segment_size=SEGMENT, satellite_config=gc) as net:
        objects = await upload_objects(net, "data", 2, SEGMENT + 100)
        before = await pieces_by_segment(net)
        sid, rows = next(iter(before.items()))
        gone = [rows[3], rows[4]]
        peers = {p.node_id: net.node_of(p.node_id) for p in gone}
        for p in gone:
            await kill_node(net, p.node_id)
        results = {r.segment_id: r for r in await repair_all(net)}
        assert results[sid].outcome is RepairOutcome.REPAIRED
        after = (await pieces_by_segment(net))[sid]
        assert not {p.node_id for p in after} & set(peers), "rebuilt on other nodes"

        back = await restart_node(net, peers[gone[0].node_id])
        assert back.store.exists(gone[0].piece_id), "its old piece is still on its disk"
        # The next retain list (built one margin later, as the gc chore would) leaves it out.
        at = time.time() + net.satellite.gc.config.margin + 2
        reports = await net.satellite.gc.run_cycle(now=at)
        assert any(r.node_id == back.identity.id and r.sent for r in reports), reports
        await back.retain.wait_idle()
        assert not back.store.exists(gone[0].piece_id), "trashed by the retain list"
        # In the trash, or already purged from it: the test nodes' trash grace is 0.2 s, which a
        # loaded machine can spend between the pass and this line.
        assert back.retain.trashed_total >= 1

        # Offline, not disqualified: once back it takes new pieces of other segments.
        everyone = RedundancyScheme.parse(f"2/3/{len(net.nodes) - 1}/{len(net.nodes) - 1}")
        await net.satellite.tenancy.create_policy(PlacementPolicy("everyone", everyone))
        new = await upload_objects(net, "fresh", 1, SEGMENT + 100,
                                   CreateBucketConfiguration={"LocationConstraint": "everyone"})  # fmt: skip
        fresh = {p.node_id for sid2, rows2 in (await pieces_by_segment(net)).items() if sid2 not in before
                 for p in rows2}  # fmt: skip
        assert back.identity.id in fresh
        await read_all(net, "data", objects)
        await read_all(net, "fresh", new)
