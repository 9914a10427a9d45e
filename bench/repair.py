"""Repair throughput beside the codec's decode + encode rate, measured in the same run.

One run starts a whole network in this process (``tests/planet.py``: a satellite on
SQLite, 12 storage nodes on loopback, a gateway), uploads objects of one segment each
under scheme 4/6/8/10, then makes every segment need repair by deleting all its piece rows
but the first ``k + 1`` (five pieces left: below the repair threshold of six; the nodes
keep the files, which only GC cares about). One checker pass queues them all and
``--workers`` repairers drain the queue. Each job downloads ``k`` whole pieces with
Merkle proofs (REPAIR_GET), rebuilds every piece on ciphertext and checks all stored
roots, places and uploads three new pieces (REPAIR_PUT, receipts checked) and swaps
the metadata.

* **repair** = MB of segments (encrypted size, 10⁶ bytes) repaired per second of wall time;
* **codec** = the same machine's rate for :func:`erasure.decode_segment` followed by
  :func:`erasure.encode_segment` on a segment of the same size (the two paths
  ``bench/codec.py`` times; combined as ``1 / (1/decode + 1/encode)``), and the rate of the
  repairer's own codec step (:func:`erasure.rebuild_pieces` of every piece plus their
  Merkle roots), which needs no key.

The ratio repair / codec is the share of the codec's rate that repair reaches once the
network, the database and the event loop are added; every process shares one machine here,
so the nodes' hashing and disk writes count against it too.

    python bench/repair.py [--quick] [--json PATH] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, select

from common.piece_client import PieceClient
from erasure import (
    RedundancyScheme,
    decode_segment,
    encode_segment,
    new_segment_key,
    piece_root,
    rebuild_pieces,
)
from satellite.db.models import PieceRow, SegmentRow
from satellite.repair import RepairOutcome
from tests.planet import planet

MB = 1e6
SCHEME = "4/6/8/10"


def codec_rates(size: int, rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` MB/s of decode, encode, their sum, and the repair codec step."""
    scheme = RedundancyScheme.parse(SCHEME)
    key, sid = new_segment_key(), os.urandom(16)
    plain = os.urandom(size)
    best = {"encode": float("inf"), "decode": float("inf"), "rebuild": float("inf")}
    for _ in range(rounds):
        t = time.perf_counter()
        enc = encode_segment(plain, scheme, key, sid)
        best["encode"] = min(best["encode"], time.perf_counter() - t)
        last_k = {j: enc.pieces[j] for j in range(scheme.total - scheme.k, scheme.total)}
        t = time.perf_counter()
        decode_segment(enc.layout, key, sid, last_k, roots=enc.roots)
        best["decode"] = min(best["decode"], time.perf_counter() - t)
        t = time.perf_counter()
        rebuilt = rebuild_pieces(enc.layout, last_k, list(range(scheme.total)))
        [piece_root(p, enc.layout.share_size) for p in rebuilt.values()]
        best["rebuild"] = min(best["rebuild"], time.perf_counter() - t)
    cipher = enc.layout.cipher_size
    out = {f"codec_{name}_MBps": cipher / secs / MB for name, secs in best.items()}
    out["codec_decode_encode_MBps"] = 1 / (1 / out["codec_decode_MBps"] + 1 / out["codec_encode_MBps"])
    return out


async def repair_rate(tmp: Path, segments: int, size: int, workers: int) -> dict[str, float]:
    async with planet(tmp, nodes=12, scheme=SCHEME, segment_size=size) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="bench")
        for i in range(segments):
            await net.s3(s3.put_object, Bucket="bench", Key=f"o{i}", Body=os.urandom(size))
        k = RedundancyScheme.parse(SCHEME).k
        async with net.satellite.db.transaction() as s:
            rows = (await s.execute(select(PieceRow.segment_id, PieceRow.number).order_by(PieceRow.number))).all()
            kept: dict[int, int] = {}
            for sid, num in rows:  # keep each segment's first k + 1 pieces (long-tail may have skipped some)
                kept[sid] = kept.get(sid, 0) + 1
                if kept[sid] > k + 1:
                    await s.execute(delete(PieceRow).where(PieceRow.segment_id == sid, PieceRow.number == num))
        await net.satellite.repair.checker.run_pass()
        async with net.satellite.db.read() as s:
            total = sum((await s.execute(select(SegmentRow.encrypted_size).where(SegmentRow.k > 0))).scalars())
        results = []
        async with PieceClient.new_session() as session:
            repairers = [net.satellite.repair.new_repairer(PieceClient(session)) for _ in range(workers)]

            async def drain(r) -> None:  # type: ignore[no-untyped-def]
                while (res := await r.run_once()) is not None:
                    results.append(res)

            t = time.perf_counter()
            await asyncio.gather(*(drain(r) for r in repairers))
            elapsed = time.perf_counter() - t
        bad = [(r.error, r.failures) for r in results if r.outcome is not RepairOutcome.REPAIRED]
        if bad or len(results) != segments:
            raise SystemExit(f"repair failed: {len(results)} jobs for {segments} segments; {bad[:3]}")
        return {
            "repair_MBps": total / elapsed / MB,
            "repair_segments_per_s": segments / elapsed,
            "repair_seconds": elapsed,
            "repair_downloaded_per_segment_byte": sum(r.bytes_downloaded for r in results) / total,
            "repair_uploaded_per_segment_byte": sum(r.bytes_uploaded for r in results) / total,
        }


def measure(quick: bool = False, workers: int = 2) -> dict[str, float]:
    size = (2 if quick else 8) * 2**20
    segments = 6 if quick else 16
    out: dict[str, float] = {"segment_MiB": size / 2**20, "segments": segments, "workers": workers}
    with tempfile.TemporaryDirectory() as tmp:
        out.update(asyncio.run(repair_rate(Path(tmp), segments, size, workers)))
    out.update(codec_rates(size, 2 if quick else 4))
    out["repair_to_codec_ratio"] = out["repair_MBps"] / out["codec_decode_encode_MBps"]
    out["load_average_1m"] = os.getloadavg()[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 MiB segments, 6 of them")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    ap.add_argument("--workers", type=int, default=2, help="concurrent repairers (default 2)")
    args = ap.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)
    fig = measure(args.quick, args.workers)
    print(f"scheme {SCHEME}, {fig['segments']:.0f} segments of {fig['segment_MiB']:.0f} MiB, "
          f"{fig['workers']:.0f} repairers, load average {fig['load_average_1m']:.1f}")  # fmt: skip
    print(f"repair                 {fig['repair_MBps']:8.1f} MB/s of segments "
          f"({fig['repair_segments_per_s']:.2f} segments/s; per segment byte: "
          f"{fig['repair_downloaded_per_segment_byte']:.2f} down, {fig['repair_uploaded_per_segment_byte']:.2f} up)")
    print(f"codec decode + encode  {fig['codec_decode_encode_MBps']:8.1f} MB/s "
          f"(decode {fig['codec_decode_MBps']:.0f}, encode {fig['codec_encode_MBps']:.0f})")
    print(f"codec rebuild + roots  {fig['codec_rebuild_MBps']:8.1f} MB/s (the repairer's codec step, no key)")
    print(f"repair / (decode + encode) = {fig['repair_to_codec_ratio']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2) + "\n")


if __name__ == "__main__":
    main()
