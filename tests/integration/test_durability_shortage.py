"""A network that shrinks, on a 12-node planet with the 4/6/8/10 scheme (real nodes over HTTP):
nodes lost one at a time down to k + 1, and the three waves of issue 9 (a quarter of the nodes
killed, rot on two survivors, two more killed) with the satellite's repair workers and the
nodes' scrubs running as they do in production. Every object stays readable; the compliance
report says degraded, never compliant, from the moment the policy is short of nodes."""

from __future__ import annotations

import random

from tests.durability_helpers import (
    admin,
    corrupt_piece,
    piece_file,
    piece_losses,
    queued,
    repair_running,
    repair_settle_time,
    shortfall_ids,
    wait_until,
)
from tests.planet import planet
from tests.repair_helpers import kill_node, pieces_by_segment, read_all, repair_all, upload_objects

SEGMENT = 64 * 1024
K, REPAIR, SUCCESS = 4, 6, 8


async def _healthy(net, alive: set[str]) -> dict[int, int]:
    return {sid: sum(p.node_id in alive for p in rows) for sid, rows in (await pieces_by_segment(net)).items()}


async def test_a_network_shrinking_to_k_plus_one_keeps_every_object_and_says_when_it_is_short(tmp_path) -> None:
    async with planet(tmp_path, nodes=12, scheme="4/6/8/10", segment_size=SEGMENT) as net:
        objects = await upload_objects(net, "data", 2, SEGMENT + 100)  # four segments
        alive = {n.identity.id for n in net.nodes}
        rng = random.Random(9)
        short_seen = False
        while len(alive) > K + 1:
            victim = rng.choice(sorted(alive))
            await kill_node(net, victim)
            alive.discard(victim)
            at_risk = {sid for sid, h in (await _healthy(net, alive)).items() if h <= REPAIR}
            await repair_all(net)  # the repair window between two losses
            await read_all(net, "data", objects)
            healthy = await _healthy(net, alive)
            assert min(healthy.values()) >= K + 1 and len(alive) >= K + 1
            status = await admin(net, "GET", "/v1/repair")
            report = await admin(net, "GET", "/v1/buckets/data/report")
            if len(alive) >= SUCCESS:
                # Enough nodes: every segment that reached the threshold is whole again.
                assert all(healthy[sid] >= SUCCESS for sid in at_risk)
                assert status["capacity_short"] == [] and report["capacity_short"] is None
                assert report["status"] == "compliant", report
            elif at_risk or short_seen:
                # From the first repair that could not reach success: short, by how many nodes.
                short_seen = True
                (short,) = status["capacity_short"]
                assert short["policy"] == "global" and short["nodes_needed"] == SUCCESS - len(alive), short
                assert short["eligible_nodes"] == 0 or short["pieces_missing"] >= 1
                assert report["status"] == "degraded" and not report["compliant"], report
                assert report["capacity_short"]["nodes_needed"] == SUCCESS - len(alive)
                # Best effort: each at-risk segment now has a piece on every node left.
                assert all(healthy[sid] == len(alive) for sid in at_risk)
        assert short_seen, "the test should have reached a shortage"
        assert (await queued(net)), "short segments stay queued for when capacity returns"


async def test_three_waves_lose_nothing_and_the_report_is_degraded_while_capacity_is_short(tmp_path) -> None:
    # The nodes scrub as in production (a pass per period, here an hour, begun at start-up);
    # when the rot is planted, its two nodes are asked for a pass now ("scrub now").
    async with planet(tmp_path, nodes=12, scheme="4/6/8/10", segment_size=SEGMENT,
                      node_config={"scrub_period": 3600.0}) as net:  # fmt: skip
        objects = await upload_objects(net, "data", 2, SEGMENT + 100)  # four segments
        alive = {n.identity.id for n in net.nodes}
        rng = random.Random(4)
        settle = repair_settle_time(net, jobs=len(await pieces_by_segment(net)))

        async def settled() -> bool:
            """The repair queue is empty, or holds only segments short of nodes, waiting."""
            jobs = await queued(net)
            short = await shortfall_ids(net)
            return all(sid in short and j.claimed_by is None for sid, j in jobs.items())

        async with repair_running(net):
            # Wave 1: a third of the network (4 of 12) killed.
            for victim in rng.sample(sorted(alive), 4):
                await kill_node(net, victim)
                alive.discard(victim)
            checker = net.satellite.repair.checker
            passes = checker.state.passes
            await wait_until(lambda: _after(checker, passes, 2), settle, "two checker passes after wave 1")
            await wait_until(settled, settle, "repair after wave 1")
            await read_all(net, "data", objects)
            healthy = await _healthy(net, alive)
            assert min(healthy.values()) > REPAIR, healthy

            # Wave 2: (up to) 5 pieces rot on each of two survivors; their scrubs find them.
            rows = await pieces_by_segment(net)
            held: dict[str, list[tuple[str, int]]] = {}
            for sid, ps in rows.items():
                for p in ps:
                    if p.node_id in alive:
                        held.setdefault(p.node_id, []).append((p.piece_id, sid))
            rotten = sorted(alive, key=lambda n: -len(held.get(n, [])))[:2]
            planted = set()
            for node_id in rotten:
                for piece_id, _sid in held[node_id][:5]:
                    corrupt_piece(piece_file(net, node_id, piece_id), rng)
                    planted.add((node_id, piece_id))

            async def all_found() -> bool:
                """Each node's scrub found its rotten pieces, and no row names one any more (a
                repairer that read a rotten piece before the scrub got to it dropped it too)."""
                rows = {(p.node_id, p.piece_id) for ps in (await pieces_by_segment(net)).values() for p in ps}
                found = all(net.node_of(n).scrub.state.total_losses >= sum(a == n for a, _ in planted) for n in rotten)
                return found and not planted & rows

            for node_id in rotten:
                net.node_of(node_id).scrub.request_pass()
            stored = max(net.node_of(n).store.usage().pieces for n in rotten)
            scrub_time = stored / net.node_of(rotten[0]).scrub.config.min_rate  # the slowest pace
            await wait_until(all_found, scrub_time + settle, "the scrubs to find every rotten piece")
            assert {(x.node_id, x.piece_id) for x in await piece_losses(net)} <= planted
            passes = checker.state.passes
            await wait_until(lambda: _after(checker, passes, 2), settle, "two checker passes after wave 2")
            await wait_until(settled, settle, "repair after wave 2")
            await read_all(net, "data", objects)
            assert min((await _healthy(net, alive)).values()) > REPAIR

            # Wave 3: two more survivors killed: 6 nodes left, fewer than success (8).
            for victim in rng.sample(sorted(alive), 2):
                await kill_node(net, victim)
                alive.discard(victim)
            passes = checker.state.passes
            await wait_until(lambda: _after(checker, passes, 2), settle, "two checker passes after wave 3")
            await wait_until(settled, settle, "repair after wave 3")
            await read_all(net, "data", objects)  # zero objects lost
            healthy = await _healthy(net, alive)
            assert min(healthy.values()) >= K + 1, healthy
            report = await admin(net, "GET", "/v1/buckets/data/report")
            if any(h <= REPAIR for h in (await _healthy(net, alive | set())).values()) or report["capacity_short"]:
                assert report["status"] == "degraded" and not report["compliant"], report
                assert report["capacity_short"]["policy"] == "global"
                assert report["capacity_short"]["nodes_needed"] == SUCCESS - len(alive)
            else:  # every segment kept more than its threshold: nothing was repaired, still below success
                assert report["status"] == "compliant"


async def _after(checker, passes: int, more: int) -> bool:
    return checker.state.passes >= passes + more
