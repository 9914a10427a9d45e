"""Garbage collection end to end: the satellite's retain lists reclaim deleted objects' space
on every node, on SQLite and PostgreSQL, and never touch a live or in-flight piece."""

from __future__ import annotations

import os
import time

import aiohttp
from sqlalchemy import select

from common.identity import Identity
from common.messages import Action, RetainList, Signed
from common.piece_client import PieceClient, PieceTarget
from erasure.merkle import leaf_count
from erasure.segment import piece_root
from satellite.db.gc import GCRepository
from satellite.db.models import PieceRow, SegmentRow
from storage_node.pieces.format import header_length
from storage_node.pieces.store import scan_usage
from tests.planet import Planet, planet
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

SEGMENT = 64 * 1024
# Exact byte counts need a filter with (practically) no false positives; production uses 10%.
# Tests move the chore's clock past the token TTL; nodes must still count as online then.
EXACT = {"gc_false_positive_rate": 1e-9, "online_window": 600}


async def live_bytes(net: Planet) -> dict[str, tuple[int, int]]:
    """Per node: (piece count, bytes its piece files must take) by the satellite's pieces table."""
    out = {n.identity.id: (0, 0) for n in net.nodes}
    async with net.satellite.db.read() as s:
        rows = await s.execute(
            select(PieceRow.node_id, PieceRow.size, SegmentRow.layout).join(
                SegmentRow, SegmentRow.id == PieceRow.segment_id
            )
        )
        for node_id, size, layout in rows:
            count, total = out[node_id]
            file_size = header_length(leaf_count(size, layout["share_size"])) + size
            out[node_id] = (count + 1, total + file_size)
    return out


async def collect(net: Planet, *, at: float) -> None:
    """One retain list to every node (clock at ``at``), applied, and the trash emptied."""
    reports = await net.satellite.gc.run_cycle(now=at)
    assert sorted(r.node_id for r in reports) == sorted(n.identity.id for n in net.nodes)
    assert all(r.sent for r in reports), [r.error for r in reports]
    for node in net.nodes:
        await node.retain.wait_idle()
        node.store.empty_trash(time.time() + 1)  # as the trash chore does once the grace period is over


async def test_deleted_objects_space_is_reclaimed_on_every_node(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, database=db, segment_size=SEGMENT, satellite_config=EXACT) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="bucket")
        objects: dict[str, bytes] = {}
        for i, size in enumerate((1, 5000, SEGMENT - 100, SEGMENT + 17, 3 * SEGMENT + 5, 40_000, 70_000)):
            objects[f"k{i}"] = os.urandom(size)
        for key, data in objects.items():
            await net.s3(s3.put_object, Bucket="bucket", Key=key, Body=data)
        # Overwrites leave the old version's pieces behind; deletes leave all of them.
        objects["k3"] = os.urandom(2 * SEGMENT)
        await net.s3(s3.put_object, Bucket="bucket", Key="k3", Body=objects["k3"])
        for key in ("k1", "k4", "k6"):
            await net.s3(s3.delete_object, Bucket="bucket", Key=key)
            del objects[key]
        # A multipart upload that is aborted leaves its parts' pieces behind too.
        mp = await net.s3(s3.create_multipart_upload, Bucket="bucket", Key="mp")
        await net.s3(s3.upload_part, Bucket="bucket", Key="mp", UploadId=mp["UploadId"], PartNumber=1,
                     Body=os.urandom(SEGMENT + 9))  # fmt: skip
        await net.s3(s3.abort_multipart_upload, Bucket="bucket", Key="mp", UploadId=mp["UploadId"])

        expected = await live_bytes(net)
        before = {n.identity.id: scan_usage(n.config.data_dir) for n in net.nodes}
        garbage = sum(before[i].pieces - expected[i][1] for i in expected)
        assert garbage > 3 * SEGMENT  # there is something to reclaim

        # A list built now must keep everything: any piece could be part of an upload in flight.
        await collect(net, at=time.time())
        assert {n.identity.id: scan_usage(n.config.data_dir).pieces for n in net.nodes} == {
            i: u.pieces for i, u in before.items()
        }

        # Once the segment-token TTL has passed, every unreferenced piece is garbage.
        await collect(net, at=time.time() + net.satellite.gc.config.margin + 2)
        for node in net.nodes:
            disk = scan_usage(node.config.data_dir)
            count, nbytes = expected[node.identity.id]
            assert (disk.piece_count, disk.pieces, disk.trash) == (count, nbytes, 0), node.identity.id
            assert node.store.usage().used == disk.used  # what the node reports is what is on disk
            last = await GCRepository(net.satellite.db).last(node.identity.id)
            assert last is not None and last.sent_at is not None and last.piece_count == count
            assert last.filter_bytes > 0 and last.last_error == ""

        for key, data in objects.items():
            _, body = await net.get(s3, Bucket="bucket", Key=key)
            assert body == data, key


