"""Node-side scrubbing end to end on a planet (real nodes over HTTP, SQLite and PostgreSQL):
every planted flip and vanished file found in one pass, reported, repaired; the loss signal warns and suspends,
and never counts as a failed audit."""

from __future__ import annotations

import random

import aiohttp
from sqlalchemy import select

from satellite.db.models import Reputation
from storage_node.cli import format_scrub, node_status
from tests.durability_helpers import corrupt_piece, piece_file, piece_losses, queued, wait_until
from tests.planet import planet
from tests.repair_helpers import pieces_by_segment, read_all, repair_all, upload_objects
from tests.satellite_fixtures import db_backend, drop_database, fresh_database  # noqa: F401

SEGMENT = 64 * 1024
SCRUB_PERIOD = 1.0  # a pass per second: these pieces are a few hundred KiB per node


async def _passes_after_planting(net, before: dict[str, int]) -> bool:
    """Every node finished a pass that began after the flips were planted (two more passes)."""
    return all(n.scrub.state.passes >= before[n.identity.id] + 2 for n in net.nodes)


async def test_scrub_finds_every_planted_flip_and_vanished_file_in_one_pass_and_repair_follows(
    tmp_path, db_backend  # noqa: F811
) -> None:
    database, schema = await fresh_database(db_backend, tmp_path)
    try:
        async with planet(tmp_path, nodes=7, segment_size=SEGMENT, database=database,
                          node_config={"scrub_period": SCRUB_PERIOD}) as net:  # fmt: skip
            objects = await upload_objects(net, "data", 4, 2 * SEGMENT + 100)
            before = await pieces_by_segment(net)
            rng = random.Random(3)
            # In one piece of every segment, on any node: one byte flipped, or (every other
            # segment) the whole file gone, which only the node's piece index can notice.
            planted, reasons = {}, {}
            for i, (sid, rows) in enumerate(sorted(before.items())):
                p = rng.choice(rows)
                if i % 2:
                    piece_file(net, p.node_id, p.piece_id).unlink()
                else:
                    corrupt_piece(piece_file(net, p.node_id, p.piece_id), rng)
                planted[(p.node_id, p.piece_id)] = sid
                reasons[(p.node_id, p.piece_id)] = "missing" if i % 2 else "corrupt"
            passes = {n.identity.id: n.scrub.state.passes for n in net.nodes}
            await wait_until(lambda: _passes_after_planting(net, passes), 10 * SCRUB_PERIOD + 20, "a scrub pass")

            # The satellite heard of every planted flip, from the node itself, and of no other piece.
            losses = await piece_losses(net)
            assert {(x.node_id, x.piece_id) for x in losses} == set(planted)
            assert "missing" in reasons.values()
            assert all(x.reason.startswith(reasons[(x.node_id, x.piece_id)])
                       and x.segment_id == planted[(x.node_id, x.piece_id)] for x in losses)  # fmt: skip
            after = await pieces_by_segment(net)
            for (node_id, piece_id), sid in planted.items():
                assert piece_id not in {p.piece_id for p in after[sid]}, "the lost piece's row is gone"
                assert not piece_file(net, node_id, piece_id).exists(), "the node deleted it"
            jobs = await queued(net)
            # Queued at once: "reported", or the checker's "below_threshold" where one loss reached it.
            assert set(planted.values()) <= set(jobs)
            assert {jobs[s].reason for s in planted.values()} <= {"reported", "below_threshold"}
            # A loss the node found itself is no failed audit: no reputation moved, nobody suspended.
            async with net.satellite.db.read() as s:
                assert all(r.failure_count == 0 for r in (await s.execute(select(Reputation))).scalars())
            assert not any(c.suspended or c.disqualified for c in await net.satellite.nodes.candidates())

            # The node shows it: JSON API and `geoshard node status`.
            node_id = next(iter(planted))[0]
            peer = net.node_of(node_id)
            async with aiohttp.ClientSession() as http, http.get(f"{peer.address}/v1/scrub") as r:
                shown = await r.json()
            lost_here = sum(1 for n, _ in planted if n == node_id)
            assert shown["enabled"] and shown["total_losses"] == lost_here and shown["losses_unreported"] == 0
            assert shown["passes"] >= 2 and shown["last_pass_verified"] >= 1
            status = node_status(peer.config)["scrub"]
            assert status["total_losses"] == lost_here
            assert any(f"{status['last_pass_verified']} pieces verified" in line for line in format_scrub(status))

            results = await repair_all(net)
            assert {r.segment_id for r in results} >= set(planted.values())
            # Back to success (4) everywhere: rebuilt where the loss left fewer, untouched where
            # the segment had stored a fifth piece (its long tail) and still has success.
            outcomes = {r.segment_id: r.outcome.value for r in results}
            assert set(outcomes.values()) <= {"repaired", "not_needed"}, [r.error for r in results]
            assert await queued(net) == {}
            for sid, rows in (await pieces_by_segment(net)).items():
                assert len(rows) >= 4, f"segment {sid} has {len(rows)} pieces after repair"
                if len(before[sid]) == 4:
                    assert outcomes[sid] == "repaired"
            await read_all(net, "data", objects)
    finally:
        await drop_database(database, schema)


async def test_a_node_that_loses_a_lot_is_warned_then_suspended_until_reinstated(tmp_path) -> None:
    cfg = {"loss_suspend_min": 3, "loss_suspend_fraction": 0.0}
    async with planet(tmp_path, nodes=6, segment_size=SEGMENT, satellite_config=cfg,
                      node_config={"scrub_period": SCRUB_PERIOD}) as net:  # fmt: skip
        await upload_objects(net, "data", 3, 2 * SEGMENT + 100)
        before = await pieces_by_segment(net)
        held: dict[str, list[str]] = {}
        for rows in before.values():
            for p in rows:
                held.setdefault(p.node_id, []).append(p.piece_id)
        bad, warned = sorted(held, key=lambda n: -len(held[n]))[:2]
        rng = random.Random(1)
        for pid in held[bad][:3]:
            corrupt_piece(piece_file(net, bad, pid), rng)
        corrupt_piece(piece_file(net, warned, held[warned][0]), rng)
        passes = {n.identity.id: n.scrub.state.passes for n in net.nodes}
        await wait_until(lambda: _passes_after_planting(net, passes), 10 * SCRUB_PERIOD + 20, "a scrub pass")

        rep = net.satellite.reputation
        bad_report, warned_report = await rep.report(bad), await rep.report(warned)
        assert bad_report["self_reported_losses"]["suspended"], bad_report["self_reported_losses"]
        assert "replace it" in bad_report["self_reported_losses"]["suspension_reason"]
        assert warned_report["self_reported_losses"]["losses"] == 1
        assert not warned_report["self_reported_losses"]["suspended"]
        assert any("scrub found 1 lost piece" in w for w in warned_report["warnings"])
        # Suspended means no new pieces; the audit score is untouched.
        assert bad_report["scores"]["audit"] == 1.0 and not bad_report["disqualified"]
        net.satellite.overlay.invalidate()
        nodes = {c.id: c for c in await net.satellite.nodes.candidates()}
        assert nodes[bad].suspended and not nodes[warned].suspended
        # An audit's recovery does not lift it; an admin's reinstatement does.
        await net.satellite.nodes.reinstate(bad)
        nodes = {c.id: c for c in await net.satellite.nodes.candidates()}
        assert not nodes[bad].suspended
