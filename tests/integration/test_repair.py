"""Repair end to end on a planet (real nodes over HTTP, one process): disqualification,
corrupt pieces, many nodes lost at once, crashes between upload and swap."""

from __future__ import annotations

import pytest

from satellite.repair import RepairOutcome
from tests.planet import planet
from tests.repair_helpers import delete_pieces, pieces_by_segment, read_all, repair_all, upload_objects
from tests.satellite_fixtures import db_backend, drop_database, fresh_database  # noqa: F401

SEGMENT = 64 * 1024


async def test_segments_of_a_disqualified_node_are_repaired_onto_other_nodes(tmp_path, db_backend) -> None:  # noqa: F811
    database, schema = await fresh_database(db_backend, tmp_path)
    try:
        async with planet(tmp_path, nodes=8, segment_size=SEGMENT, database=database) as net:
            objects = await upload_objects(net, "data", 6, 2 * SEGMENT + 100)
            before = await pieces_by_segment(net)
            counts: dict[str, int] = {}
            for rows in before.values():
                for p in rows:
                    counts[p.node_id] = counts.get(p.node_id, 0) + 1
            victim = max(counts, key=lambda n: counts[n])
            await net.satellite.nodes.disqualify(victim, "test: lost data")

            results = await repair_all(net)
            at_risk = set()
            for sid, rows in before.items():
                if any(p.node_id == victim for p in rows) and len(rows) - 1 <= 3:  # repair threshold 3
                    at_risk.add(sid)
            assert at_risk, "the test needs a segment that falls to the repair threshold"
            assert {r.segment_id for r in results} == at_risk
            assert all(r.outcome is RepairOutcome.REPAIRED for r in results), [r.error for r in results]

            after = await pieces_by_segment(net)
            for sid, rows in after.items():
                assert len({p.node_id for p in rows}) == len(rows), "one piece per node"
                assert len({p.number for p in rows}) == len(rows)
                healthy = [p for p in rows if p.node_id != victim]
                assert len(healthy) >= 4, f"segment {sid} has {len(healthy)} healthy pieces, success is 4"
                if sid in at_risk:
                    assert victim not in {p.node_id for p in rows}
            assert await net.satellite.repair.queue.jobs() == []
            assert await repair_all(net) == []  # a second pass finds nothing to do
            # The victim's data is not needed any more: lose all of it, read everything.
            delete_pieces(net, victim)
            await read_all(net, "data", objects)
    finally:
        await drop_database(database, schema)
