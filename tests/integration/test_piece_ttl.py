"""Lifecycle expiry reaches the nodes as piece TTLs (``piece_expires`` of the PUT orders), safely:
an expiring object's pieces leave the disks with no retain pass; a rule removed before the TTL
ends gets the pieces renewed by the repair checker and repairer, and the object outlives the old
TTL; versioned and Object Lock buckets never get a TTL; audits leave expired pieces alone.
"Days" are seconds here (``lifecycle_day_seconds``). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import time

from sqlalchemy import select

from satellite.db.models import Bucket, ObjectRow, PieceRow, SegmentRow
from storage_node.pieces.store import scan_usage
from tests.integration.test_gc import EXACT, live_bytes
from tests.integration.test_lifecycle_chore import keys, until
from tests.planet import Planet, planet
from tests.repair_helpers import repair_all
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

SEGMENT = 64 * 1024
DAY = 1  # seconds in a lifecycle "day"
GRACE_DAYS = 20  # lifecycle_piece_grace_seconds in days: 20 s of grace on these planets
CONFIG = {**EXACT, "lifecycle_day_seconds": DAY, "lifecycle_piece_grace_seconds": GRACE_DAYS * 86_400,
          "segment_token_ttl": 10, "gc_interval": 1e6}  # fmt: skip
FAR = 2**40  # a node clock past every TTL


def rule(days: int, prefix: str = "tmp/") -> dict:
    return {"Rules": [{"ID": "tmp", "Filter": {"Prefix": prefix}, "Status": "Enabled", "Expiration": {"Days": days}}]}


async def ttls(net: Planet, bucket: str) -> dict[str, list[float | None]]:
    """Per key of ``bucket``: its segments' recorded piece TTLs (unix seconds; None: none)."""
    async with net.satellite.db.read() as s:
        rows = await s.execute(
            select(ObjectRow.key, SegmentRow.piece_expires)
            .join(SegmentRow, SegmentRow.object_id == ObjectRow.id)
            .join(Bucket, Bucket.id == ObjectRow.bucket_id)
            .where(Bucket.name == bucket)
        )
        out: dict[str, list[float | None]] = {}
        for key, at in rows:
            out.setdefault(key, []).append(None if at is None else at.timestamp())
    return out


async def node_ttl_pieces(net: Planet) -> set[str]:
    """Every piece id some node will delete by itself (its expirations table)."""
    return {p for n in net.nodes for p in n.db.expirations.expired(FAR, limit=100_000)}


async def piece_ids(net: Planet, key: str | None = None, bucket: str = "life") -> set[str]:
    """The piece ids the satellite records for ``key`` of ``bucket`` (None: every key)."""
    q = (
        select(PieceRow.piece_id)
        .join(SegmentRow, SegmentRow.id == PieceRow.segment_id)
        .join(ObjectRow, ObjectRow.id == SegmentRow.object_id)
        .join(Bucket, Bucket.id == ObjectRow.bucket_id)
        .where(Bucket.name == bucket)
    )
    if key is not None:
        q = q.where(ObjectRow.key == key)
    async with net.satellite.db.read() as s:
        return set((await s.execute(q)).scalars())


