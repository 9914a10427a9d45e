"""Old versions are repaired like current objects: a disqualified node's pieces of every stored
version, current, noncurrent and under a delete marker, are rebuilt elsewhere and stay readable."""

from __future__ import annotations

import os

from sqlalchemy import select

from satellite.db.models import ObjectRow, SegmentRow
from satellite.repair import RepairOutcome
from tests.integration.test_repair import _admin
from tests.planet import planet
from tests.repair_helpers import busiest_node, delete_pieces, pieces_by_segment, repair_all

SEGMENT = 64 * 1024


async def test_noncurrent_versions_are_repaired_when_their_node_is_disqualified(tmp_path) -> None:
    async with planet(tmp_path, nodes=8, segment_size=SEGMENT) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await net.s3(s3.put_bucket_versioning, Bucket="vers", VersioningConfiguration={"Status": "Enabled"})
        bodies = {}
        for key in ("a", "b"):
            for _ in range(2):
                body = os.urandom(2 * SEGMENT + 100)
                bodies[(key, (await net.s3(s3.put_object, Bucket="vers", Key=key, Body=body))["VersionId"])] = body
        await net.s3(s3.delete_object, Bucket="vers", Key="b")  # b's versions are all noncurrent now
        before = await pieces_by_segment(net)
        victim = busiest_node(before)
        held = {sid for sid, rows in before.items() if any(p.node_id == victim for p in rows)}
        async with net.satellite.db.read() as session:
            noncurrent = set((await session.execute(select(SegmentRow.id).join(
                ObjectRow, ObjectRow.id == SegmentRow.object_id).where(ObjectRow.is_latest.is_(False)))).scalars())
        assert held & noncurrent, "the test needs the victim to hold pieces of a noncurrent version"
        await _admin(net, "POST", f"/v1/nodes/{victim}/disqualify", {"reason": "test"})

        results = await repair_all(net)
        assert {r.segment_id for r in results} == held
        assert all(r.outcome is RepairOutcome.REPAIRED for r in results), [r.error for r in results]
        after = await pieces_by_segment(net)
        assert all(victim not in {p.node_id for p in rows} and len(rows) >= 4 for rows in after.values())
        delete_pieces(net, victim)  # its data is not needed any more
        for (key, vid), body in bodies.items():
            assert (await net.get(s3, Bucket="vers", Key=key, VersionId=vid))[1] == body, (key, vid)
