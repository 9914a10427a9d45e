"""Idle CPU of a devnet: percent of one core per process, measured from /proc CPU counters.

Starts a ``--nodes`` devnet, stores ``--objects`` small objects, lets it settle, then counts
the CPU seconds (user + system) each process of the devnet spends over ``--seconds``. Every
process is counted once: a named process's own time plus that of its children that are not
themselves named (the satellite's API workers, say), and the ``devnet`` supervisor only for
itself. CPU seconds, not wall-clock load, so the figure holds on a shared machine.

    PYTHONPATH=. python bench/idle_cpu.py [--quick] [--json PATH] [--nodes 10] [--objects 20] [--seconds 60]

``--quick``: 20 s to settle and 20 s measured. ``--json`` writes the per-process percentages,
the total and ``total_vs_goal_ratio`` (the total against issue 15's goal of 3 % of one core).

It also prints the coverage the CPU bought — audits a second over the window and audits per
piece per hour (rows of the satellite's ``audit_results`` over its ``pieces``) — and the
resident memory of every process at the end (issue 15's goal: 1 GiB for a 12-node devnet).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from tests.devnet_fixture import start_devnet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/tmp/idle-devnet")
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--objects", type=int, default=20)
    ap.add_argument("--settle", type=float, default=60.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--quick", action="store_true", help="20 s to settle, 20 s measured")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    if args.quick:
        args.settle, args.seconds = 20.0, 20.0
    data = Path(args.data)
    shutil.rmtree(data, ignore_errors=True)
    d = start_devnet(data, nodes=args.nodes, timeout=400)
    try:
        s3 = d.boto3()
        s3.create_bucket(Bucket="idle")
        for i in range(args.objects):
            s3.put_object(Bucket="idle", Key=f"k{i}", Body=os.urandom(300_000))
        time.sleep(args.settle)
        pids = {e["name"]: e["pid"] for e in json.loads((data / "devnet.pids").read_text())}
        named = set(pids.values())
        procs = {n: psutil.Process(p) for n, p in pids.items()}

        def cpu() -> dict[str, float]:
            out: dict[str, float] = {}
            for n, p in procs.items():
                try:
                    t = p.cpu_times()
                    out[n] = t.user + t.system
                    for c in p.children(recursive=True):
                        if c.pid not in named:
                            ct = c.cpu_times()
                            out[n] += ct.user + ct.system
                except psutil.Error:
                    pass
            return out

        def audits() -> tuple[int, int]:
            with contextlib.closing(sqlite3.connect(f"file:{data}/satellite/satellite.db?mode=ro", uri=True)) as c:
                c.execute("PRAGMA busy_timeout = 5000")
                done = c.execute("SELECT count(*) FROM audit_results").fetchone()[0]
                return int(done), int(c.execute("SELECT count(*) FROM pieces").fetchone()[0])

        a, (audits_a, _) = cpu(), audits()
        t0 = time.monotonic()
        time.sleep(args.seconds)
        b, (audits_b, pieces) = cpu(), audits()
        el = time.monotonic() - t0
        rss = {}
        for n, p in procs.items():
            with contextlib.suppress(psutil.Error):
                rss[n] = p.memory_info().rss + sum(
                    c.memory_info().rss for c in p.children(recursive=True) if c.pid not in named
                )
        per = {n: round(100 * (b[n] - a[n]) / el, 2) for n in a if n in b}
        nodes = sum(v for n, v in per.items() if n.startswith("node"))
        print("percent of one core over", round(el), "s:", json.dumps(per))
        print(f"satellite {per.get('satellite', 0):.1f} %, nodes {nodes:.1f} % in all, "
              f"gateway {per.get('gateway', 0):.1f} %, devnet {per.get('devnet', 0):.1f} %")
        total = round(sum(per.values()), 1)
        print("total:", total, "%", f"(goal 3 %: ratio {total / 3:.1f}); load average of the machine",
              " ".join(f"{x:.1f}" for x in os.getloadavg()))
        rate = (audits_b - audits_a) / el
        per_piece = rate * 3600 / pieces if pieces else 0.0
        print(f"audits: {rate:.1f} a second over the window, {pieces} pieces: {per_piece:.0f} per piece per hour")
        mib = {n: round(v / 2**20) for n, v in rss.items()}
        node_rss = sum(v for n, v in mib.items() if n.startswith("node"))
        print(f"RSS MiB: satellite {mib.get('satellite', 0)}, nodes {node_rss} in all "
              f"({node_rss / max(1, args.nodes):.0f} each), gateway {mib.get('gateway', 0)}, "
              f"devnet {mib.get('devnet', 0)}: total {sum(mib.values())} MiB (goal for 12 nodes: 1024)")
        if args.json:
            flat = {f"{n}_percent": v for n, v in per.items()}
            flat.update(total_percent=total, total_vs_goal_ratio=round(total / 3, 2), load_1min=os.getloadavg()[0])
            flat.update(audits_per_second=round(rate, 2), audits_per_piece_hour=round(per_piece), pieces=pieces)
            flat.update({f"{n}_rss_mib": v for n, v in mib.items()}, total_rss_mib=sum(mib.values()))
            Path(args.json).write_text(json.dumps(flat, indent=1) + "\n")
    finally:
        d.stop()


if __name__ == "__main__":
    main()
