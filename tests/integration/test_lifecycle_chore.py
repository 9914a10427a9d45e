"""The lifecycle chore on a real planet, with "days" shortened to seconds (``lifecycle_day_seconds``):
rules by prefix, tag and size expire exactly the objects they select, stale multipart uploads
are aborted, the nodes' disks are freed by the next retain lists, and the chore sleeps when
nothing is due. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp

from storage_node.pieces.store import scan_usage
from tests.integration.test_gc import EXACT, collect, live_bytes
from tests.planet import Planet, planet
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

SEGMENT = 64 * 1024
DAY = 1  # seconds in a lifecycle "day" on these planets
CONFIG = {**EXACT, "lifecycle_day_seconds": DAY, "lifecycle_batch_size": 3}

RULES = [
    {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 2}},
    {"ID": "scratch", "Filter": {"Tag": {"Key": "kind", "Value": "scratch"}}, "Status": "Enabled",
     "Expiration": {"Days": 2}},
    {"ID": "sized", "Filter": {"And": {"Prefix": "sized/", "ObjectSizeGreaterThan": 6000}}, "Status": "Enabled",
     "Expiration": {"Days": 2}},
    {"ID": "dated", "Filter": {"Prefix": "dated/"}, "Status": "Enabled",
     "Expiration": {"Date": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)}},
    {"ID": "off", "Filter": {"Prefix": "off/"}, "Status": "Disabled", "Expiration": {"Days": 1}},
    {"ID": "late", "Filter": {"Prefix": "late/"}, "Status": "Enabled", "Expiration": {"Days": 100_000}},
    {"ID": "uploads", "Filter": {"Prefix": "up/"}, "Status": "Enabled",
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}},
]  # fmt: skip


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


async def keys(net: Planet, bucket: str) -> set[str]:
    s3 = net.client()
    got = await net.s3(s3.list_objects_v2, Bucket=bucket)
    return {o["Key"] for o in got.get("Contents", [])}


async def uploads(net: Planet, bucket: str) -> set[str]:
    s3 = net.client()
    got = await net.s3(s3.list_multipart_uploads, Bucket=bucket)
    return {u["Key"] for u in got.get("Uploads", [])}


async def metrics(net: Planet) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{net.satellite.admin_url}/metrics") as r:
        return await r.text()


async def test_rules_expire_what_they_select_abort_stale_uploads_and_free_the_disks(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, database=db, segment_size=SEGMENT, satellite_config=CONFIG,
                      lifecycle_day_seconds=DAY) as net:  # fmt: skip
        s3 = net.client()
        sat = net.satellite
        await net.s3(s3.create_bucket, Bucket="life")
        doomed = {"tmp/a", "tmp/b", "tmp/c", "tmp/d", "tagged/x", "sized/big", "dated/a"}
        kept = {"keep/a", "tagged/y", "sized/small", "off/a", "late/a"}
        for key in sorted(doomed | kept):
            size = 3000 if key == "sized/small" else 9000 + len(key)
            tagging = "kind=scratch" if key == "tagged/x" else "kind=keep"
            await net.s3(s3.put_object, Bucket="life", Key=key, Body=os.urandom(size), Tagging=tagging)
        mp = await net.s3(s3.create_multipart_upload, Bucket="life", Key="up/stale")
        await net.s3(s3.upload_part, Bucket="life", Key="up/stale", UploadId=mp["UploadId"], PartNumber=1,
                     Body=os.urandom(SEGMENT + 9))  # fmt: skip
        other = await net.s3(s3.create_multipart_upload, Bucket="life", Key="elsewhere/mp")

        # Nothing configured: the chore has nothing to do and says when it would look again (never).
        assert await sat.lifecycle.run_once() is None and await sat.lifecycle.next_due() is None
        chore = asyncio.create_task(sat.lifecycle.run())
        try:
            await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life",
                         LifecycleConfiguration={"Rules": RULES})  # fmt: skip
            await until(lambda: _gone(net, doomed, kept))
            await until(lambda: _uploads_are(net, {"elsewhere/mp"}))
            # A past Date looks again a day after a scan began (an object written since is due at
            # once), and between scans the chore sleeps: a scan here is three passes.
            passes = sat.lifecycle.stats.passes
            await asyncio.sleep(2.5 * DAY)  # a window to count passes in: "nothing happens" has no condition
            assert sat.lifecycle.stats.passes - passes <= 3 * 3, sat.lifecycle.stats.passes - passes
            # Only a far rule left: after one scan of it the chore sleeps until the poll interval.
            await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life",
                         LifecycleConfiguration={"Rules": [r for r in RULES if r["ID"] == "late"]})  # fmt: skip
            await until(lambda: _idle_until_far(net))
            passes = sat.lifecycle.stats.passes
            await asyncio.sleep(1.0)
            assert sat.lifecycle.stats.passes == passes
        finally:
            await sat.lifecycle.close()
            await chore
        stats = sat.lifecycle.stats
        assert (stats.expired_objects, stats.aborted_uploads) == (len(doomed), 1)
        assert stats.by_rule == {"tmp": 4, "scratch": 1, "sized": 1, "dated": 1}
        text = await metrics(net)
        assert 'geoshard_lifecycle_expired_objects_total{rule="tmp"} 4.0' in text
        assert "geoshard_lifecycle_aborted_uploads_total 1.0" in text
        await net.s3(s3.abort_multipart_upload, Bucket="life", Key="elsewhere/mp", UploadId=other["UploadId"])

        # The expired objects' and the aborted upload's pieces leave the disks with the next retain lists.
        expected = await live_bytes(net)
        before = sum(scan_usage(n.config.data_dir).pieces for n in net.nodes)
        assert before - sum(b for _, b in expected.values()) > 6 * 9000  # there is garbage to reclaim
        await collect(net, at=time.time() + sat.gc.config.margin + 2)
        for node in net.nodes:
            disk = scan_usage(node.config.data_dir)
            assert (disk.piece_count, disk.pieces) == expected[node.identity.id], node.identity.id
        for key in kept:
            _, body = await net.get(s3, Bucket="life", Key=key)
            assert len(body) in (3000, 9000 + len(key))


async def _gone(net: Planet, doomed: set[str], kept: set[str]) -> bool:
    have = await keys(net, "life")
    assert kept <= have, kept - have  # never an object no rule selects
    return not (have & doomed)


async def _idle_until_far(net: Planet) -> bool:
    due = await net.satellite.lifecycle.next_due()
    return due is not None and due > time.time() + 1000


async def _uploads_are(net: Planet, want: set[str]) -> bool:
    return await uploads(net, "life") == want


async def test_an_object_written_again_after_expiry_is_a_new_object_and_waits_its_own_days(tmp_path) -> None:
    async with planet(tmp_path, nodes=4, scheme="2/2/3/4", satellite_config=CONFIG, lifecycle_day_seconds=DAY) as net:
        s3 = net.client()
        sat = net.satellite
        await net.s3(s3.create_bucket, Bucket="life")
        await net.s3(s3.put_object, Bucket="life", Key="tmp/k", Body=b"first")
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life",
                     LifecycleConfiguration={"Rules": [{**RULES[0], "Expiration": {"Days": 4}}]})  # fmt: skip
        # Not due yet: the pass decides nothing and the bucket's next pass is at the object's expiry.
        report = await sat.lifecycle.run_once()
        assert report is not None and report.expired == [] and report.examined == 1
        while (report := await sat.lifecycle.run_once()) is not None:
            assert report.expired == []
        head = await net.s3(s3.head_object, Bucket="life", Key="tmp/k")
        due = await sat.lifecycle.next_due()
        assert due is not None and abs(due - (head["LastModified"].timestamp() + 4 * DAY)) < 1.0
        assert head["Expiration"].endswith('rule-id="tmp"')
        # What an admin sees: the bucket's scan is idle until that time (API and CLI).
        auth = {"Authorization": f"Bearer {sat.config.admin_token}"}
        async with aiohttp.ClientSession() as http, http.get(f"{sat.admin_url}/v1/lifecycle", headers=auth) as r:
            (view,) = (await r.json())["buckets"]
        assert (view["bucket"], view["rules"], view["enabled"], view["phase"]) == ("life", 1, 1, "idle")
        assert abs(dt.datetime.fromisoformat(view["next_due"]).timestamp() - due) < 0.01
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "geoshard.cli", "admin", "lifecycle", stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "GEOSHARD_ADMIN_URL": sat.admin_url, "GEOSHARD_ADMIN_TOKEN": sat.config.admin_token},
        )  # fmt: skip
        out, _ = await proc.communicate()
        assert proc.returncode == 0 and out.decode().splitlines()[1].split()[:4] == ["life", "1", "1", "idle"], out
        await until(lambda: _run_until_expired(net))
        await net.s3(s3.put_object, Bucket="life", Key="tmp/k", Body=b"second")
        # The new object is as young as its write: the next passes leave it alone until its own days pass.
        while (report := await sat.lifecycle.run_once()) is not None:
            assert report.expired == []
        _, body = await net.get(s3, Bucket="life", Key="tmp/k")
        assert body == b"second"


async def _run_until_expired(net: Planet) -> bool:
    report = await net.satellite.lifecycle.run_once()
    return report is not None and report.expired == ["tmp/k"]


async def test_buckets_mid_scan_take_turns_one_batch_each(tmp_path) -> None:
    async with planet(tmp_path, nodes=4, scheme="2/2/3/4", satellite_config=CONFIG, lifecycle_day_seconds=DAY) as net:
        s3 = net.client()
        for bucket in ("big", "small"):
            await net.s3(s3.create_bucket, Bucket=bucket)
            for i in range(9 if bucket == "big" else 4):
                await net.s3(s3.put_object, Bucket=bucket, Key=f"k{i}", Body=b"x")
            await net.s3(s3.put_bucket_lifecycle_configuration, Bucket=bucket,
                         LifecycleConfiguration={"Rules": [{**RULES[0], "Filter": {"Prefix": "late/"}}]})  # fmt: skip
        # Rules no gateway would store (the satellite's API takes any document from a gateway) stall nothing.
        await net.s3(s3.create_bucket, Bucket="broken")
        await net.satellite.metainfo.put_setting(net.tenants[0].id, "broken", "lifecycle", {"rules": [{"x": 1}]})
        order = []
        while (report := await net.satellite.lifecycle.run_once()) is not None:
            order.append((report.bucket, report.phase))
        assert order.count(("broken", "skipped")) == 1 and sum(b == "broken" for b, _ in order) == 1, order
        order.remove(("broken", "skipped"))
        # Batches of 3: big has 4 object batches (the last one empty) and small 2; each then its uploads.
        assert order == [("big", "objects"), ("small", "objects"), ("big", "objects"), ("small", "objects"),
                         ("big", "objects"), ("small", "uploads"), ("big", "objects"), ("big", "uploads")], order
