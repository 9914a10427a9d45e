"""A satellite killed in the middle of a lifecycle pass (inside an expiry batch's transaction, or
just after its commit) and started again: nothing is expired twice and nothing due is missed.
"Twice" is read from the residency ledger, which records every piece removal in the deletion's
own transaction. The same for the version phase (noncurrent versions removed for good, the
walk's place inside a key carried in the cursor). SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select, text

from satellite.db.models import ObjectRow, SegmentRow
from satellite.db.residency_models import ResidencyEntry
from tests.planet import Planet, planet
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

ROOT = Path(__file__).resolve().parents[2]
DOOMED = [f"tmp/{i}" for i in range(10)]
KEPT = ["keep/a", "keep/b", "zz/last"]
RULE = {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}}


async def _ledger(net: Planet, action: str) -> Counter[tuple[str, int, int]]:
    async with net.satellite.db.read() as s:
        rows = await s.execute(
            select(ResidencyEntry.object_key, ResidencyEntry.segment_id, ResidencyEntry.piece_number).where(
                ResidencyEntry.action == action
            )
        )
        return Counter((k, sid, n) for k, sid, n in rows)


async def _schema(net: Planet) -> str:
    if net.satellite.db.dialect != "postgresql":
        return "-"
    async with net.satellite.db.read() as s:
        return str((await s.execute(text("SHOW search_path"))).scalar()).strip('"')


async def _crash_worker(net: Planet, now: float, where: str, printed: str) -> tuple[bytes, list[str]]:
    """Run the crash worker (killed at its second batch) to its SIGKILL; its output and what the
    batches it committed said after ``printed`` (expired keys, removed ``key@version-id``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.lifecycle_crash_worker", net.satellite.db.url, await _schema(net),
        str(now), "2", where, stdout=asyncio.subprocess.PIPE, cwd=str(ROOT),
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, out
    return out, [w for line in out.decode().splitlines() if line.startswith(printed) for w in line.split()[1:]]


@pytest.mark.parametrize("where", ["inside", "after"])
async def test_a_pass_killed_mid_batch_resumes_without_expiring_twice_or_missing_any(tmp_path, db, where) -> None:  # noqa: F811
    config = {"lifecycle_day_seconds": 1, "lifecycle_batch_size": 3}
    async with planet(tmp_path, database=db, nodes=4, scheme="2/2/3/4", satellite_config=config,
                      lifecycle_day_seconds=1) as net:  # fmt: skip
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="life")
        for key in DOOMED + KEPT:  # above the inline threshold: pieces, so ledger entries
            await net.s3(s3.put_object, Bucket="life", Key=key, Body=os.urandom(6000))
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life",
                     LifecycleConfiguration={"Rules": [RULE]})  # fmt: skip
        now = time.time() + 10  # every tmp/ object is due (one-second days)
        out, committed = await _crash_worker(net, now, where, "expired")
        # Batches of 3 in key order: keep/a keep/b tmp/0 | tmp/1 tmp/2 tmp/3 (the crash) | ...
        assert sorted(committed) == (["tmp/0", "tmp/1", "tmp/2", "tmp/3"] if where == "after" else ["tmp/0"]), out

        listed = await net.s3(s3.list_objects_v2, Bucket="life")
        assert {o["Key"] for o in listed["Contents"]} == set(KEPT) | (set(DOOMED) - set(committed))

        # The restarted chore goes on from the cursor the last committed batch stored.
        chore = net.satellite.lifecycle
        expired: list[str] = []
        while (report := await chore.run_once(dt.datetime.fromtimestamp(now, dt.UTC))) is not None:
            expired += report.expired
        assert sorted(expired) == sorted(set(DOOMED) - set(committed))
        assert chore.stats.expired_objects == len(DOOMED) - len(committed)
        listed = await net.s3(s3.list_objects_v2, Bucket="life")
        assert {o["Key"] for o in listed["Contents"]} == set(KEPT)
        added, removed = await _ledger(net, "add"), await _ledger(net, "remove")
        assert all(n == 1 for n in removed.values()), [k for k, n in removed.items() if n > 1]
        assert set(removed) == {k for k in added if k[0] in DOOMED}



@pytest.mark.parametrize("where", ["inside", "after"])
async def test_a_version_pass_killed_mid_batch_resumes_without_removing_twice_or_missing_any(
    tmp_path, db, where  # noqa: F811
) -> None:
    config = {"lifecycle_day_seconds": 1, "lifecycle_batch_size": 3}
    async with planet(tmp_path, database=db, nodes=4, scheme="2/2/3/4", satellite_config=config,
                      lifecycle_day_seconds=1) as net:  # fmt: skip
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="life")
        await net.s3(s3.put_bucket_versioning, Bucket="life", VersioningConfiguration={"Status": "Enabled"})
        noncurrent: dict[str, str] = {}
        for key in ["keep/a", *DOOMED[:6]]:  # two versions each, above the inline threshold
            first = await net.s3(s3.put_object, Bucket="life", Key=key, Body=os.urandom(6000))
            await net.s3(s3.put_object, Bucket="life", Key=key, Body=os.urandom(6000))
            noncurrent[key] = first["VersionId"]
        rule = {k: v for k, v in RULE.items() if k != "Expiration"}
        rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": 1}
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life", LifecycleConfiguration={"Rules": [rule]})
        async with net.satellite.db.read() as s:
            segments = set((await s.execute(select(SegmentRow.id).join(ObjectRow, ObjectRow.id == SegmentRow.object_id)
                                            .where(ObjectRow.is_latest.is_(False),
                                                   ObjectRow.key.like("tmp/%")))).scalars())  # fmt: skip
        now = time.time() + 10
        out, committed = await _crash_worker(net, now, where, "removed")
        # Batches of 3 versions, each key newest first: keep/a keep/a tmp/0 | tmp/0 tmp/1 tmp/1 |
        # tmp/2 tmp/2 tmp/3 (the crash) | ...
        done = ["tmp/0", "tmp/1"] + (["tmp/2"] if where == "after" else [])
        assert sorted(committed) == [f"{k}@{noncurrent[k]}" for k in done], out

        chore = net.satellite.lifecycle
        removed: list[tuple[str, str]] = []
        while (report := await chore.run_once(dt.datetime.fromtimestamp(now, dt.UTC))) is not None:
            removed += report.removed
        assert sorted(removed) == [(k, noncurrent[k]) for k in DOOMED[:6] if k not in done]
        listed = await net.s3(s3.list_object_versions, Bucket="life")
        assert sorted(v["Key"] for v in listed["Versions"]) == ["keep/a", "keep/a", *DOOMED[:6]]
        assert all(v["IsLatest"] for v in listed["Versions"] if v["Key"] != "keep/a")
        removals = await _ledger(net, "remove")
        assert all(n == 1 for n in removals.values()), [k for k, n in removals.items() if n > 1]
        assert {sid for _, sid, _ in removals} == segments and len(segments) == 6