async def test_expiring_objects_pieces_carry_the_ttl_and_leave_the_disks_without_a_retain_pass(tmp_path, db) -> None:  # noqa: F811
    # success = total: every piece uploaded is committed (no long tail left for GC), so the disks
    # can be compared with the satellite's records exactly.
    async with planet(tmp_path, database=db, scheme="2/3/5/5", segment_size=SEGMENT, satellite_config=CONFIG,
                      lifecycle_day_seconds=DAY) as net:  # fmt: skip
        s3, sat = net.client(), net.satellite
        await net.s3(s3.create_bucket, Bucket="life")
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life", LifecycleConfiguration=rule(2))
        await net.s3(s3.create_bucket, Bucket="kept")
        await net.s3(s3.put_bucket_versioning, Bucket="kept", VersioningConfiguration={"Status": "Enabled"})
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="kept", LifecycleConfiguration=rule(2))
        await net.s3(s3.create_bucket, Bucket="worm", ObjectLockEnabledForBucket=True)
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="worm", LifecycleConfiguration=rule(2))
        began = time.time()
        for bucket in ("life", "kept", "worm"):
            for key in ("tmp/a", "tmp/big", "keep/a"):
                size = 3 * SEGMENT + 5 if key == "tmp/big" else 9000
                await net.s3(s3.put_object, Bucket=bucket, Key=key, Body=os.urandom(size))
        done = time.time()

        life = await ttls(net, "life")
        grace = GRACE_DAYS * DAY
        for key in ("tmp/a", "tmp/big"):  # rule date (2 days after the commit, bounded by the token) + grace
            assert all(t is not None and began + 2 * DAY + grace <= t <= done + 10 + 2 * DAY + grace + 1
                       for t in life[key]), life[key]  # fmt: skip
        assert len(life["tmp/big"]) == 4  # segments
        assert life["keep/a"] == [None]  # no rule selects it
        # A versioned bucket's expiry only adds a delete marker, and locked versions must stay: no TTL.
        for bucket in ("kept", "worm"):
            assert all(t is None for ts in (await ttls(net, bucket)).values() for t in ts), bucket
        # The nodes were told: the expiring objects' pieces carry a TTL, no other piece does.
        expiring = await piece_ids(net, "tmp/a") | await piece_ids(net, "tmp/big")
        told = await node_ttl_pieces(net)
        assert expiring == told
        others = await piece_ids(net, "keep/a") | await piece_ids(net, bucket="kept")
        others |= await piece_ids(net, bucket="worm")
        assert others and not others & told

        # Lifecycle expires them (the grace lets it run first), then the nodes delete their pieces at
        # the TTL by themselves: no retain list is ever sent.
        chore = asyncio.create_task(sat.lifecycle.run())
        try:
            await until(lambda: _keys_are(net, "life", {"keep/a"}))
        finally:
            await sat.lifecycle.close()
            await chore
        expected = await live_bytes(net)
        before = sum(scan_usage(n.config.data_dir).pieces for n in net.nodes)
        assert before - sum(b for _, b in expected.values()) > 3 * SEGMENT  # the expired objects' pieces
        for node in net.nodes:
            node.expiry.run_once(at=int(max(t for ts in life.values() for t in ts if t)) + 1)
            disk = scan_usage(node.config.data_dir)
            assert (disk.piece_count, disk.pieces) == expected[node.identity.id], node.identity.id
            assert node.retain.last is None  # no retain pass did it
        assert await node_ttl_pieces(net) == set()
        # The versioned and locked buckets' versions (now noncurrent, behind delete markers) kept every
        # piece: the disks hold exactly what the satellite records.
        assert await piece_ids(net, bucket="kept") and await piece_ids(net, bucket="worm")
        _, body = await net.get(s3, Bucket="life", Key="keep/a")
        assert len(body) == 9000


async def _keys_are(net: Planet, bucket: str, want: set[str]) -> bool:
    return await keys(net, bucket) == want


