"""Lifecycle expiry rate: noncurrent versions removed per second by the satellite's lifecycle chore, against
DeleteObjects removing as many versions by version id through the gateway of the same devnet.

A devnet (``--nodes 5``; ``--lifecycle-day-seconds 1``, so a rule's "day" is a second) gets two
versioned buckets, ``life`` and ``ref``, each filled by bulk insert into the satellite's SQLite
database with ``--keys`` keys of three versions (two noncurrent each), created an hour ago. The
rows carry no segments, in both buckets alike: the figure is the metadata work of a removal
(the pieces leave the disks later, with garbage collection, whichever way a version went).

* reference: boto3 ``delete_objects`` of ``ref``'s noncurrent versions, 1,000 ``(Key,
  VersionId)`` a request, one request after the other: versions per second;
* lifecycle: ``put_bucket_lifecycle_configuration`` of ``life`` with one rule,
  ``NoncurrentVersionExpiration`` ``NoncurrentDays=1``; the satellite's chore (woken by the put,
  its default batch of 500 versions a pass) removes every noncurrent version. Timed from the put
  until the database holds none (polled every 20 ms): versions per second.

``lifecycle_vs_delete_objects_ratio`` is the lifecycle rate over the reference's (≥ 1: the chore
removes versions at least as fast as a client deleting them by id).

    PYTHONPATH=. python bench/lifecycle.py [--quick] [--json PATH]

``--quick`` uses 2,500 keys (5,000 noncurrent versions a bucket) instead of 25,000 (50,000). The
load other processes put on the machine is printed beside the figures: compare runs made side
by side.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.versions import _bucket_id, _fill, _keys, bench_arguments, bench_devnet

RULE = {"ID": "noncurrent", "Filter": {"Prefix": ""}, "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}  # fmt: skip


def _noncurrent(db: Path, bucket: int) -> int:
    with sqlite3.connect(db, timeout=60) as conn:
        return int(conn.execute("SELECT count(*) FROM objects WHERE bucket_id = ? AND NOT is_latest",
                                (bucket,)).fetchone()[0])  # fmt: skip


def _three_versions(bucket: int, keys: list[str]) -> tuple[list[tuple[Any, ...]], list[dict[str, str]]]:
    """Rows of three versions per key (the third latest), and the two noncurrent ones' ``(Key, VersionId)``."""
    rows, noncurrent = [], []
    for key in keys:
        for v in (1, 2, 3):
            vid = secrets.token_urlsafe(24)
            rows.append((bucket, key, v, vid, v == 3, False, 1234))
            if v < 3:
                noncurrent.append({"Key": key, "VersionId": vid})
    return rows, noncurrent


def main() -> None:
    args = bench_arguments(__doc__, "2,500 keys, 5,000 noncurrent versions (under a minute)",
                           "/tmp/lifecycle-bench-devnet")  # fmt: skip
    keys = 2_500 if args.quick else 25_000
    data = Path(args.data)
    figures: dict[str, float] = {}
    with bench_devnet(data, "--lifecycle-day-seconds", "1") as devnet:
        s3 = devnet.boto3()
        for name in ("life", "ref"):
            s3.create_bucket(Bucket=name)
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        db = data / "satellite" / "satellite.db"
        names = _keys(keys)
        an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        life, ref = _bucket_id(db, "life"), _bucket_id(db, "ref")
        rows, _ = _three_versions(life, names)
        _fill(db, iter(rows), an_hour_ago)
        rows, doomed = _three_versions(ref, names)
        _fill(db, iter(rows), an_hour_ago)
        n = len(doomed)
        assert _noncurrent(db, life) == _noncurrent(db, ref) == n

        t = time.perf_counter()
        for i in range(0, n, 1000):
            out = s3.delete_objects(Bucket="ref", Delete={"Objects": doomed[i:i + 1000], "Quiet": True})
            assert not out.get("Errors"), out["Errors"][:3]
        ref_s = time.perf_counter() - t
        assert _noncurrent(db, ref) == 0

        t = time.perf_counter()
        s3.put_bucket_lifecycle_configuration(Bucket="life", LifecycleConfiguration={"Rules": [RULE]})
        deadline = time.monotonic() + 600
        while _noncurrent(db, life):
            assert time.monotonic() < deadline, "the chore did not remove every noncurrent version in 600 s"
            time.sleep(0.02)
        life_s = time.perf_counter() - t
        listed = s3.list_object_versions(Bucket="life", MaxKeys=10)
        assert all(v["IsLatest"] for v in listed.get("Versions", [])), "a noncurrent version is still listed"

        figures = {
            "noncurrent_versions": n,
            "delete_objects_versions_per_s": round(n / ref_s, 1),
            "lifecycle_versions_per_s": round(n / life_s, 1),
            "lifecycle_vs_delete_objects_ratio": round(ref_s / life_s, 2),
        }
        print(f"DeleteObjects by version id: {n:,} versions in {ref_s:.2f}s = {n / ref_s:,.0f}/s", flush=True)
        print(f"lifecycle chore:             {n:,} versions in {life_s:.2f}s = {n / life_s:,.0f}/s"
              f"  (ratio {ref_s / life_s:.2f})", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