async def test_in_flight_upload_survives_and_abandoned_one_is_collected(tmp_path) -> None:
    async with planet(tmp_path, nodes=5, satellite_config=EXACT) as net:
        sat, node = net.satellite, net.nodes[0]
        # A piece stored under a satellite order but not (yet) committed: an upload in flight.
        data = os.urandom(3000)
        pid = os.urandom(32).hex()
        order = sat.signer.order_limit(node.identity.id, pid, Action.PUT, len(data))
        async with PieceClient.new_session() as session:
            await PieceClient(session).upload(PieceTarget(0, node.identity.id, node.address, order), data, 64,
                                              piece_root(data, 64))  # fmt: skip
        assert node.store.exists(pid)

        # The satellite's list does not name it, but it was stored after created_before: kept.
        report = await sat.gc.run_once(now=time.time())
        while report is not None and report.node_id != node.identity.id:
            report = await sat.gc.run_once(now=time.time())
        assert report is not None and report.sent and report.created_before < order.message.created
        await node.retain.wait_idle()
        assert node.store.exists(pid) and node.retain.last is not None and node.retain.last.trashed == 0

        # Never committed within the token's lifetime: abandoned, and collected by the next list.
        later = time.time() + sat.gc.config.margin + 2
        report = await sat.gc.run_once(now=later)
        while report is not None and report.node_id != node.identity.id:
            report = await sat.gc.run_once(now=later)
        assert report is not None and report.created_before > order.message.created
        await node.retain.wait_idle()
        assert not node.store.exists(pid) and node.store.trash_path(pid).exists()


async def test_nodes_accept_retain_lists_only_from_the_satellite_for_themselves(tmp_path) -> None:
    async with planet(tmp_path, nodes=5, satellite_config=EXACT) as net:
        sat, a, b = net.satellite, net.nodes[0], net.nodes[1]
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="bucket")
        await net.s3(s3.put_object, Bucket="bucket", Key="x", Body=os.urandom(20_000))
        before = [scan_usage(n.config.data_dir) for n in (a, b)]
        future = int(time.time()) + 3600  # a list that would trash every piece but the listed ones
        rogue = Identity.generate()
        empty = b"\0" * 8
        forged = Signed.sign(rogue, RetainList(sat.identity.id, a.identity.id, future, 1, empty))
        foreign = Signed.sign(rogue, RetainList(rogue.id, a.identity.id, future, 1, empty))
        misaddressed, _ = await sat.gc.build(b.identity.id, future)  # the satellite's list for b...
        async with aiohttp.ClientSession() as http:
            for node, signed, status in ((a, forged, 401), (a, foreign, 401), (a, misaddressed, 403)):
                async with http.post(f"{node.address}/v1/retain", data=signed.dumps()) as r:
                    assert r.status == status, await r.text()
        for node in (a, b):
            await node.retain.wait_idle()
        assert [scan_usage(n.config.data_dir) for n in (a, b)] == before
