"""Chaos (e) on a versioned bucket: the satellite SIGKILLed while many versioned PUTs commit,
then started again (real processes: ``tests/chaos_net.py``). Every acknowledged version is
listed exactly once by ListObjectVersions and reads back whole by its version id; a version
whose answer was lost is whole or absent, never half; each key has exactly one latest
version; no piece row is counted twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.chaos_net import ChaosNet, running_net
from tests.integration.test_chaos_kills import call, check_db
from tests.s3_requests import sign

pytestmark = pytest.mark.xdist_group("chaos")

BUCKET = "chaosv"


async def put_version(session: aiohttp.ClientSession, net: ChaosNet, key: str, data: bytes) -> str | None:
    """One signed PutObject; the version id it was acknowledged with, None if it was not."""
    req = sign("v4", "PUT", f"{net.endpoint}/{BUCKET}/{key}", data, credentials=net.credentials()).prepare()
    try:
        async with session.put(req.url, data=data, headers=dict(req.headers.items())) as resp:
            await resp.read()
            return resp.headers.get("x-amz-version-id") if resp.status == 200 else None
    except (TimeoutError, OSError, aiohttp.ClientError):
        return None


async def storm(net: ChaosNet, rng: random.Random, kill_after: int, keys: list[str],
                written: dict[str, list[tuple[bytes, str | None]]]) -> int:  # fmt: skip
    """Eight writers PUT versions of shared keys; SIGKILL the satellite after ``kill_after`` acks."""
    acked = 0
    killed = asyncio.Event()

    async def writer(seed: int) -> None:
        nonlocal acked
        r = random.Random(seed)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            while not killed.is_set():
                key = r.choice(keys)  # writers race on the same keys: versions, not overwrites
                data = r.randbytes(r.choice((2000, 70_000, 150_000)))
                vid = await put_version(session, net, key, data)
                written.setdefault(key, []).append((data, vid))
                if vid is not None:
                    acked += 1
                    if acked >= kill_after and not killed.is_set():
                        killed.set()
                        net.satellite.kill()

    await asyncio.gather(*(writer(rng.randrange(2**32)) for _ in range(8)))
    return acked


async def listed_versions(s3: Any) -> list[dict[str, Any]]:
    def run() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET, MaxKeys=7):
            out.extend(page.get("Versions", []))
            assert not page.get("DeleteMarkers")
        return out

    return await asyncio.to_thread(run)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_satellite_killed_mid_versioned_commits_loses_no_version_and_lists_each_once(
    tmp_path: Path, backend: str
) -> None:
    async with running_net(tmp_path, backend, segment_size=64 * 1024) as net:
        s3, rng = net.s3(), random.Random(11)
        await call(s3.create_bucket, Bucket=BUCKET)
        await call(s3.put_bucket_versioning, Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        keys = [f"k{i}" for i in range(6)]
        written: dict[str, list[tuple[bytes, str | None]]] = {}
        for _ in range(2):
            acked = await storm(net, rng, rng.randint(8, 25), keys, written)
            await net.restart(net.satellite)

            versions = await listed_versions(s3)
            ids = Counter(v["VersionId"] for v in versions)
            assert all(n == 1 for n in ids.values()), [v for v, n in ids.items() if n > 1]
            acknowledged = {vid: (key, data) for key, h in written.items() for data, vid in h if vid is not None}
            assert len(acknowledged) >= acked and set(acknowledged) <= set(ids)  # none lost, none listed twice
            latest = Counter(v["Key"] for v in versions if v["IsLatest"])
            assert set(latest.values()) == {1} and set(latest) == {v["Key"] for v in versions}
            for v in versions:
                got = await call(s3.get_object, Bucket=BUCKET, Key=v["Key"], VersionId=v["VersionId"])
                body = await asyncio.to_thread(got["Body"].read)
                if v["VersionId"] in acknowledged:
                    assert body == acknowledged[v["VersionId"]][1], v
                else:  # its answer was lost in the kill: still one whole body written to that key
                    assert body in [d for d, _ in written[v["Key"]]], v
            await check_db(net)
