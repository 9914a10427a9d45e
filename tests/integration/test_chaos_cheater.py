"""Chaos test (a), whole: a node silently deletes 10% of its pieces.

Nothing tells the satellite: the audit chore finds the missing pieces by itself and
disqualifies the node; the repair checker then queues every segment the node held and
the repairer moves them to other nodes. The node's disk can then be wiped entirely and
every object still reads back byte for byte: zero objects lost.
"""

from __future__ import annotations

import random

from sqlalchemy import select

from satellite.db.models import Node
from tests.planet import planet
from tests.repair_helpers import delete_pieces, held_by, pieces_by_segment, read_all, repair_all, upload_objects

SEGMENT = 64 * 1024


async def test_a_node_losing_ten_percent_is_caught_by_audits_and_all_its_segments_are_repaired(tmp_path) -> None:
    async with planet(tmp_path, nodes=7, segment_size=SEGMENT, satellite_config={"audit_reservoir_size": 50}) as net:
        objects = await upload_objects(net, "data", 12, 3 * SEGMENT + 100)
        before = await pieces_by_segment(net)
        counts: dict[str, int] = {}
        for rows in before.values():
            for p in rows:
                counts[p.node_id] = counts.get(p.node_id, 0) + 1
        cheater = max(counts, key=lambda n: counts[n])
        assert delete_pieces(net, cheater, 0.1, seed=3, among=held_by(before, cheater)) >= 2

        chore = net.satellite.audit_chore
        chore.rng = random.Random(5)
        for _ in range(200):  # passes; a few dozen audits of the cheater are expected to do
            await chore.run_pass()
            async with net.satellite.db.read() as s:
                row = (await s.execute(select(Node).where(Node.id == cheater))).scalar_one()
            if row.disqualified_at is not None:
                break
        assert row.disqualified_at is not None, "the audits never disqualified the cheater"
        async with net.satellite.db.read() as s:
            others = (await s.execute(select(Node).where(Node.id != cheater))).scalars().all()
        assert all(n.disqualified_at is None for n in others), "an honest node was disqualified"

        held = {sid for sid, rows in before.items() if any(p.node_id == cheater for p in rows)}
        results = await repair_all(net)
        assert {r.segment_id for r in results} == held
        after = await pieces_by_segment(net)
        assert all(cheater not in {p.node_id for p in rows} for rows in after.values())
        delete_pieces(net, cheater)  # whatever it still had is not needed by anyone
        await read_all(net, "data", objects)
