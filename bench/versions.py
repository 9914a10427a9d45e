"""Versioned listing: ListObjectVersions page times against plain LIST of as many keys, through a devnet's gateway.

A devnet (``--nodes 5``, the fewest it takes: listing touches no node) gets three buckets, filled by bulk insert
into the satellite's SQLite database (``executemany``; not through the API, which would take
minutes to write 300,000 versions):

* ``plain``: ``--keys`` keys with one version each, in a bucket that was never versioned —
  the reference, a plain LIST of that many keys;
* ``onekey``: one key with ``--versions`` versions (a versioned bucket; every tenth version a
  delete marker, so the listing mixes ``Version`` and ``DeleteMarker`` entries);
* ``many``: ``--keys`` keys with three versions each (a versioned bucket).

Then the same boto3 client, against the gateway, pages through each: ``list_objects_v2`` of
``plain``, ``list_object_versions`` of ``onekey`` and of ``many`` (and ``list_objects_v2`` of
``many``, whose older versions a current listing must skip at no cost), 1,000 entries a
page, continuing with the markers each page returns. Median and p95 page time in ms; every
``*_ratio`` is the plain LIST's median page time over the figure's, so ≥ 1 means a page of
versions costs no more than a page of plain keys.

    PYTHONPATH=. python bench/versions.py [--quick] [--json PATH]

``--quick`` lists 2,000 versions of one key and 20,000 keys (three versions each) instead of
10,000 and 100,000. The load other processes put on the machine is printed beside the
figures: compare runs made side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import secrets
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.devnet_fixture import Devnet, start_devnet

PAGE = 1000


def _bucket_id(db: Path, name: str) -> int:
    with sqlite3.connect(db, timeout=60) as conn:
        row = conn.execute("SELECT id FROM buckets WHERE name = ?", (name,)).fetchone()
    assert row is not None, name
    return int(row[0])


def _fill(db: Path, rows: Iterator[tuple[Any, ...]], created_at: dt.datetime | None = None) -> None:
    """Insert object rows ``(bucket, key, version, version id, latest, marker, size)``, created at ``created_at``
    (default now)."""
    stamp = (created_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    conn = sqlite3.connect(db, timeout=60)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO objects (bucket_id, key, version, version_id, is_latest, delete_marker, status, size,"
                " etag, content_type, user_metadata, checksums, tags, segment_count, legal_hold, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'committed', ?, 'e', 'application/octet-stream', '{}', '{}', '{}', 0, 0,"
                " ?)",
                ((*r, stamp) for r in rows),
            )
        conn.execute("ANALYZE")
    finally:
        conn.close()


def _versions(bucket: int, key: str, count: int, marker_every: int = 0) -> Iterator[tuple[Any, ...]]:
    for v in range(1, count + 1):
        marker = bool(marker_every) and v % marker_every == 0
        yield bucket, key, v, secrets.token_urlsafe(24), v == count, marker, 0 if marker else 1234


def _keys(n: int) -> list[str]:
    return sorted((f"logs/{i % 97:02d}/host-{i % 1013:04d}/file-{i:07d}.json" for i in range(n)), key=str.encode)


def _timed_pages(fetch: Callable[[dict[str, Any]], dict[str, Any]], next_args: Callable[[dict[str, Any]],
                 dict[str, Any] | None]) -> tuple[list[float], int]:  # fmt: skip
    times: list[float] = []
    entries, args = 0, {}
    while args is not None:
        t = time.perf_counter()
        page = fetch(args)
        times.append((time.perf_counter() - t) * 1e3)
        entries += len(page.get("Contents", [])) + len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        args = next_args(page)
    return times, entries


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def bench_arguments(doc: str | None, quick: str, data: str) -> argparse.Namespace:
    """``--quick`` (``quick`` says what it does), ``--json PATH`` and ``--data DIR`` (default ``data``)."""
    ap = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=quick)
    ap.add_argument("--json", type=Path, help="write the figures as one flat JSON object")
    ap.add_argument("--data", default=data)
    return ap.parse_args()


@contextlib.contextmanager
def bench_devnet(data: Path, *extra: str) -> Iterator[Devnet]:
    """A fresh five-node devnet on ``data`` for one benchmark run, stopped and removed after it;
    the machine's load average printed before and after."""
    print(f"load average before: {_load()}", flush=True)
    shutil.rmtree(data, ignore_errors=True)
    devnet = start_devnet(data, nodes=5, timeout=400, extra=extra)
    try:
        yield devnet
    finally:
        devnet.stop()
        shutil.rmtree(data, ignore_errors=True)
        print(f"load average after: {_load()}", flush=True)


