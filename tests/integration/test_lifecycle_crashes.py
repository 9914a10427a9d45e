"""A satellite killed in the middle of a lifecycle pass (inside an expiry batch's transaction, or
just after its commit) and started again: nothing is expired twice and nothing due is missed.
"Twice" is read from the residency ledger, which records every piece removal in the deletion's
own transaction. SQLite and PostgreSQL."""

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
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.lifecycle_crash_worker", net.satellite.db.url, await _schema(net),
            str(now), "2", where, stdout=asyncio.subprocess.PIPE, cwd=str(ROOT),
        )  # fmt: skip
        out, _ = await proc.communicate()
        assert proc.returncode == -signal.SIGKILL, out
        committed = [k for line in out.decode().splitlines() if line.startswith("expired") for k in line.split()[1:]]
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

