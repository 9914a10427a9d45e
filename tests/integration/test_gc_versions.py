"""Garbage collection of versions: an old version's pieces stay on every node's disk until the
version is deleted for good, then the next retain pass reclaims them (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import time

from sqlalchemy import func, select

from common.messages import now as common_now
from satellite.db.accounting_models import NodeTally, TenantTally
from satellite.db.models import PieceRow, SegmentRow
from satellite.db.residency_ledger import LedgerEvent
from satellite.db.residency_models import ResidencyEntry
from storage_node.pieces.store import scan_usage
from tests.integration.test_gc import EXACT, collect, live_bytes
from tests.planet import planet
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

SEGMENT = 64 * 1024


async def test_versions_keep_their_pieces_until_deleted_for_good(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, database=db, segment_size=SEGMENT, satellite_config=EXACT) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await net.s3(s3.put_bucket_versioning, Bucket="vers", VersioningConfiguration={"Status": "Enabled"})
        bodies = [os.urandom(2 * SEGMENT + i) for i in range(3)]
        ids = [(await net.s3(s3.put_object, Bucket="vers", Key="k", Body=b))["VersionId"] for b in bodies]
        marker = (await net.s3(s3.delete_object, Bucket="vers", Key="k"))["VersionId"]
        every = await live_bytes(net)

        # Metering counts every version: the tenant's bytes and each node's pieces of all three.
        await net.satellite.accounting.tally.tally(now=common_now())
        async with net.satellite.db.read() as s:
            tenant_bytes = (await s.execute(select(TenantTally.bytes).where(
                TenantTally.tenant_id == net.tenants[0].id))).scalars().all()  # fmt: skip
            node_bytes = dict((await s.execute(select(NodeTally.node_id, NodeTally.bytes))).all())
            piece_bytes = dict((await s.execute(select(PieceRow.node_id, func.sum(PieceRow.size))
                                                .group_by(PieceRow.node_id))).all())  # fmt: skip
        assert tenant_bytes == [sum(len(b) for b in bodies)]
        assert node_bytes == piece_bytes and len(node_bytes) == len(net.nodes)

        # Overwritten and delete-marked versions are live objects: a retain pass keeps every piece.
        first = time.time() + net.satellite.gc.config.margin + 2
        await collect(net, at=first)
        for node in net.nodes:
            disk = scan_usage(node.config.data_dir)
            assert (disk.piece_count, disk.pieces) == every[node.identity.id], node.identity.id
        for vid, body in zip(ids, bodies, strict=True):
            assert (await net.get(s3, Bucket="vers", Key="k", VersionId=vid))[1] == body

        # Deleting two versions for good leaves only the third version's pieces on the disks.
        async with net.satellite.db.read() as s:
            doomed = set((await s.execute(select(PieceRow.node_id, PieceRow.piece_id).join(
                SegmentRow, SegmentRow.id == PieceRow.segment_id))).all())  # fmt: skip
        for vid in ids[:2]:
            await net.s3(s3.delete_object, Bucket="vers", Key="k", VersionId=vid)
        await net.s3(s3.delete_object, Bucket="vers", Key="k", VersionId=marker)
        left = await live_bytes(net)
        assert sum(c for c, _ in left.values()) < sum(c for c, _ in every.values())
        gc = net.satellite.gc.config
        await collect(net, at=max(time.time() + gc.margin, first) + gc.interval + 2)  # the nodes are due again
        for node in net.nodes:
            disk = scan_usage(node.config.data_dir)
            assert (disk.piece_count, disk.pieces, disk.trash) == (*left[node.identity.id], 0), node.identity.id
        assert (await net.get(s3, Bucket="vers", Key="k"))[1] == bodies[2]
        async with net.satellite.db.read() as s:
            kept = set((await s.execute(select(PieceRow.node_id, PieceRow.piece_id))).all())
        for node_id, piece_id in doomed - kept:
            assert not net.node_of(node_id).store.exists(piece_id)
        # The residency ledger recorded the removal of each of those pieces, and of no other.
        async with net.satellite.db.read() as s:
            removals = (await s.execute(select(ResidencyEntry.node_id, ResidencyEntry.segment_id).where(
                ResidencyEntry.event == LedgerEvent.DELETION, ResidencyEntry.action == "remove"))).all()  # fmt: skip
        assert len(removals) == len(doomed - kept) > 0
