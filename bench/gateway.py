"""S3 throughput of the gateway on a real devnet, beside moto_server and the codec's CPU limit.

One run starts, on free ports in a temporary directory, a whole ``geoshard devnet``
(``--nodes 10``: satellite, ten storage nodes and the gateway, each its own process) and a
``moto_server``, then drives the same workload against both:

* **large objects**: PUT and GET of 64 MiB objects, with 1 and with 4 concurrent clients
  (MB/s = 10⁶ bytes of object per second);
* **small objects**: 4 KiB PUT and GET with 16 requests in flight (ops/s), from
  ``--procs`` client processes so that the client is not the limit;
* **memory**: the gateway's peak RSS while one 1 GiB object streams in (``VmHWM`` of the
  gateway process after resetting it through ``/proc/PID/clear_refs``, and the largest
  ``VmRSS`` sampled every 10 ms; the larger is reported). Not run against moto, which
  holds every object in memory.

The client is the same for both servers: aiohttp on uvloop, SigV4 in the header with
``UNSIGNED-PAYLOAD`` (both servers accept it; neither then hashes the body for the
signature, and the client does not either). botocore's signer signs each request;
for small objects every request is signed *before* the clock starts, because signing
costs about as much client CPU as the request itself. Bodies are random bytes.

The codec's encode and decode rates (``bench/codec.py``, scheme 4/10, two threads) are
the CPU limit of the data path on this machine: a PUT encrypts, erasure-codes and hashes
every byte, a GET verifies and decrypts it. ``--quick`` times just those two paths on
16 MiB segments instead of the whole codec benchmark.

Rounds are interleaved (gateway, moto, gateway, moto, …) and the best of each figure is
kept, so a burst of load from elsewhere on the machine hurts both servers alike; the load
average is printed with the figures.

    python bench/gateway.py [--quick] [--json PATH] [--procs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import uvloop
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import codec  # bench/codec.py: the data path's CPU limit
from peer_servers import wait_http  # bench/peer_servers.py

from erasure import DEFAULT_BACKEND, RedundancyScheme, decode_segment, encode_segment, new_segment_key
from tests.devnet_fixture import free_port, start_devnet

MiB = 2**20
LARGE = 64 * MiB
SMALL = 4096
HUGE = 1024 * MiB
SEGMENT = 64 * MiB  # the gateway's default segment size (the RSS aim is in segments)
REGION = "us-east-1"


# --- the client ---------------------------------------------------------------------------


class _UnsignedPayload(S3SigV4Auth):
    """SigV4 with ``x-amz-content-sha256: UNSIGNED-PAYLOAD`` also over plain HTTP."""

    def _should_sha256_sign_payload(self, request: AWSRequest) -> bool:
        return False


@dataclass(frozen=True)
class Target:
    """One S3 server under test: where it is, how to sign for it, which bucket to use."""

    name: str
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    pid: int | None = None  # the server process, for memory figures

    def url(self, key: str) -> str:
        return f"{self.endpoint}/{self.bucket}/{key}"

    def sign(self, method: str, url: str) -> dict[str, str]:
        req = AWSRequest(method=method, url=url, headers={})
        _UnsignedPayload(Credentials(self.access_key, self.secret_key), "s3", REGION).add_auth(req)
        return dict(req.headers.items())


def _check(resp: aiohttp.ClientResponse, what: str) -> None:
    if resp.status not in (200, 206):
        raise RuntimeError(f"{what}: HTTP {resp.status}")


async def _put(session: aiohttp.ClientSession, t: Target, key: str, body: Any, size: int) -> None:
    url = t.url(key)
    headers = {**t.sign("PUT", url), "Content-Length": str(size)}
    async with session.put(url, data=body, headers=headers) as resp:
        await resp.read()
        _check(resp, f"PUT {url}")


async def _get(session: aiohttp.ClientSession, t: Target, key: str) -> int:
    url = t.url(key)
    got = 0
    async with session.get(url, headers=t.sign("GET", url)) as resp:
        _check(resp, f"GET {url}")
        async for chunk in resp.content.iter_chunked(4 * MiB):
            got += len(chunk)
    return got


def _session(limit: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=aiohttp.ClientTimeout(total=None, sock_read=120),
        auto_decompress=False,
    )


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


# --- large objects ------------------------------------------------------------------------


async def _large(t: Target, clients: int, objects: int, body: bytes) -> tuple[float, float]:
    """``(PUT MB/s, GET MB/s)`` of ``objects`` 64 MiB objects over ``clients`` concurrent clients."""
    keys = [f"large-{clients}-{i}" for i in range(objects)]
    async with _session(clients) as session:

        async def worker(mine: list[str], op: Callable[[str], Coroutine[Any, Any, Any]]) -> None:
            for key in mine:
                await op(key)

        async def timed(op: Callable[[str], Coroutine[Any, Any, Any]]) -> float:
            t0 = time.perf_counter()
            await asyncio.gather(*(worker(keys[c::clients], op) for c in range(clients)))
            return objects * len(body) / (time.perf_counter() - t0) / 1e6

        put = await timed(lambda k: _put(session, t, k, body, len(body)))
        sizes: list[int] = []

        async def get(k: str) -> None:
            sizes.append(await _get(session, t, k))

        got = await timed(get)
    if sizes != [len(body)] * objects:
        raise RuntimeError(f"{t.name}: GET returned {sizes}")
    return put, got


# --- small objects ------------------------------------------------------------------------


def _small_worker(t: Target, op: str, keys: list[str], inflight: int, body: bytes,
                  ready: Any, out: Any) -> None:  # fmt: skip
    """One client process: sign every request, wait for the others, then run them."""
    method = "PUT" if op == "put" else "GET"
    signed = [(t.url(k), t.sign(method, t.url(k))) for k in keys]

    async def main() -> tuple[float, float, int]:
        async with _session(inflight) as session:
            todo = iter(signed)

            async def one() -> int:
                done = 0
                for url, headers in todo:
                    if method == "PUT":
                        async with session.put(url, data=body, headers=headers) as resp:
                            await resp.read()
                    else:
                        async with session.get(url, headers=headers) as resp:
                            if len(await resp.read()) != len(body):
                                raise RuntimeError(f"GET {url}: short body")
                    _check(resp, f"{method} {url}")
                    done += 1
                return done

            ready.wait()
            t0 = time.perf_counter()
            counts = await asyncio.gather(*(one() for _ in range(inflight)))
            return t0, time.perf_counter(), sum(counts)

    out.put(_run(main()))


def _small(t: Target, op: str, count: int, inflight: int, procs: int, body: bytes) -> float:
    """ops/s of ``count`` 4 KiB requests, ``inflight`` at once over ``procs`` processes."""
    ctx = mp.get_context("fork")
    ready, out = ctx.Barrier(procs), ctx.Queue()
    keys = [f"small-{i}" for i in range(count)]
    workers = [
        ctx.Process(target=_small_worker,
                    args=(t, op, keys[p::procs], inflight // procs + (p < inflight % procs), body, ready, out))
        for p in range(procs)
    ]  # fmt: skip
    for w in workers:
        w.start()
    results = [out.get(timeout=600) for _ in workers]
    for w in workers:
        w.join()
        if w.exitcode:
            raise RuntimeError(f"{t.name}: a {op} client process failed ({w.exitcode})")
    t0, t1 = min(r[0] for r in results), max(r[1] for r in results)
    done = sum(r[2] for r in results)
    if done != count:
        raise RuntimeError(f"{t.name}: {done} of {count} {op}s done")
    return count / (t1 - t0)


# --- memory -------------------------------------------------------------------------------


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def _huge_upload_rss(t: Target, block: bytes) -> tuple[float, float, float]:
    """``(RSS before MiB, peak RSS MiB, MB/s)`` of the server while a 1 GiB body streams in."""
    if t.pid is None:
        raise RuntimeError(f"{t.name}: no server pid")
    pid = t.pid
    before = _status_kib(pid, "VmRSS")
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    peak = before
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _status_kib(pid, "VmRSS"))
            stop.wait(0.01)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(HUGE // len(block)):
            yield block

    async def main() -> float:
        async with _session(1) as session:
            t0 = time.perf_counter()
            await _put(session, t, "huge", body(), HUGE)
            return HUGE / (time.perf_counter() - t0) / 1e6

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        rate = _run(main())
    finally:
        stop.set()
        sampler.join()
    peak = max(peak, _status_kib(pid, "VmHWM"))
    return before / 1024, peak / 1024, rate


# --- the codec limit ----------------------------------------------------------------------


def _codec_limit(quick: bool) -> dict[str, float]:
    """Encode and decode MB/s of scheme 4/10 with two threads (a segment per thread)."""
    if not quick:
        fig = codec.measure()
        return {
            "codec_encode_MBps": fig[f"encode_{DEFAULT_BACKEND}_4_10_t2_MBps"],
            "codec_decode_MBps": fig[f"decode_{DEFAULT_BACKEND}_4_10_t2_MBps"],
        }
    # The same two paths as codec.measure, on 16 MiB segments, best of two rounds.
    size, scheme = 16 * MiB, RedundancyScheme(4, 4, 10, 10)
    key, sid = new_segment_key(), b"bench-segment-id"
    datas = [os.urandom(size) for _ in range(2)]
    encs = [encode_segment(d, scheme, key, sid) for d in datas]
    last_k = range(6, 10)  # parity pieces: the costly decode, as codec.py measures it
    paths: dict[str, Callable[[int], object]] = {
        "codec_encode_MBps": lambda i: encode_segment(datas[i], scheme, key, sid),
        "codec_decode_MBps": lambda i: decode_segment(
            encs[i].layout, key, sid, {j: encs[i].pieces[j] for j in last_k}, roots=encs[i].roots
        ),
    }
    out = dict.fromkeys(paths, 0.0)
    with ThreadPoolExecutor(2) as pool:
        for _ in range(2):
            for name, fn in paths.items():
                t0 = time.perf_counter()
                list(pool.map(fn, range(2)))
                out[name] = max(out[name], 2 * size / (time.perf_counter() - t0) / 1e6)
    return out


# --- the servers --------------------------------------------------------------------------


def _gateway_pid(devnet_pid: int) -> int:
    for child in psutil.Process(devnet_pid).children(recursive=True):
        cmd = child.cmdline()
        if "gateway" in cmd and "run" in cmd:
            return child.pid
    raise RuntimeError("no gateway process under the devnet")


def _create_bucket(t: Target) -> None:
    async def main() -> None:
        async with _session(1) as session:
            url = f"{t.endpoint}/{t.bucket}"
            async with session.put(url, headers=t.sign("PUT", url)) as resp:
                await resp.read()
                _check(resp, f"CreateBucket {url}")

    _run(main())


# --- the run ------------------------------------------------------------------------------


def measure(quick: bool = False, procs: int = 2) -> dict[str, float]:
    """Every figure of this benchmark as ``{name: number}`` (module docstring)."""
    rounds = 1 if quick else 3
    large_objects = {1: 2, 4: 4} if quick else {1: 4, 4: 8}
    small_count = 1000 if quick else 4000
    large_body = os.urandom(LARGE)
    small_body = os.urandom(SMALL)
    fig: dict[str, float] = {"load_avg_1min_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="geoshard-bench-") as tmp:
        net = start_devnet(Path(tmp) / "devnet", nodes=10)
        moto_port = free_port()
        moto = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-p", str(moto_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_http(f"http://127.0.0.1:{moto_port}/")
            gw = Target("gw", net.endpoint, net.env["AWS_ACCESS_KEY_ID"], net.env["AWS_SECRET_ACCESS_KEY"],
                        "bench", _gateway_pid(net.proc.pid))  # fmt: skip
            mt = Target("moto", f"http://127.0.0.1:{moto_port}", "testing", "testing", "bench", moto.pid)
            for t in (gw, mt):
                _create_bucket(t)
            best: dict[str, float] = {}

            def keep(name: str, value: float) -> None:
                best[name] = max(best.get(name, 0.0), value)

            for _ in range(rounds):
                for t in (gw, mt):
                    for clients, objects in large_objects.items():
                        put, get = _run(_large(t, clients, objects, large_body))
                        keep(f"{t.name}_put_64MiB_c{clients}_MBps", put)
                        keep(f"{t.name}_get_64MiB_c{clients}_MBps", get)
                    keep(f"{t.name}_put_4KiB_c16_ops", _small(t, "put", small_count, 16, procs, small_body))
                    keep(f"{t.name}_get_4KiB_c16_ops", _small(t, "get", small_count, 16, procs, small_body))
            fig.update(best)
            before, peak, rate = _huge_upload_rss(gw, large_body[: 4 * MiB])
            fig["gw_rss_before_1GiB_MiB"] = before
            fig["gw_rss_peak_1GiB_MiB"] = peak
            fig["gw_put_1GiB_c1_MBps"] = rate
        finally:
            moto.terminate()
            moto.wait(30)
            net.stop()
    fig.update(_codec_limit(quick))
    fig["load_avg_1min_end"] = os.getloadavg()[0]
    for name in [n for n in fig if n.startswith("gw_") and n.replace("gw_", "moto_", 1) in fig]:
        fig[name.replace("gw_", "", 1).rsplit("_", 1)[0] + "_vs_moto_ratio"] = (
            fig[name] / fig[name.replace("gw_", "moto_", 1)]
        )
    for op, path in (("put", "encode"), ("get", "decode")):
        for c in (1, 4):
            fig[f"{op}_64MiB_c{c}_vs_codec_ratio"] = fig[f"gw_{op}_64MiB_c{c}_MBps"] / fig[f"codec_{path}_MBps"]
    fig["rss_peak_segments_over_100MiB"] = (fig["gw_rss_peak_1GiB_MiB"] - 100) / (SEGMENT / MiB)
    return fig


AIMS = (  # figure, at least (or at most with a leading "≤"), what
    ("gw_put_64MiB_c4_MBps", 200.0, "PUT 64 MiB ≥ 200 MB/s (best of 1 and 4 clients)"),
    ("gw_get_64MiB_c4_MBps", 500.0, "GET 64 MiB ≥ 500 MB/s (best of 1 and 4 clients)"),
    ("gw_put_4KiB_c16_ops", 1000.0, "PUT 4 KiB ≥ 1,000/s"),
    ("gw_get_4KiB_c16_ops", 2000.0, "GET 4 KiB ≥ 2,000/s"),
)


def _report(fig: dict[str, float]) -> str:
    rows = [
        ("PUT 64 MiB, 1 client", "put_64MiB_c1", "MB/s"),
        ("PUT 64 MiB, 4 clients", "put_64MiB_c4", "MB/s"),
        ("GET 64 MiB, 1 client", "get_64MiB_c1", "MB/s"),
        ("GET 64 MiB, 4 clients", "get_64MiB_c4", "MB/s"),
        ("PUT 4 KiB, 16 in flight", "put_4KiB_c16", "ops/s"),
        ("GET 4 KiB, 16 in flight", "get_4KiB_c16", "ops/s"),
    ]
    unit_key = {"MB/s": "MBps", "ops/s": "ops"}
    lines = [f"{'':26}{'gateway':>12}{'moto':>12}{'gw/moto':>10}{'gw/codec':>10}"]
    for label, key, unit in rows:
        g, m = fig[f"gw_{key}_{unit_key[unit]}"], fig[f"moto_{key}_{unit_key[unit]}"]
        vs_codec = fig.get(f"{key}_vs_codec_ratio")
        lines.append(
            f"{label:26}{g:>7.0f} {unit:5}{m:>6.0f} {unit:5}{g / m:>9.2f}×"
            + (f"{vs_codec:>9.2f}×" if vs_codec is not None else "")
        )
    lines += [
        "",
        f"codec limit (4/10, 2 threads): encode {fig['codec_encode_MBps']:.0f} MB/s, "
        f"decode {fig['codec_decode_MBps']:.0f} MB/s",
        f"gateway during a 1 GiB PUT: RSS {fig['gw_rss_before_1GiB_MiB']:.0f} MiB before, "
        f"peak {fig['gw_rss_peak_1GiB_MiB']:.0f} MiB = 100 MiB + "
        f"{fig['rss_peak_segments_over_100MiB']:.1f} segments of 64 MiB; {fig['gw_put_1GiB_c1_MBps']:.0f} MB/s",
        f"load average (1 min) {fig['load_avg_1min_start']:.2f} at start, {fig['load_avg_1min_end']:.2f} at end "
        f"on {os.cpu_count()} cores",
        "",
    ]
    for name, floor, what in AIMS:
        value = fig[name]
        if "64MiB" in name:
            value = max(value, fig[name.replace("_c4_", "_c1_")])
        lines.append(f"aim {what}: {value:.0f} {'ok' if value >= floor else 'MISSED'}")
    rss_cap = 4 * SEGMENT / MiB + 100
    peak = fig["gw_rss_peak_1GiB_MiB"]
    lines.append(f"aim gateway RSS ≤ 4 segments + 100 MiB ({rss_cap:.0f} MiB): {peak:.0f} "
                 f"{'ok' if peak <= rss_cap else 'MISSED'}")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round, fewer objects, quick codec (< 1 min)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as one flat JSON object")
    parser.add_argument("--procs", type=int, default=2, help="client processes for 4 KiB requests (default 2)")
    args = parser.parse_args()
    fig = measure(quick=args.quick, procs=args.procs)
    print(_report(fig))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
