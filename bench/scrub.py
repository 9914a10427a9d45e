"""Scrub throughput of a real storage node process, and what a running scrub costs its GETs.

A node process (``geoshard node run``) is filled with pieces through signed PUT orders, then
restarted in each mode, in interleaved rounds (the best round of each mode counts, so a
burst of load from other processes on a shared machine hurts no mode more):

* **scrub alone**: ``scrub_period`` tiny and no rate limit, no client traffic: the MB/s the
  node verifies (read, hash every leaf, rebuild the Merkle tree, compare) — ``scrub_mb_s``,
  read from the node's own ``GET /v1/scrub`` counters;
* **GETs without scrub** (``scrub_period = 0``): whole-piece GETs at a fixed concurrency —
  ``get_mb_s``;
* **GETs with the production scrub** (the default ``scrub_max_rate``, 4 MiB/s) and **with an
  unthrottled scrub**: the same GETs while the node scrubs — ``get_with_scrub_ratio`` and
  ``get_with_unthrottled_scrub_ratio`` (with / without; 1.0 = no cost).

The load average and the CPU time other processes used during the run are printed beside
the figures.

    python bench/scrub.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.identity import Identity
from common.messages import Action, OrderLimit, Signed, new_serial, now
from storage_node.config import NodeConfig
from storage_node.piecestore.verification import encode_order_header

MiB = 2**20
GEOSHARD = Path(sys.executable).with_name("geoshard")
WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
LEAF = 4096


def _geoshard(*args: str) -> list[str]:
    if GEOSHARD.exists():
        return [str(GEOSHARD), *args]
    return [sys.executable, "-m", "geoshard.cli", *args]


def _order(satellite: Identity, node_id: str, piece_id: str, action: Action) -> str:
    t = now()
    limit = OrderLimit(new_serial(), satellite.id, node_id, piece_id, action, 1 << 30, t + 600, t)
    return encode_order_header(Signed.sign(satellite, limit))


class Node:
    """One ``geoshard node run`` process on a data directory, restarted per mode."""

    def __init__(self, data: Path, satellite: Identity) -> None:
        self.data, self.satellite = data, satellite
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self.node_id = ""

    async def init(self) -> None:
        init = await asyncio.create_subprocess_exec(
            *_geoshard("node", "init", "--data", str(self.data), "--capacity", "20GB", "--country", "DE",
                       "--region", "eu", "--wallet", WALLET, "--satellite", f"{self.satellite.id}@http://127.0.0.1:9",
                       "--port", "0", "--listen-host", "127.0.0.1"),
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await init.wait() != 0:
            raise SystemExit("geoshard node init failed")
        self.node_id = Identity.load(self.data / "identity.pem").id

    async def start(self, scrub_period: float, scrub_max_rate: float) -> None:
        cfg_path = self.data / "config.toml"
        cfg = NodeConfig.load(cfg_path)
        cfg.scrub_period, cfg.scrub_max_rate = scrub_period, scrub_max_rate
        cfg.checkin_interval = 3600.0  # no satellite here: keep the log quiet
        cfg.save(cfg_path)
        self.proc = await asyncio.create_subprocess_exec(
            *_geoshard("node", "run", "--config", str(cfg_path), "--log-level", "ERROR"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = (await self.proc.stdout.readline()).decode()
        m = re.search(r"serving at (http://\S+)", line)
        if not m:
            self.proc.kill()
            raise SystemExit(f"node did not start: {line!r}")
        self.url = m.group(1)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None


async def fill(s: aiohttp.ClientSession, node: Node, count: int, size: int) -> list[str]:
    ids = [secrets.token_hex(32) for _ in range(count)]
    payload = os.urandom(size)
    sem = asyncio.Semaphore(4)

    async def put(pid: str) -> None:
        async with sem:
            h = {"Geoshard-Order-Limit": _order(node.satellite, node.node_id, pid, Action.PUT),
                 "Geoshard-Leaf-Size": str(LEAF)}  # fmt: skip
            async with s.put(f"{node.url}/v1/pieces/{pid}", data=payload, headers=h) as r:
                if r.status != 200:
                    raise SystemExit(f"PUT failed: {r.status} {await r.text()}")

    await asyncio.gather(*(put(p) for p in ids))
    return ids


async def scrub_status(s: aiohttp.ClientSession, node: Node) -> dict:
    async with s.get(f"{node.url}/v1/scrub") as r:
        return await r.json()


async def measure_scrub(s: aiohttp.ClientSession, node: Node, stored: int) -> float:
    """MB/s of one full, unthrottled pass with no other traffic."""
    t0 = time.monotonic()
    first = await scrub_status(s, node)
    while True:
        st = await scrub_status(s, node)
        if st["total_bytes"] - first["total_bytes"] >= stored or st["passes"] > first["passes"]:
            break
        await asyncio.sleep(0.02)
    dt = time.monotonic() - t0
    return (st["total_bytes"] - first["total_bytes"]) / dt / 1e6


async def measure_gets(s: aiohttp.ClientSession, node: Node, ids: list[str], size: int, seconds: float,
                       concurrency: int) -> float:  # fmt: skip
    """MB/s of whole-piece GETs for ``seconds``."""
    got = 0
    deadline = time.monotonic() + seconds
    t0 = time.monotonic()

    async def worker(i: int) -> None:
        nonlocal got
        j = i
        while time.monotonic() < deadline:
            pid = ids[j % len(ids)]
            j += concurrency
            h = {"Geoshard-Order-Limit": _order(node.satellite, node.node_id, pid, Action.GET)}
            async with s.get(f"{node.url}/v1/pieces/{pid}", headers=h, params={"length": size}) as r:
                if r.status != 200:
                    raise SystemExit(f"GET failed: {r.status} {await r.text()}")
                async for chunk in r.content.iter_any():
                    got += len(chunk)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return got / (time.monotonic() - t0) / 1e6


def _others_cpu(mine: set[int]) -> float:
    total = 0.0
    for p in psutil.process_iter(["pid", "cpu_times"]):
        if p.info["pid"] in mine or p.info["cpu_times"] is None:
            continue
        total += p.info["cpu_times"].user + p.info["cpu_times"].system
    return total


async def run(args: argparse.Namespace) -> dict[str, float]:
    count, size = (48, 1 * MiB) if args.quick else (192, 4 * MiB)
    rounds = 1 if args.quick else 3
    seconds = 2.0 if args.quick else 6.0
    stored = count * size
    satellite = Identity.generate()
    tmp = Path(tempfile.mkdtemp(prefix="geoshard-bench-scrub-"))
    node = Node(tmp / "node", satellite)
    best: dict[str, float] = {}
    load0 = os.getloadavg()
    mine = {os.getpid()}
    cpu0 = _others_cpu(mine)
    t_start = time.monotonic()
    try:
        await node.init()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as s:
            await node.start(0.0, 1e12)
            ids = await fill(s, node, count, size)
            await node.stop()
            for _ in range(rounds):
                # A period far shorter than the pass: the node scrubs as fast as the limit allows.
                for mode, period, rate in (("alone", 1e-3, 1e12), ("none", 0.0, 1e12),
                                           ("throttled", 1e-3, 4.0 * MiB), ("unthrottled", 1e-3, 1e12)):  # fmt: skip
                    await node.start(period, rate)
                    assert node.proc is not None
                    mine.add(node.proc.pid)
                    if mode == "alone":
                        value = await measure_scrub(s, node, stored)
                        best["scrub_mb_s"] = max(best.get("scrub_mb_s", 0.0), value)
                    else:
                        value = await measure_gets(s, node, ids, size, seconds, args.concurrency)
                        best[f"get_{mode}"] = max(best.get(f"get_{mode}", 0.0), value)
                    await node.stop()
    finally:
        await node.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    wall = time.monotonic() - t_start
    figures = {
        "scrub_mb_s": round(best["scrub_mb_s"], 1),
        "get_mb_s": round(best["get_none"], 1),
        "get_with_scrub_mb_s": round(best["get_throttled"], 1),
        "get_with_unthrottled_scrub_mb_s": round(best["get_unthrottled"], 1),
        "get_with_scrub_ratio": round(best["get_throttled"] / best["get_none"], 3),
        "get_with_unthrottled_scrub_ratio": round(best["get_unthrottled"] / best["get_none"], 3),
        "pieces": count,
        "piece_mib": size // MiB,
        "load_avg_1m_start": round(load0[0], 2),
        "load_avg_1m_end": round(os.getloadavg()[0], 2),
        "other_processes_cpu_s_per_s": round((_others_cpu(mine) - cpu0) / wall, 2),
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small, fast run (proves the benchmark works)")
    parser.add_argument("--json", type=Path, help="write the figures to this file (flat JSON)")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(f"load average {figures['load_avg_1m_start']} → {figures['load_avg_1m_end']} (1 min); other processes "
          f"used {figures['other_processes_cpu_s_per_s']} CPU-s per second during the run")  # fmt: skip
    print(f"scrub, one node, unthrottled: {figures['scrub_mb_s']} MB/s verified")
    print(f"GET without scrub: {figures['get_mb_s']} MB/s; with the production scrub (4 MiB/s): "
          f"{figures['get_with_scrub_mb_s']} MB/s (ratio {figures['get_with_scrub_ratio']})")  # fmt: skip
    print(f"GET with an unthrottled scrub: {figures['get_with_unthrottled_scrub_mb_s']} MB/s "
          f"(ratio {figures['get_with_unthrottled_scrub_ratio']})")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