async def test_rule_removed_copy_or_versioning_before_expiry_renews_the_pieces_which_outlive_the_old_ttl(tmp_path, db) -> None:  # noqa: E501, F811
    # Six nodes for five pieces: a renewal may put a new piece on a node that holds an old one.
    async with planet(tmp_path, database=db, segment_size=SEGMENT, satellite_config=CONFIG,
                      lifecycle_day_seconds=DAY) as net:  # fmt: skip
        s3, sat = net.client(), net.satellite
        await net.s3(s3.create_bucket, Bucket="life")
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life", LifecycleConfiguration=rule(5))
        data = {"tmp/a": os.urandom(9000), "tmp/big": os.urandom(2 * SEGMENT + 3), "tmp/still": os.urandom(7000)}
        for key, body in data.items():
            await net.s3(s3.put_object, Bucket="life", Key=key, Body=body)
        # A copy into a bucket without rules shares the pieces, and their TTL: its own check renews them.
        await net.s3(s3.create_bucket, Bucket="other")
        await net.s3(s3.copy_object, Bucket="other", Key="copy", CopySource={"Bucket": "life", "Key": "tmp/still"})
        assert await piece_ids(net, "copy", "other") == await piece_ids(net, "tmp/still")
        # Versioning turned on after the upload: expiry would only add a delete marker now.
        await net.s3(s3.create_bucket, Bucket="ver")
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="ver", LifecycleConfiguration=rule(5))
        await net.s3(s3.put_object, Bucket="ver", Key="tmp/v", Body=data["tmp/a"])
        assert (await ttls(net, "ver"))["tmp/v"][0] is not None
        await net.s3(s3.put_bucket_versioning, Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
        old = {key: await piece_ids(net, key) for key in data}
        old_ttl = max(t for ts in (await ttls(net, "life")).values() for t in ts if t)
        assert old_ttl - time.time() < 2 * GRACE_DAYS * DAY  # within the checker's renewal horizon already
        # Only tmp/still stays under a rule (the chore is not running: it is not expired yet).
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life", LifecycleConfiguration=rule(5, "tmp/still"))

        results = await repair_all(net)
        # tmp/a: 1 segment, tmp/big: 3, the copy: 1, the versioned one: 1
        assert sorted(r.outcome.value for r in results) == ["repaired"] * 6, results
        assert sat.repair.checker.state.last_pass.get("renew") == 6
        after = await ttls(net, "life")
        assert after["tmp/a"] == [None] and after["tmp/big"] == [None] * 3
        assert all(t is not None for t in after["tmp/still"])  # still expiring before its TTL: left alone
        for key in ("tmp/a", "tmp/big"):
            new = await piece_ids(net, key)
            assert new and not new & old[key]  # every piece replaced, none with a TTL
            assert not new & await node_ttl_pieces(net)
        assert await piece_ids(net, "tmp/still") == old["tmp/still"]
        assert (await ttls(net, "other"))["copy"] == [None] and (await ttls(net, "ver"))["tmp/v"] == [None]
        copied = await piece_ids(net, "copy", "other")
        assert copied and not copied & old["tmp/still"] and not copied & await node_ttl_pieces(net)
        assert await repair_all(net) == []  # renewed: nothing more to do

        # Past the old TTL the old pieces are gone from the nodes, and the objects read back whole.
        for node in net.nodes:
            node.expiry.run_once(at=int(old_ttl) + 1)
        for key in ("tmp/a", "tmp/big"):
            _, body = await net.get(s3, Bucket="life", Key=key)
            assert body == data[key]
        _, body = await net.get(s3, Bucket="other", Key="copy")
        assert body == data["tmp/still"]
        _, body = await net.get(s3, Bucket="ver", Key="tmp/v")
        assert body == data["tmp/a"]


async def test_audits_leave_alone_pieces_near_or_past_their_ttl_and_fail_no_node_for_them(tmp_path, db) -> None:  # noqa: F811
    config = {**CONFIG, "audit_reservoir_size": 10_000}  # every piece is drawn
    async with planet(tmp_path, database=db, segment_size=SEGMENT, satellite_config=config,
                      lifecycle_day_seconds=DAY) as net:  # fmt: skip
        s3, sat = net.client(), net.satellite
        await net.s3(s3.create_bucket, Bucket="life")
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life", LifecycleConfiguration=rule(1))
        for key in ("tmp/a", "keep/a"):
            await net.s3(s3.put_object, Bucket="life", Key=key, Body=os.urandom(9000))
        expiring, kept = await piece_ids(net, "tmp/a"), await piece_ids(net, "keep/a")
        # The TTL ends within minutes (as on any satellite, a short while after the rule's date):
        # audits would race the nodes' deletion, so those pieces are not audited.
        done = await sat.audit_chore.run_pass()
        assert {d.target.piece_id for d in done} == kept
        # Past it (the nodes' clocks moved on) the pieces are gone, and still no audit fails.
        for node in net.nodes:
            node.expiry.run_once(at=FAR)
        assert not expiring & await node_ttl_pieces(net)
        done = await sat.audit_chore.run_pass()
        assert {d.target.piece_id for d in done} == kept and {d.outcome.value for d in done} == {"success"}
