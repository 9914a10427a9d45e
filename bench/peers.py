"""Geoshard beside the servers a user would pick instead: moto and s3rver, same boto3 client.

One run starts a 10-node Geoshard devnet, ``moto_server`` and ``s3rver``
(``bench/peer_servers.py``) and drives each with the *same* boto3 code (path-style,
checksums ``when_required``, so the client computes none it is not asked for):

====================  =========================================================================
``put_64MiB``         one ``put_object`` of 64 MiB (MB/s = 10⁶ bytes of object per second)
``get_64MiB``         one ``get_object`` of it, body read to the end
``upload_64MiB``      ``upload_fileobj``, 8 MiB parts, 10 threads (multipart upload)
``download_64MiB``    ``download_fileobj``, 8 MiB ranges, 10 threads
``put_4KiB``          4 KiB ``put_object`` from ``--procs`` client processes × 4 threads (ops/s)
``get_4KiB``          ``get_object`` of those keys, the same way
``list``              ``list_objects_v2`` of every 4 KiB key, 1,000 a page (seconds; lower is better)
====================  =========================================================================

For every figure and server: the value, and the server's CPU (all of its processes, from
``/proc``) per byte of object (``cpu_nsB``) and per request (``cpu_msreq``); for Geoshard also
per role (gateway, satellite, nodes). ``*_ratio`` is Geoshard against the best peer (for
``list``, the best peer's seconds over Geoshard's, so above 1 is ahead either way).
``others_cores`` beside each figure is the CPU that processes outside this benchmark took
during it, in cores, and the 1-minute load average is printed at start and end.

Each server first takes one unmeasured 64 MiB PUT and GET per process that serves its port
(a first request pays for imports, caches and buffer pools that every later one reuses; a
gateway's workers each pay their own). Full run: 10,000 small keys, best of 2
interleaved rounds. ``--quick``: 400 small keys listed 100 a page, one round, under a minute.

    PYTHONPATH=. python bench/peers.py [--quick] [--json PATH] [--procs N] [--servers geoshard,moto,s3rver]
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer_servers import Server, machine_busy, own_tree_cpu, start_geoshard, start_moto, start_s3rver

MiB = 2**20
LARGE = 64 * MiB
PART = 8 * MiB
SMALL = 4096
BUCKET = "bench"
THREADS_PER_PROC = 4
TRANSFER = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=10, use_threads=True)


def client(s: Server, pool: int = 16) -> Any:
    """The one client configuration every server gets."""
    cfg = Config(
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3={"addressing_style": "path"},
        max_pool_connections=pool,
        retries={"max_attempts": 1, "mode": "standard"},
        read_timeout=300,
    )
    return boto3.client("s3", endpoint_url=s.endpoint, aws_access_key_id=s.access_key,
                        aws_secret_access_key=s.secret_key, region_name="us-east-1", config=cfg)  # fmt: skip


def warm_up(s: Server, body: bytes, tries: int = 8) -> None:
    """One unmeasured 64 MiB PUT and GET for every process that serves the port: a gateway's
    workers each pay their own first request, and the kernel, not the client, picks which
    worker a connection reaches, so fresh connections go until each worker has worked."""
    before = s.worker_cpu()
    for _ in range(tries):
        warm = client(s)
        put_64(warm, body)
        get_64(warm, body)
        now = s.worker_cpu()
        if all(now.get(p, 0.0) - t > 0.15 for p, t in before.items()):  # ≈ half a 64 MiB PUT's gateway CPU
            return


# --- workloads: each returns (value, object bytes moved, requests made) -------------------------


def put_64(c: Any, body: bytes) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    c.put_object(Bucket=BUCKET, Key="large", Body=body)
    return len(body) / (time.perf_counter() - t0) / 1e6, len(body), 1


def get_64(c: Any, body: bytes) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    got = c.get_object(Bucket=BUCKET, Key="large")["Body"].read()
    rate = len(got) / (time.perf_counter() - t0) / 1e6
    if got != body:
        raise RuntimeError("GET 64 MiB returned other bytes")
    return rate, len(body), 1


def upload_64(c: Any, body: bytes) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    c.upload_fileobj(io.BytesIO(body), BUCKET, "multipart", Config=TRANSFER)
    return len(body) / (time.perf_counter() - t0) / 1e6, len(body), len(body) // PART + 2


def download_64(c: Any, body: bytes) -> tuple[float, int, int]:
    sink = io.BytesIO()
    t0 = time.perf_counter()
    c.download_fileobj(BUCKET, "multipart", sink, Config=TRANSFER)
    rate = sink.tell() / (time.perf_counter() - t0) / 1e6
    if sink.getbuffer() != body:
        raise RuntimeError("download_fileobj returned other bytes")
    return rate, len(body), len(body) // PART + 1


def _small_proc(s: Server, op: str, keys: list[str], body: bytes, ready: Any, out: Any) -> None:
    """One client process: THREADS_PER_PROC threads, one boto3 client each, made before the clock."""
    clients = [client(s, 1) for _ in range(THREADS_PER_PROC)]
    lock, todo = threading.Lock(), iter(keys)

    def run(c: Any) -> int:
        done = 0
        while True:
            with lock:
                key = next(todo, None)
            if key is None:
                return done
            if op == "put":
                c.put_object(Bucket=BUCKET, Key=key, Body=body)
            elif len(c.get_object(Bucket=BUCKET, Key=key)["Body"].read()) != len(body):
                raise RuntimeError(f"GET {key}: short body")
            done += 1

    ready.wait()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(THREADS_PER_PROC) as pool:
        done = sum(pool.map(run, clients))
    out.put((t0, time.perf_counter(), done))


def small(s: Server, op: str, keys: list[str], procs: int, body: bytes) -> tuple[float, int, int]:
    ctx = mp.get_context("fork")
    ready, out = ctx.Barrier(procs), ctx.Queue()
    workers = [ctx.Process(target=_small_proc, args=(s, op, keys[p::procs], body, ready, out)) for p in range(procs)]
    for w in workers:
        w.start()
    results = [out.get(timeout=900) for _ in workers]
    for w in workers:
        w.join()
        if w.exitcode:
            raise RuntimeError(f"{s.name}: a {op} client process failed ({w.exitcode})")
    done = sum(r[2] for r in results)
    if done != len(keys):
        raise RuntimeError(f"{s.name}: {done} of {len(keys)} {op}s done")
    t0, t1 = min(r[0] for r in results), max(r[1] for r in results)
    return len(keys) / (t1 - t0), len(keys) * len(body), len(keys)


def list_all(c: Any, expect: int, page: int) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    seen, pages = 0, 0
    for resp in c.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="small/",
                                                              PaginationConfig={"PageSize": page}):  # fmt: skip
        seen += len(resp.get("Contents", []))
        pages += 1
    took = time.perf_counter() - t0
    if seen != expect:
        raise RuntimeError(f"LIST saw {seen} of {expect} keys")
    return took, 0, pages


# --- the run ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    lower_is_better: bool = False


FIGURES = (
    Figure("put_64MiB", "PUT 64 MiB, one put_object", "MB/s"),
    Figure("get_64MiB", "GET 64 MiB, one get_object", "MB/s"),
    Figure("upload_64MiB", "PUT 64 MiB, upload_fileobj 8 MiB×10", "MB/s"),
    Figure("download_64MiB", "GET 64 MiB, download_fileobj 8 MiB×10", "MB/s"),
    Figure("put_4KiB", "PUT 4 KiB, several processes", "ops/s"),
    Figure("get_4KiB", "GET 4 KiB, several processes", "ops/s"),
    Figure("list", "LIST all small keys", "s", lower_is_better=True),
)


def _measured(s: Server, work: Callable[[], tuple[float, int, int]]) -> dict[str, float]:
    """Run one workload; its value, the server's CPU per byte and request, and the others' load."""
    cpu0, busy0, own0, t0 = s.cpu(), machine_busy(), own_tree_cpu(), time.monotonic()
    value, nbytes, requests = work()
    cpu1, busy1, own1, t1 = s.cpu(), machine_busy(), own_tree_cpu(), time.monotonic()
    out = {"value": value, "others_cores": max(0.0, ((busy1 - busy0) - (own1 - own0)) / (t1 - t0))}
    for role in cpu1:
        spent = cpu1[role] - cpu0[role]
        suffix = "" if role == "all" else f"_{role}"
        if nbytes:
            out[f"cpu_nsB{suffix}"] = spent * 1e9 / nbytes
        out[f"cpu_msreq{suffix}"] = spent * 1e3 / requests
    return out


def run_round(s: Server, large: bytes, small_body: bytes, keys: list[str], procs: int,
              page: int) -> dict[str, dict[str, float]]:  # fmt: skip
    c = client(s)
    works: dict[str, Callable[[], tuple[float, int, int]]] = {
        "put_64MiB": lambda: put_64(c, large),
        "get_64MiB": lambda: get_64(c, large),
        "upload_64MiB": lambda: upload_64(c, large),
        "download_64MiB": lambda: download_64(c, large),
        "put_4KiB": lambda: small(s, "put", keys, procs, small_body),
        "get_4KiB": lambda: small(s, "get", keys, procs, small_body),
        "list": lambda: list_all(c, len(keys), page),
    }
    return {name: _measured(s, work) for name, work in works.items()}


STARTERS: dict[str, Callable[[Path], Server]] = {
    "geoshard": lambda tmp: start_geoshard(tmp, nodes=10),
    "moto": start_moto,
    "s3rver": start_s3rver,
}


def measure(quick: bool, procs: int, names: list[str]) -> dict[str, float]:
    rounds, nkeys, page = (1, 400, 100) if quick else (2, 10_000, 1000)
    large, small_body = os.urandom(LARGE), os.urandom(SMALL)
    keys = [f"small/{i:06d}" for i in range(nkeys)]
    fig: dict[str, float] = {"load_avg_1min_start": os.getloadavg()[0], "cores": float(os.cpu_count() or 1),
                             "small_keys": float(nkeys), "list_page": float(page)}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="geoshard-peers-") as tmp:
        servers: list[Server] = []
        try:
            with ThreadPoolExecutor(len(names)) as pool:  # the devnet takes longest: start all at once
                for name in names:
                    (Path(tmp) / name).mkdir()
                started = [pool.submit(STARTERS[name], Path(tmp) / name) for name in names]
            failed = [f.exception() for f in started if f.exception() is not None]
            servers += [f.result() for f in started if f.exception() is None]  # closed below either way
            if failed:
                raise failed[0]
            for s in servers:
                client(s).create_bucket(Bucket=BUCKET)
            for s in servers:  # warm up, unmeasured: first-use costs (imports, pools, caches) are not a rate
                warm_up(s, large)
            best: dict[tuple[str, str], dict[str, float]] = {}
            for _ in range(rounds):
                for s in servers:
                    for figure, got in run_round(s, large, small_body, keys, procs, page).items():
                        lower = next(f for f in FIGURES if f.key == figure).lower_is_better
                        old = best.get((s.name, figure))
                        if old is None or (got["value"] < old["value"] if lower else got["value"] > old["value"]):
                            best[(s.name, figure)] = got
        finally:
            for s in servers:
                s.close()
    for (name, figure), got in best.items():
        for k, v in got.items():
            fig[f"{figure}_{'' if k == 'value' else k + '_'}{name}"] = v
    peers = [n for n in names if n != "geoshard"]
    if "geoshard" in names and peers:
        for f in FIGURES:
            g = fig[f"{f.key}_geoshard"]
            vals = [fig[f"{f.key}_{p}"] for p in peers]
            fig[f"{f.key}_ratio"] = min(vals) / g if f.lower_is_better else g / max(vals)
    fig["load_avg_1min_end"] = os.getloadavg()[0]
    return fig


def report(fig: dict[str, float], names: list[str]) -> str:
    head = f"{'':38}" + "".join(f"{n:>11}" for n in names) + f"{'ratio':>8}"
    lines = [head]
    for f in FIGURES:
        vals = "".join(f"{fig[f'{f.key}_{n}']:>11.2f}" if f.unit == "s" else f"{fig[f'{f.key}_{n}']:>11.0f}"
                       for n in names)  # fmt: skip
        ratio = fig.get(f"{f.key}_ratio")
        lines.append(f"{f.label + ' (' + f.unit + ')':38}{vals}" + (f"{ratio:>7.2f}×" if ratio else ""))
    lines += ["", "server CPU (all its processes) per byte of object (ns/B) and per request (ms); "
              "others = cores other processes used meanwhile"]  # fmt: skip
    for f in FIGURES:
        cells = []
        for n in names:
            nsb = fig.get(f"{f.key}_cpu_nsB_{n}")
            cell = (f"{nsb:.1f} ns/B " if nsb is not None else "") + f"{fig[f'{f.key}_cpu_msreq_{n}']:.2f} ms"
            cells.append(f"{n} {cell}")
        others = max(fig[f"{f.key}_others_cores_{n}"] for n in names)
        lines.append(f"  {f.key:15}" + " | ".join(cells) + f" | others ≤ {others:.2f}")
    if "geoshard" in names:
        lines += ["", "geoshard by role (ns/B, ms a request):"]
        for f in FIGURES:
            parts = []
            for role in ("gateway", "satellite", "nodes"):
                nsb = fig.get(f"{f.key}_cpu_nsB_{role}_geoshard")
                ms = fig[f"{f.key}_cpu_msreq_{role}_geoshard"]
                parts.append(f"{role} " + (f"{nsb:.1f} ns/B " if nsb is not None else "") + f"{ms:.2f} ms")
            lines.append(f"  {f.key:15}" + " | ".join(parts))
    lines += ["", f"load average (1 min) {fig['load_avg_1min_start']:.2f} at start, "
              f"{fig['load_avg_1min_end']:.2f} at end, on {fig['cores']:.0f} cores"]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="one round, 400 small keys (under a minute)")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as one flat JSON object")
    ap.add_argument("--procs", type=int, default=4, help="client processes for 4 KiB requests (default 4)")
    ap.add_argument("--servers", default="geoshard,moto,s3rver", help="comma-separated subset to run")
    args = ap.parse_args()
    names = [n for n in args.servers.split(",") if n]
    fig = measure(args.quick, args.procs, names)
    print(report(fig, names))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