def main() -> None:
    args = bench_arguments(__doc__, "2,000 versions of one key, 20,000 keys (under a minute)",
                           "/tmp/versions-bench-devnet")  # fmt: skip
    versions, keys = (2_000, 20_000) if args.quick else (10_000, 100_000)
    data = Path(args.data)
    figures: dict[str, float] = {}
    with bench_devnet(data) as devnet:
        s3 = devnet.boto3()
        for name in ("plain", "onekey", "many"):
            s3.create_bucket(Bucket=name)
        for name in ("onekey", "many"):
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        db = data / "satellite" / "satellite.db"
        names = _keys(keys)
        t = time.perf_counter()
        _fill(db, ((_bucket_id(db, "plain"), k, 1, "null", True, False, 1234) for k in names))
        _fill(db, _versions(_bucket_id(db, "onekey"), "the/one/key.json", versions, marker_every=10))
        many = _bucket_id(db, "many")
        _fill(db, (row for k in names for row in _versions(many, k, 3)))
        print(f"filled {keys:,} + {versions:,} + {3 * keys:,} rows in {time.perf_counter() - t:.1f}s", flush=True)

        def v2(bucket: str) -> tuple[list[float], int]:
            return _timed_pages(
                lambda a: s3.list_objects_v2(Bucket=bucket, MaxKeys=PAGE, **a),
                lambda p: {"ContinuationToken": p["NextContinuationToken"]} if p.get("IsTruncated") else None,
            )

        def versions_of(bucket: str) -> tuple[list[float], int]:
            return _timed_pages(
                lambda a: s3.list_object_versions(Bucket=bucket, MaxKeys=PAGE, **a),
                lambda p: ({"KeyMarker": p["NextKeyMarker"], "VersionIdMarker": p["NextVersionIdMarker"]}
                           if p.get("IsTruncated") else None),
            )  # fmt: skip

        v2("plain")  # warm: the page cache, the gateway's access-key cache, prepared statements
        runs = {
            f"list_{keys // 1000}k_keys": (v2, "plain", keys),
            f"versions_one_key_{versions // 1000}k": (versions_of, "onekey", versions),
            f"versions_{keys // 1000}k_keys_x3": (versions_of, "many", 3 * keys),
            f"list_{keys // 1000}k_keys_x3_current": (v2, "many", keys),
        }
        reference = 0.0
        for name, (how, bucket, want) in runs.items():
            times, got = how(bucket)
            assert got == want, f"{name}: listed {got} entries, expected {want}"
            med, p95 = statistics.median(times), sorted(times)[max(0, math.ceil(0.95 * len(times)) - 1)]
            figures[f"{name}_page_median_ms"] = round(med, 2)
            figures[f"{name}_page_p95_ms"] = round(p95, 2)
            if not reference:
                reference = med
            ratio = reference / med
            if name != next(iter(runs)):
                figures[f"{name}_vs_plain_list_ratio"] = round(ratio, 2)
            print(f"{name:>32}: {len(times):>4} pages of {PAGE}, median {med:6.1f} ms, p95 {p95:6.1f} ms"
                  + ("" if name == next(iter(runs)) else f"  (plain LIST page / this = {ratio:.2f})"), flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
