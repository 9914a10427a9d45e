"""Satellite metadata throughput: object commits per second and LIST page latency, on SQLite and PostgreSQL.

**Commits.** A real satellite (``satellite.peer.Satellite``) serves its API on loopback over a
fresh database; twelve node identities check in with signed check-ins. A client process
(``--client-worker``) begins every segment over HTTP and signs every piece receipt with the
nodes' keys *before* the clock starts, then commits objects of one segment and ten pieces
with 16 concurrent ``SatelliteClient``s: each commit is verified (token, 10 receipt
signatures, roots, sizes) and written (object, segment, 10 pieces) in one transaction. Beside
it, in the same run and on the same ``Database``, 16 concurrent sessions insert the same rows
with bare SQLAlchemy Core (object, segment, 10 pieces per transaction); ``*_ratio`` is
API / bare. The client runs in its own process, as a gateway would, so it does not share the
satellite's event loop (on this 2-core machine it still shares the CPUs).

**LIST.** A second bucket is filled by bulk insert (``executemany`` on SQLite, ``COPY`` on
PostgreSQL; not through the API) with keys shaped like logs,
``logs/2026/11/DD/host-HHHH/file-FFFFFF.json`` plus a ``host-HHHH.json`` summary beside every
tenth host directory, so a delimiter listing of one day is a mix of common prefixes (each
hiding the host's files) and plain keys. Pages of 1,000 entries are timed at several start
positions through ``MetainfoService.list_objects`` and through the HTTP API
(``SatelliteClient.list_objects``): without a delimiter over the whole bucket, and with
``delimiter="/"`` under one day's prefix. Median and p95 in milliseconds.

**API workers.** On PostgreSQL the commits are timed a second time against a real
``geoshard satellite run --api-workers N`` process tree (default N = 2: a MAIN process and two
API workers sharing the port, over a fresh database of their own); ``*_satellite_cpu_ms`` is
then the CPU of the whole tree per commit. The in-process satellite runs on uvloop, as
``geoshard satellite run`` does.

    python bench/satellite.py [--quick] [--json PATH] [--backends sqlite,postgresql] [--api-workers N]

``--quick`` commits fewer objects and lists a bucket of 100,000 objects instead of 1,000,000
(the figure names say ``100k`` instead of ``1m``); ``--api-workers 0`` skips the process-tree
run. Aims: ≥ 300 commits/s on PostgreSQL, a LIST page < 50 ms at 1M objects.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from common.identity import Identity
from erasure.scheme import RedundancyScheme
from erasure.segment import SegmentLayout
from gateway.satellite_client import SatelliteClient
from satellite.db import Database, create_database, upgrade_schema
from satellite.db.engine import sqlite_url
from satellite.db.models import ObjectRow, PieceRow, SegmentRow
from satellite.nodeselection import PlacementPolicy

PG_URL = os.environ.get("GEOSHARD_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SCHEME = RedundancyScheme(4, 6, 8, 10)
CONCURRENCY = 16
OBJECT_SIZE = 4 * 2**20
NODE_COUNT = 12
B64 = lambda b: base64.b64encode(b).decode()  # noqa: E731


# --- the client process: prepares, then times the commits ------------------------------


def _receipt(node: Identity, order_limit_json: dict[str, Any], size: int, root: bytes) -> dict[str, Any]:
    from common.messages import OrderLimit, PieceReceipt, Signed, now

    limit = Signed.from_json(order_limit_json, OrderLimit).message
    receipt = PieceReceipt(
        serial=limit.serial, node_id=node.id, piece_id=limit.piece_id, size=size, leaf_size=64,
        merkle_root=root, created=now(),
    )  # fmt: skip
    return Signed.sign(node, receipt).to_json()


async def _client_worker(spec: dict[str, Any]) -> dict[str, Any]:
    nodes = {n.id: n for n in (Identity.load(p) for p in spec["node_keys"])}
    tenant, bucket, n = spec["tenant"], spec["bucket"], spec["commits"]
    layout = SegmentLayout.for_segment(SCHEME, OBJECT_SIZE)
    clients = [SatelliteClient(spec["url"], spec["token"]) for _ in range(CONCURRENCY)]

    async def prepare(c: SatelliteClient, i: int) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        key = f"{spec['key_prefix']}/obj-{i:07d}.bin"
        begin = await c.begin_segment(tenant, bucket, key, layout.piece_size)
        pieces = []
        for lim in begin["limits"]:
            root = hashlib.blake2b(f"{key}/{lim['number']}".encode(), digest_size=32).digest()
            receipt = _receipt(nodes[lim["node_id"]], lim["order_limit"], layout.piece_size, root)
            pieces.append({"number": lim["number"], "root": B64(root), "receipt": receipt})
        seg = {"token": begin["token"], "layout": layout.to_dict(), "wrapped_key": B64(secrets.token_bytes(48)),
               "nonce": B64(secrets.token_bytes(16)), "pieces": pieces}  # fmt: skip
        meta = {"size": OBJECT_SIZE, "etag": hashlib.md5(key.encode()).hexdigest(),
                "content_type": "application/octet-stream", "metadata": {}, "checksums": {}, "tags": {}}  # fmt: skip
        return key, meta, [seg]

    async def run_all(jobs: list[Any], fn: Any) -> list[Any]:
        queue = list(enumerate(jobs))
        out: list[Any] = [None] * len(jobs)

        async def worker(c: SatelliteClient) -> None:
            while queue:
                i, job = queue.pop()
                out[i] = await fn(c, job)

        await asyncio.gather(*(worker(c) for c in clients))
        return out

    warm = 2 * CONCURRENCY
    try:
        prepared = await run_all(list(range(n + warm)), prepare)

        async def commit(c: SatelliteClient, job: tuple[str, dict[str, Any], list[dict[str, Any]]]) -> None:
            await c.commit_object(tenant, bucket, job[0], job[1], job[2])

        await run_all(prepared[:warm], commit)  # connections opened, caches warm
        print("start", flush=True)  # the satellite process starts its CPU clock
        t0 = time.perf_counter()
        await run_all(prepared[warm:], commit)
        elapsed = time.perf_counter() - t0
    finally:
        for c in clients:
            await c.close()
    return {"commits": n, "elapsed": elapsed}


def client_worker_main() -> None:
    import uvloop

    spec = json.loads(sys.stdin.read())
    print(json.dumps(uvloop.run(_client_worker(spec))))


# --- one backend: database, satellite, nodes ------------------------------------------------


class Backend:
    """A fresh database on ``name`` (PostgreSQL: a schema of the ``test`` database, dropped at the end)."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.name = name
        self.tmp = tmp
        self.schema: str | None = None
        self.sqlite_path = tmp / f"{name}.db"
        self.db: Database

    async def open(self) -> Database:
        if self.name == "sqlite":
            self.db = create_database(sqlite_url(str(self.sqlite_path)))
        else:
            self.schema = f"bench_{secrets.token_hex(6)}"
            await self.pg(f'CREATE SCHEMA "{self.schema}"')
            self.db = create_database(PG_URL, pg_schema=self.schema)
        await upgrade_schema(self.db)
        return self.db

    async def pg(self, sql: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def close(self) -> None:
        await self.db.close()
        if self.schema is not None:
            await self.pg(f'DROP SCHEMA "{self.schema}" CASCADE')


async def start_satellite(db: Database, tmp: Path) -> tuple[Any, str, list[Path]]:
    """A satellite on loopback with twelve checked-in EU nodes, a tenant and a policy 4/6/8/10."""
    from satellite.config import SatelliteConfig
    from satellite.peer import Satellite

    config = SatelliteConfig.for_tests(str(tmp), node_cache_ttl=10.0, online_window=3600,
                                       segment_token_ttl=3600, order_ttl=3600)  # fmt: skip
    sat = Satellite(config, db, Identity.generate())
    await sat.start()
    key_paths = await check_in_nodes(sat.api_url, tmp)
    await sat.tenancy.create_policy(PlacementPolicy(name="bench", scheme=SCHEME, allowed_countries=frozenset({"EU"})))
    tenant = await sat.tenancy.create_tenant("bench", default_policy="bench")
    return sat, tenant.id, key_paths


async def check_in_nodes(api_url: str, tmp: Path) -> list[Path]:
    """Twelve EU node identities (saved under ``tmp``) check in with the satellite at ``api_url``."""
    import aiohttp

    from common.messages import CheckIn, Signed, now

    key_paths = []
    async with aiohttp.ClientSession() as http:
        for i in range(NODE_COUNT):
            node = Identity.generate()
            path = tmp / f"node-{i}.pem"
            node.save(path)
            key_paths.append(path)
            checkin = CheckIn(
                node_id=node.id, address=f"http://10.{i + 1}.0.1:7000", country=("DE", "FR", "NL")[i % 3],
                region="eu", capacity=10**13, used=0, free=10**13, version="bench", wallet="0x0", timestamp=now(),
            )  # fmt: skip
            async with http.post(f"{api_url}/api/v1/nodes/checkin", json=Signed.sign(node, checkin).to_json()) as r:
                if r.status != 200:
                    raise RuntimeError(f"check-in failed: {r.status} {await r.text()}")
    return key_paths


async def stop_satellite(sat: Any) -> None:
    for runner in reversed(sat._runners):
        await runner.cleanup()
    sat._runners.clear()


# --- commits --------------------------------------------------------------------------------


async def commit_api(
    url: str, token: str, tenant: str, bucket: str, key_paths: list[Path], n: int,
    cpu: Callable[[], float] = time.process_time,
) -> tuple[float, float]:
    """Commits per second, and the satellite's CPU milliseconds per commit (``cpu``: its CPU clock)."""
    spec = {"url": url, "token": token, "tenant": tenant, "bucket": bucket,
            "node_keys": [str(p) for p in key_paths], "commits": n, "key_prefix": "api"}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client-worker",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(spec).encode())
    proc.stdin.close()
    cpu0 = None
    last = b""
    while line := await proc.stdout.readline():
        if line.strip() == b"start":
            cpu0 = cpu()
        elif line.strip():
            last = line
    used = cpu() - (cpu0 or 0.0)
    if await proc.wait() != 0 or cpu0 is None:
        raise RuntimeError(f"client worker failed with {proc.returncode}")
    result = json.loads(last)
    return float(result["commits"]) / float(result["elapsed"]), used * 1000 / n


async def commit_bare(db: Database, bucket_id: int, node_ids: list[str], n: int) -> float:
    """The same rows as an API commit, inserted by 16 concurrent bare SQLAlchemy Core transactions."""
    layout = SegmentLayout.for_segment(SCHEME, OBJECT_SIZE).to_dict()
    obj_insert = insert(ObjectRow).returning(ObjectRow.id)
    seg_insert = insert(SegmentRow).returning(SegmentRow.id)

    async def one(i: int) -> None:
        now = dt.datetime.now(dt.UTC)
        key = f"bare/obj-{i:07d}.bin"
        root_piece_id = secrets.token_hex(32)
        obj = {"bucket_id": bucket_id, "key": key, "version": 1, "status": "committed", "size": OBJECT_SIZE,
               "etag": hashlib.md5(key.encode()).hexdigest(), "content_type": "application/octet-stream",
               "user_metadata": {}, "checksums": {}, "tags": {}, "segment_count": 1, "created_at": now}  # fmt: skip
        seg = {"upload_id": None, "part_number": 0, "index": 0, "plain_size": OBJECT_SIZE,
               "encrypted_size": OBJECT_SIZE + 64, "layout": layout, "wrapped_key": secrets.token_bytes(48),
               "nonce": secrets.token_bytes(16), "inline_data": None, "root_piece_id": root_piece_id,
               "k": SCHEME.k, "repair_threshold": SCHEME.repair, "success_threshold": SCHEME.success,
               "total": SCHEME.total, "piece_size": 2**20, "created_at": now}  # fmt: skip
        pieces = [{"number": num, "node_id": node_ids[num], "piece_id": secrets.token_hex(32),
                   "merkle_root": secrets.token_bytes(32), "size": 2**20} for num in range(SCHEME.total)]  # fmt: skip
        async with db.transaction() as s:
            object_id = (await s.execute(obj_insert, obj)).scalar_one()
            segment_id = (await s.execute(seg_insert, {**seg, "object_id": object_id})).scalar_one()
            await s.execute(insert(PieceRow), [{**p, "segment_id": segment_id} for p in pieces])

    async def run(start: int, count: int) -> float:
        todo = list(range(start, start + count))

        async def worker() -> None:
            while todo:
                await one(todo.pop())

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - t0

    await run(10**6, 2 * CONCURRENCY)  # warm the pool, as the API run is warmed
    return n / await run(0, n)


def tree_cpu(pid: int) -> float:
    """CPU seconds of process ``pid`` and its live descendants."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for p in (root, *root.children(recursive=True)):
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


async def bench_api_workers(workers: int, quick: bool, tmp: Path) -> dict[str, float]:
    """Commits through ``geoshard satellite run --api-workers N`` over a fresh PostgreSQL database."""
    from satellite.config import SatelliteConfig, save_config
    from satellite.peer import Satellite
    from satellite.tenancy import SecretBox

    admin = Backend("postgresql", tmp)
    name = f"bench_{secrets.token_hex(6)}"
    await admin.pg(f'CREATE DATABASE "{name}"')
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    data = tmp / f"workers{workers}"
    # Production defaults but for placement (the bench's nodes are new) and long tokens; not
    # for_tests(), whose chore intervals of a second would have the MAIN process poll all along.
    config = SatelliteConfig(str(data), database_url=url, port=0, admin_port=0, gateway_token="bench-gateway",
                             admin_token="bench-admin", new_node_fraction=1.0, min_free_bytes=0,
                             online_window=3600, segment_token_ttl=3600, order_ttl=3600,
                             api_workers=workers)  # fmt: skip
    identity = Identity.load_or_create(config.resolved_identity_path)
    SecretBox.load_or_create(config.resolved_secrets_key_path)
    save_config(config, data / "satellite.json")
    db = create_database(url)
    proc = None
    try:
        await upgrade_schema(db)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "geoshard.cli", "satellite", "run", "--config", str(data / "satellite.json"),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 120)).decode()
        if "serving at " not in line:
            raise RuntimeError(f"satellite run did not start: {line!r}")
        api_url = line.split("serving at ", 1)[1].split()[0]
        key_paths = await check_in_nodes(api_url, data)
        sat = Satellite(config, db, identity)  # not started: sets up tenancy straight in the database
        await sat.tenancy.create_policy(PlacementPolicy(name="bench", scheme=SCHEME,
                                                        allowed_countries=frozenset({"EU"})))  # fmt: skip
        tenant = (await sat.tenancy.create_tenant("bench", default_policy="bench")).id
        await sat.metainfo.create_bucket(tenant, "commits", "")
        import psutil

        main_proc, main_marks = psutil.Process(proc.pid), []

        def clock() -> float:
            t = main_proc.cpu_times()
            main_marks.append(t.user + t.system)
            return tree_cpu(main_proc.pid)

        n = 400 if quick else 3000
        rate, cpu_ms = await commit_api(api_url, config.gateway_token, tenant, "commits", key_paths, n, cpu=clock)
    finally:
        if proc is not None and proc.returncode is None:
            proc.terminate()
            await proc.wait()
        await db.close()
        await admin.pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return {
        f"postgresql_workers{workers}_commit_api_per_s": rate,
        f"postgresql_workers{workers}_commit_api_satellite_cpu_ms": cpu_ms,
        # of which the MAIN process (admin API and chores, no public API)
        f"postgresql_workers{workers}_commit_main_cpu_ms": (main_marks[-1] - main_marks[0]) * 1000 / n,
    }


# --- LIST -----------------------------------------------------------------------------------

DAYS = 4
HOSTS = 2500


def log_keys(files_per_host: int) -> list[str]:
    """Every key of the LIST bucket, in byte order (what S3 would list)."""
    keys = []
    for d in range(DAYS):
        for h in range(HOSTS):
            base = f"logs/2026/11/{21 + d:02d}/host-{h:04d}"
            keys.extend(f"{base}/file-{f:06d}.json" for f in range(files_per_host))
            if h % 10 == 0:
                keys.append(f"{base}.json")
    keys.sort(key=lambda k: k.encode())
    return keys


async def bulk_fill(backend: Backend, bucket_id: int, keys: list[str]) -> float:
    t0 = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    if backend.name == "sqlite":

        def fill() -> None:
            stamp = now.replace(tzinfo=None).isoformat(sep=" ")
            conn = sqlite3.connect(backend.sqlite_path, timeout=60)
            try:
                conn.execute("PRAGMA synchronous=OFF")
                with conn:
                    conn.executemany(
                        "INSERT INTO objects (bucket_id, key, version, version_id, is_latest, delete_marker,"
                        " legal_hold, status, size, etag, content_type, user_metadata, checksums, tags,"
                        " segment_count, created_at) VALUES (?, ?, 1, 'null', 1, 0, 0, 'committed', 1234, 'e',"
                        " 'application/json', '{}', '{}', '{}', 1, ?)",
                        ((bucket_id, k, stamp) for k in keys),
                    )
                conn.execute("ANALYZE")
            finally:
                conn.close()

        await asyncio.to_thread(fill)
    else:
        import asyncpg

        conn = await asyncpg.connect(
            PG_URL.replace("postgresql+asyncpg://", "postgresql://"),
            server_settings={"search_path": backend.schema or "public"},
        )
        try:
            cols = ["bucket_id", "key", "version", "version_id", "is_latest", "delete_marker", "legal_hold", "status",
                    "size", "etag", "content_type", "user_metadata", "checksums", "tags", "segment_count",
                    "created_at"]  # fmt: skip
            await conn.copy_records_to_table(
                "objects",
                columns=cols,
                records=((bucket_id, k, 1, "null", True, False, False, "committed", 1234, "e", "application/json",
                          "{}", "{}", "{}", 1, now) for k in keys),
            )  # fmt: skip
            await conn.execute("ANALYZE objects")
        finally:
            await conn.close()
    return time.perf_counter() - t0


def _stats(samples: list[float]) -> tuple[float, float]:
    s = sorted(samples)
    p95 = s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
    return statistics.median(s) * 1000, p95 * 1000


async def time_lists(sat: Any, tenant: str, bucket: str, keys: list[str], pages: int) -> dict[str, tuple[float, float]]:
    """Median and p95 (ms) of 1,000-entry pages, plain and delimited, via the service and via HTTP."""
    n = len(keys)
    # Plain: start after keys spread over the whole bucket (leaving room for a full page).
    plain_starts = [keys[(i * (n - 2000)) // max(1, pages - 1)] for i in range(pages)]
    # Delimited: one day's prefix, starting at different host directories (each page is full).
    delim_args = []
    for i in range(pages):
        day = 21 + i % DAYS
        host = (i * (HOSTS - 1100)) // max(1, pages - 1)
        prefix = f"logs/2026/11/{day:02d}/"
        delim_args.append((prefix, f"{prefix}host-{host:04d}/file-000000.json"))
    out: dict[str, tuple[float, float]] = {}
    async with SatelliteClient(sat.api_url, sat.config.gateway_token) as client:

        async def via_service(prefix: str, delimiter: str, start: str) -> dict[str, Any]:
            return await sat.metainfo.list_objects(tenant, bucket, prefix=prefix, delimiter=delimiter,
                                                   start_after=start, max_keys=1000)  # fmt: skip

        async def via_http(prefix: str, delimiter: str, start: str) -> dict[str, Any]:
            return await client.list_objects(tenant, bucket, prefix=prefix, delimiter=delimiter,
                                             start_after=start, max_keys=1000)  # fmt: skip

        cases = {
            "plain": [("", "", s) for s in plain_starts],
            "delim": [(p, "/", s) for p, s in delim_args],
        }
        for via_name, via in (("", via_service), ("_http", via_http)):
            for case, args in cases.items():
                await via(*args[0])  # warm: the first page also loads the bucket and plans
                samples = []
                for a in args:
                    t0 = time.perf_counter()
                    page = await via(*a)
                    samples.append(time.perf_counter() - t0)
                    got = len(page["objects"]) + len(page["prefixes"])
                    if got != 1000 or not page["truncated"]:
                        raise RuntimeError(f"LIST {case} from {a[2]!r} returned {got} entries")
                    if case == "delim" and not (page["prefixes"] and page["objects"]):
                        raise RuntimeError("a delimited page should mix common prefixes and keys")
                out[f"{case}{via_name}"] = _stats(samples)
    return out


# --- the run ----------------------------------------------------------------------------------


async def bench_backend(name: str, quick: bool, tmp: Path) -> dict[str, float]:
    backend = Backend(name, tmp)
    db = await backend.open()
    figures: dict[str, float] = {}
    sat = None
    try:
        sat, tenant, key_paths = await start_satellite(db, tmp / name)
        commits = 400 if quick else 3000
        await sat.metainfo.create_bucket(tenant, "commits", "")
        api, api_cpu_ms = await commit_api(sat.api_url, sat.config.gateway_token, tenant, "commits", key_paths, commits)
        bucket = await sat.metainfo.bucket(tenant, "commits")
        node_ids = [c.id for c in await sat.overlay.candidates()]
        bare = await commit_bare(db, bucket.id, node_ids, commits)
        figures[f"{name}_commit_api_per_s"] = api
        figures[f"{name}_commit_bare_per_s"] = bare
        figures[f"{name}_commit_api_vs_bare_ratio"] = api / bare
        figures[f"{name}_commit_api_satellite_cpu_ms"] = api_cpu_ms

        label = "100k" if quick else "1m"
        keys = log_keys(10 if quick else 100)
        await sat.metainfo.create_bucket(tenant, "logs", "")
        logs = await sat.metainfo.bucket(tenant, "logs")
        figures[f"{name}_list{label}_objects"] = len(keys)
        figures[f"{name}_list{label}_fill_s"] = await bulk_fill(backend, logs.id, keys)
        for case, (median, p95) in (await time_lists(sat, tenant, "logs", keys, 10 if quick else 20)).items():
            figures[f"{name}_list{label}_{case}_median_ms"] = median
            figures[f"{name}_list{label}_{case}_p95_ms"] = p95
    finally:
        if sat is not None:
            await stop_satellite(sat)
        await backend.close()
    return figures


async def run(args: argparse.Namespace) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-satellite-") as tmp:
        for name in args.backends.split(","):
            (Path(tmp) / name).mkdir()
            t0 = time.perf_counter()
            got = await bench_backend(name, args.quick, Path(tmp))
            for k, v in got.items():
                print(f"{k:44s} {v:12.2f}", flush=True)
            print(f"# {name}: {time.perf_counter() - t0:.1f} s", flush=True)
            figures.update(got)
        if args.api_workers > 0 and "postgresql" in args.backends.split(","):
            t0 = time.perf_counter()
            got = await bench_api_workers(args.api_workers, args.quick, Path(tmp))
            for k, v in got.items():
                print(f"{k:44s} {v:12.2f}", flush=True)
            print(f"# postgresql, {args.api_workers} API workers: {time.perf_counter() - t0:.1f} s", flush=True)
            figures.update(got)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer commits; LIST over 100k objects, not 1M")
    ap.add_argument("--json", type=Path, help="write the figures to this file as one flat JSON object")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--api-workers", type=int, default=2, help="also time a satellite run with N API workers (0: skip)")
    ap.add_argument("--client-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client_worker:
        client_worker_main()
        return
    print(f"# satellite bench: {CONCURRENCY} clients, 1 segment x {SCHEME.total} pieces per commit"
          f"{' (quick: LIST over 100k objects)' if args.quick else ''}", flush=True)  # fmt: skip
    import uvloop  # as `geoshard satellite run` serves

    figures = uvloop.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
