"""Piece PUT/GET throughput of a real storage node process against a bare aiohttp server.

Both servers run as separate processes on loopback, on uvloop, and are driven by the same
aiohttp client with the same piece sizes and concurrency. The *bare* server is the ceiling
for aiohttp on this machine: it discards uploads and serves downloads from memory. The
*node* does all of its real work — order signature and serial checks, SQLite, Merkle
hashing, writing to disk, fsync + link + directory fsync, and reading pieces back — so the
ratio node/bare is the cost of being a storage node rather than a socket. Target ≥ 0.7.

For uploads a third figure separates the disk from the node: the same pieces written
durably (write, fsync, link, directory fsync) by plain threads with no HTTP, so
``put_*_vs_disk_ratio`` shows how close the node gets to what the disk allows.

    python bench/piecestore.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.identity import Identity
from common.messages import Action, OrderLimit, Signed, new_serial, now
from storage_node.piecestore.verification import encode_order_header

MiB = 2**20
GEOSHARD = Path(sys.executable).with_name("geoshard")


# --- the bare server (runs in its own process: ``--serve-bare``) -----------------------


def serve_bare() -> None:
    import uvloop
    from aiohttp import web

    source = os.urandom(64 * MiB)

    async def put(request: web.Request) -> web.Response:
        n = 0
        async for chunk in request.content.iter_any():
            n += len(chunk)
        return web.json_response({"received": n})

    async def get(request: web.Request) -> web.StreamResponse:
        length = int(request.query.get("length", "0"))
        resp = web.StreamResponse(headers={"Content-Length": str(length)})
        await resp.prepare(request)
        mv = memoryview(source)
        for off in range(0, length, 1 << 18):
            await resp.write(mv[off % len(source) : off % len(source) + min(1 << 18, length - off)])
        await resp.write_eof()
        return resp

    async def checkin(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def main() -> None:
        app = web.Application()
        app.router.add_put("/v1/pieces/{piece_id}", put)
        app.router.add_get("/v1/pieces/{piece_id}", get)
        app.router.add_post("/api/v1/nodes/checkin", checkin)
        runner = web.AppRunner(app, access_log=None, read_bufsize=2**20)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=512)
        await site.start()
        print(f"serving at http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    uvloop.run(main())


# --- processes ---------------------------------------------------------------------------


def _start(cmd: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"serving at (http://\S+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"{cmd[0]} did not start: {line!r}")
    return proc, m.group(1)


def _geoshard(*args: str) -> list[str]:
    if GEOSHARD.exists():
        return [str(GEOSHARD), *args]
    return [sys.executable, "-m", "geoshard.cli", *args]


# --- client ------------------------------------------------------------------------------


class Client:
    def __init__(self, session: aiohttp.ClientSession, satellite: Identity, node_id: str) -> None:
        self.session, self.satellite, self.node_id = session, satellite, node_id

    def _order(self, piece_id: str, action: Action) -> str:
        t = now()
        limit = OrderLimit(new_serial(), self.satellite.id, self.node_id, piece_id, action, 1 << 30, t + 600, t)
        return encode_order_header(Signed.sign(self.satellite, limit))

    async def put(self, url: str, piece_id: str, data: bytes, leaf: int) -> None:
        h = {"Geoshard-Order-Limit": self._order(piece_id, Action.PUT), "Geoshard-Leaf-Size": str(leaf)}
        async with self.session.put(f"{url}/v1/pieces/{piece_id}", data=data, headers=h) as r:
            if r.status != 200:
                raise RuntimeError(f"PUT {r.status}: {await r.text()}")
            await r.read()

    async def get(self, url: str, piece_id: str, length: int) -> None:
        h = {"Geoshard-Order-Limit": self._order(piece_id, Action.GET)}
        got = 0
        async with self.session.get(f"{url}/v1/pieces/{piece_id}", headers=h, params={"length": length}) as r:
            if r.status != 200:
                raise RuntimeError(f"GET {r.status}: {await r.text()}")
            async for chunk in r.content.iter_any():
                got += len(chunk)
        if got != length:
            raise RuntimeError(f"GET returned {got} of {length} bytes")


def _disk_rate(base: Path, payload: bytes, count: int, concurrency: int) -> float:
    """MB/s of writing the same pieces durably with no HTTP at all: write, fsync, link into
    place, fsync the directory — the floor under what any durable piece store can do."""
    from concurrent.futures import ThreadPoolExecutor

    base.mkdir(parents=True, exist_ok=True)

    def one(i: int) -> None:
        tmp, final = base / f"{i}.part", base / f"{i}.piece"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            mv = memoryview(payload)
            while mv:
                mv = mv[os.write(fd, mv) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, final)
        tmp.unlink()
        dfd = os.open(base, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(count)))
    secs = time.perf_counter() - t0
    subprocess.run(["rm", "-rf", str(base)], check=False)
    return count * len(payload) / secs / 1e6


async def _timed(jobs: list, concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def one(job):  # type: ignore[no-untyped-def]
        async with sem:
            await job()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(j) for j in jobs))
    return time.perf_counter() - t0


async def run(args: argparse.Namespace) -> dict[str, float]:
    import uvloop  # noqa: F401  (fail early if missing: both servers need it)

    sizes = [1 * MiB, 16 * MiB] if args.quick else [1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB]
    total = (128 if args.quick else 512) * MiB  # bytes per round and server
    figures: dict[str, float] = {}
    satellite = Identity.generate()
    tmp = Path(tempfile.mkdtemp(prefix="geoshard-bench-"))
    bare, bare_url = _start([sys.executable, __file__, "--serve-bare"])
    node = None
    try:
        data_dir = tmp / "node"
        subprocess.run(
            _geoshard("node", "init", "--data", str(data_dir), "--capacity", "20GB", "--country", "DE",
                      "--region", "eu", "--wallet", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                      "--satellite", f"{satellite.id}@{bare_url}", "--port", "0",
                      "--listen-host", "127.0.0.1"),
            check=True, stdout=subprocess.DEVNULL,
        )
        node, node_url = _start(_geoshard("node", "run", "--config", str(data_dir / "config.toml"),
                                          "--log-level", "WARNING"))
        node_ps = psutil.Process(node.pid)
        rss_base = node_ps.memory_info().rss
        rss_peak = rss_base
        node_id = Identity.load(data_dir / "identity.pem").id
        conn = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=600)) as s:
            client = Client(s, satellite, node_id)
            for size in sizes:
                # Each round moves `total` bytes to the bare server, then to the node; the
                # best round of each counts, so a burst of load from elsewhere on a shared
                # machine hurts neither side more than the other.
                count = max(args.concurrency, total // size)
                payload = os.urandom(size)
                label = f"{size // MiB}MiB"
                stored: dict[str, list[str]] = {"bare": [], "node": []}
                for op in ("put", "get"):
                    best = {"bare": 0.0, "node": 0.0}
                    for _round in range(args.rounds):
                        for name, url in (("bare", bare_url), ("node", node_url)):
                            if op == "put":
                                ids = [secrets.token_hex(32) for _ in range(count)]
                                stored[name] = ids
                                jobs = [lambda p=p, u=url, d=payload: client.put(u, p, d, args.leaf_size) for p in ids]
                            else:
                                jobs = [lambda p=p, u=url, n=size: client.get(u, p, n) for p in stored[name]]
                            secs = await _timed(jobs, args.concurrency)
                            best[name] = max(best[name], count * size / secs / 1e6)
                            rss_peak = max(rss_peak, node_ps.memory_info().rss)
                    ratio = best["node"] / best["bare"]
                    figures[f"{op}_{label}_bare_mb_s"] = round(best["bare"], 1)
                    figures[f"{op}_{label}_node_mb_s"] = round(best["node"], 1)
                    figures[f"{op}_{label}_ratio"] = round(ratio, 3)
                    extra = ""
                    if op == "put":
                        disk = 0.0
                        for _round in range(args.rounds):
                            disk = max(disk, await asyncio.to_thread(
                                _disk_rate, tmp / "disk", payload, count, args.concurrency))
                        figures[f"put_{label}_disk_mb_s"] = round(disk, 1)
                        figures[f"put_{label}_vs_disk_ratio"] = round(best["node"] / disk, 3)
                        extra = f"  | durable disk writes {disk:8.1f} MB/s, node/disk {best['node'] / disk:.2f}"
                    print(f"{op.upper():4} {label:>6} x{count:<4} c={args.concurrency}  "
                          f"bare {best['bare']:8.1f} MB/s  node {best['node']:8.1f} MB/s  "
                          f"ratio {ratio:.2f}{extra}", flush=True)
        figures["node_rss_peak_mb"] = round(rss_peak / 1e6, 1)
        figures["node_rss_growth_mb"] = round((rss_peak - rss_base) / 1e6, 1)
        print(f"node RSS: {rss_base / 1e6:.0f} MB at start, {rss_peak / 1e6:.0f} MB peak "
              f"(largest piece {sizes[-1] // MiB} MiB x concurrency {args.concurrency})")
        for op in ("put", "get"):
            ratios = [v for k, v in figures.items()
                      if k.startswith(op) and k.endswith("_ratio") and "_vs_disk_" not in k]
            figures[f"{op}_min_ratio"] = min(ratios)
        print(f"min ratio: PUT {figures['put_min_ratio']:.2f}, GET {figures['get_min_ratio']:.2f} "
              "(target >= 0.70)")
    finally:
        for p in (node, bare):
            if p is not None:
                p.terminate()
                p.wait(10)
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer sizes and bytes (under a minute)")
    ap.add_argument("--json", type=Path, help="write the figures as one flat JSON object")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--leaf-size", type=int, default=65536)
    ap.add_argument("--rounds", type=int, default=0, help="best-of rounds (default 3; 2 with --quick)")
    ap.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_bare:
        serve_bare()
        return
    args.rounds = args.rounds or (2 if args.quick else 3)
    figures = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
