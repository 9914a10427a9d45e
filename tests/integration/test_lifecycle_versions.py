"""Lifecycle rules for versions on a real planet, with "days" shortened to seconds: a
``NoncurrentVersionExpiration`` removes for good the noncurrent versions its filter selects (by
their own tags and size) ``NoncurrentDays`` after they became noncurrent, keeping the
``NewerNoncurrentVersions`` newest; ``ExpiredObjectDeleteMarker`` removes a delete marker that is
its key's only version; the removed versions' pieces leave the node disks with the next retain
lists. SQLite and PostgreSQL; batches of 3 versions, so keys are walked across passes."""

from __future__ import annotations

import datetime as dt
import os
import time

from storage_node.pieces.store import scan_usage
from tests.integration.test_gc import EXACT, collect, live_bytes
from tests.integration.test_lifecycle_chore import metrics
from tests.planet import Planet, planet
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

SEGMENT = 64 * 1024
DAY = 1
CONFIG = {**EXACT, "lifecycle_day_seconds": DAY, "lifecycle_batch_size": 3}
RULES = [
    {"ID": "nc", "Filter": {"Prefix": "nc/"}, "Status": "Enabled",
     "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}},
    {"ID": "late", "Filter": {"Prefix": "late/"}, "Status": "Enabled",
     "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
    {"ID": "tagged", "Filter": {"Tag": {"Key": "kind", "Value": "scratch"}}, "Status": "Enabled",
     "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
    {"ID": "big", "Filter": {"And": {"Prefix": "sz/", "ObjectSizeGreaterThan": 100}}, "Status": "Enabled",
     "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
    {"ID": "markers", "Filter": {"Prefix": "dm/"}, "Status": "Enabled",
     "Expiration": {"ExpiredObjectDeleteMarker": True}},
    {"ID": "off", "Filter": {"Prefix": "off/"}, "Status": "Disabled",
     "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
]  # fmt: skip


async def versions(net: Planet, bucket: str) -> dict[tuple[str, str], dt.datetime]:
    """Every version and delete marker of the bucket, by (key, version id): its LastModified."""
    s3 = net.client()
    got = await net.s3(s3.list_object_versions, Bucket=bucket)
    every = got.get("Versions", []) + got.get("DeleteMarkers", [])
    return {(v["Key"], v["VersionId"]): v["LastModified"] for v in every}


async def drain(net: Planet, at: float) -> list[tuple[str, str]]:
    """Passes of the chore with its clock at ``at`` until nothing is due; what they removed."""
    removed: list[tuple[str, str]] = []
    while (report := await net.satellite.lifecycle.run_once(dt.datetime.fromtimestamp(at, dt.UTC))) is not None:
        removed += report.removed
    return removed


async def test_noncurrent_versions_and_expired_markers_go_as_aws_counts_and_leave_the_disks(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, database=db, segment_size=SEGMENT, satellite_config=CONFIG,
                      lifecycle_day_seconds=DAY) as net:  # fmt: skip
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await net.s3(s3.put_bucket_versioning, Bucket="vers", VersioningConfiguration={"Status": "Enabled"})

        async def put(key: str, size: int = 9000, tags: str = "kind=keep") -> str:
            body = os.urandom(size)
            return str((await net.s3(s3.put_object, Bucket="vers", Key=key, Body=body, Tagging=tags))["VersionId"])

        async def marker(key: str) -> str:
            return str((await net.s3(s3.delete_object, Bucket="vers", Key=key))["VersionId"])

        t = [await put("late/t")]  # noncurrent only once late/t is written again, last of all
        a = [await put("nc/a", 9000 + i) for i in range(5)]  # five versions: more than a batch
        m = [await put("nc/m"), await put("nc/m"), await marker("nc/m")]  # under a delete marker
        x = [await put("tg/x", tags="kind=scratch"), await put("tg/x")]
        y = [await put("tg/y"), await put("tg/y", tags="kind=scratch")]
        s = [await put("sz/k", 500), await put("sz/k", 50), await put("sz/k", 50)]
        gone = [await marker("dm/gone")]  # a marker and nothing else: an expired delete marker
        held = [await put("dm/held"), await marker("dm/held")]  # a marker over a version: not expired
        off = [await put("off/k"), await put("off/k")]
        await put("keep/last")
        t.append(await put("late/t"))
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="vers", LifecycleConfiguration={"Rules": RULES})
        before = await versions(net, "vers")
        doomed = {("nc/a", v) for v in a[:3]} | {("nc/m", m[0]), ("tg/x", x[0]), ("sz/k", s[0]), ("dm/gone", gone[0])}
        # late/t's first version is older than a day at the first clock below, but it became
        # noncurrent only when its second version was written: a day after that it goes.
        written = before[("late/t", t[1])].timestamp()
        assert written - before[("late/t", t[0])].timestamp() > 0.003  # LastModified has milliseconds
        first = await drain(net, written + DAY - 0.002)
        assert sorted(first) == sorted(doomed), first
        assert set(await versions(net, "vers")) == set(before) - doomed
        second = await drain(net, written + DAY + 0.002)
        assert second == [("late/t", t[0])]
        left = set(before) - doomed - {("late/t", t[0])}
        assert set(await versions(net, "vers")) == left
        assert {("nc/a", a[3]), ("nc/a", a[4]), ("nc/m", m[1]), ("tg/y", y[0]), ("sz/k", s[1]),
                ("dm/held", held[0])} | {("off/k", v) for v in off} <= left  # fmt: skip
        # Nothing more is due: a later pass removes nothing it removed before.
        assert await drain(net, written + 10 * DAY) == []
        stats = net.satellite.lifecycle.stats
        assert stats.expired_versions == len(doomed) + 1 and stats.expired_objects == 0
        assert stats.versions_by_rule == {"nc": 4, "tagged": 1, "big": 1, "markers": 1, "late": 1}
        assert 'geoshard_lifecycle_expired_versions_total{rule="nc"} 4.0' in await metrics(net)
        _, body = await net.get(s3, Bucket="vers", Key="nc/a", VersionId=a[3])
        assert len(body) == 9003

        # The removed versions' pieces leave the disks with the next retain lists.
        expected = await live_bytes(net)
        on_disks = sum(scan_usage(n.config.data_dir).pieces for n in net.nodes)
        assert on_disks - sum(b for _, b in expected.values()) > 4 * 9000  # there is garbage to reclaim
        await collect(net, at=time.time() + net.satellite.gc.config.margin + 2)
        for node in net.nodes:
            disk = scan_usage(node.config.data_dir)
            assert (disk.piece_count, disk.pieces) == expected[node.identity.id], node.identity.id


async def test_a_version_replaced_or_written_again_after_the_walk_read_it_is_not_removed(tmp_path) -> None:
    config = {"lifecycle_day_seconds": DAY, "lifecycle_batch_size": 100}
    async with planet(tmp_path, nodes=4, scheme="2/2/3/4", satellite_config=config, lifecycle_day_seconds=DAY) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        # Suspended: writes replace the "null" version; a marker alone is an expired delete marker.
        await net.s3(s3.put_bucket_versioning, Bucket="vers", VersioningConfiguration={"Status": "Enabled"})
        await net.s3(s3.put_object, Bucket="vers", Key="late/k", Body=b"enabled")
        await net.s3(s3.put_bucket_versioning, Bucket="vers", VersioningConfiguration={"Status": "Suspended"})
        await net.s3(s3.put_object, Bucket="vers", Key="late/k", Body=b"null one")
        await net.s3(s3.put_object, Bucket="vers", Key="late/k", Body=b"null two")  # replaces "null one"
        await net.s3(s3.delete_object, Bucket="vers", Key="dm/k")
        rules = [RULES[1], RULES[4]]
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="vers", LifecycleConfiguration={"Rules": rules})
        chore, repo = net.satellite.lifecycle, net.satellite.lifecycle.repo
        bucket_id = (await repo.buckets())[0].bucket_id
        read = await repo.versions_after(bucket_id, ("", None), 100)
        null_version = next(v for v in read if v.key == "late/k" and v.version_id == "null")
        dm = next(v for v in read if v.key == "dm/k")
        # Between the walk's read and its removal: "null" is written again (a new row, current)
        # and dm/k gets a version: neither is what the walk decided on any more.
        await net.s3(s3.put_object, Bucket="vers", Key="late/k", Body=b"null three")
        await net.s3(s3.put_object, Bucket="vers", Key="dm/k", Body=b"back")
        removed = await repo.remove_versions(bucket_id, [(null_version, "noncurrent"), (dm, "expired-marker")],
                                             {"phase": "idle", "next_due": 0})  # fmt: skip
        assert removed == []
        assert (await net.get(s3, Bucket="vers", Key="late/k"))[1] == b"null three"
        assert (await net.get(s3, Bucket="vers", Key="dm/k"))[1] == b"back"
        # The enabled-era version is noncurrent under "null": it goes; the current one stays.
        removed = [k for k, _ in await drain(net, time.time() + 5 * DAY)]
        assert removed == ["late/k"]
        left = await versions(net, "vers")
        assert sorted(k for k, _ in left) == ["dm/k", "late/k"]
        assert chore.stats.expired_versions == 1
