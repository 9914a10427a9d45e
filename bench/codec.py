"""Segment codec throughput beside the primitives it is made of, measured in the same run.

For each scheme (4/10, 10/16, 29/80), each erasure-coding backend (``isal``, the default,
and ``zfec``) and for 1 and 2 threads, this times the two paths the gateway runs for
every 64 MiB segment:

* **encode** = :func:`erasure.encode_segment`: AES-256-GCM in blocks, the strided stripe
  transpose, one backend call, and a blake3 Merkle tree over each of the ``n`` pieces;
* **decode** = :func:`erasure.decode_segment` from the *last* ``k`` pieces (as many parity
  pieces as the scheme allows: the expensive case) with every piece checked against its
  Merkle root first, then the backend's decode, the inverse transpose and AES-GCM
  decryption;

beside the raw primitives on the same bytes: each backend's encode/decode alone, AES-GCM
encrypt/decrypt alone (64 KiB blocks), blake3 alone (one call over the buffer) and md5
alone (what the gateway pays for the ETag; shown for reference, not part of these paths).
``blake3_leaves`` is blake3 one share at a time, as the Merkle trees hash: shown beside the
limit, not in it, because blake3-py holds the GIL for inputs this small (it lets go only
for large buffers), so with a fast backend the per-share calls, not the glue, bound encode.

The *limit* of a path is ``1 / Σ(1/rate_i)`` over the primitives it uses, each rate
expressed in segment bytes per second (so blake3 over ``n/k × size`` piece bytes counts
``n/k`` times): what the path would reach if it did nothing but call the primitives one
after the other. With 2 threads, both the path and its primitives run two segments at
once in a thread pool, so the ratio compares like with like; it is the share of the CPU
that the primitives leave that our Python glue costs. Target: encode with 2 threads
≥ 0.6 of its limit for 4/10 and 10/16.

    python bench/codec.py [--quick] [--json PATH]

:func:`measure` returns the same flat ``{figure: number}`` mapping the ``--json`` file
holds (rates end in ``_MBps``, ratios in ``_ratio``; paths are named
``{encode|decode}_{backend}_{scheme}_t{threads}``), so ``bench/gateway.py`` can take the
default backend's encode/decode rates as the gateway's CPU limit.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import blake3
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from erasure import (
    EncodedSegment,
    RedundancyScheme,
    SegmentLayout,
    decode_segment,
    encode_segment,
    get_backend,
    new_segment_key,
)

MiB = 2**20
SCHEMES = {"4_10": (4, 10), "10_16": (10, 16), "29_80": (29, 80)}
THREADS = (1, 2)
BACKENDS = ("isal", "zfec")
AES_BLOCK = 64 * 1024


def _scheme(k: int, n: int) -> RedundancyScheme:
    return RedundancyScheme(k, k, n, n)


class _Best:
    """Best (shortest) wall time per figure over interleaved rounds.

    Every round times the primitives and the paths one after the other, so a burst of load
    from another process skews a path and its limit alike instead of one of them.
    """

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.times: dict[str, float] = {}
        self.bytes: dict[str, int] = {}

    def time(self, name: str, fn: Callable[[int], object], threads: int, size: int) -> None:
        gc.collect()
        t0 = time.perf_counter()
        list(self.pool.map(fn, range(threads)))
        wall = time.perf_counter() - t0
        self.times[name] = min(wall, self.times.get(name, float("inf")))
        self.bytes[name] = threads * size

    def rate(self, name: str) -> float:
        """Aggregate MB/s (10⁶ bytes of segment) over all threads."""
        return self.bytes[name] / self.times[name] / 1e6


def _limit(*rates: float) -> float:
    """``1 / Σ(1/rate)``; each rate already in segment bytes per second."""
    return 1 / sum(1 / r for r in rates)


def measure(quick: bool = False) -> dict[str, float]:
    """Every figure of this benchmark as ``{name: number}`` (see the module docstring)."""
    size = (16 if quick else 64) * MiB
    rounds = 2 if quick else 4
    datas = [os.urandom(size) for _ in THREADS]  # one distinct segment per thread
    key, sid = new_segment_key(), b"bench-segment-id"
    aes, nonce = AESGCM(key), bytes(12)
    sealed = [aes.encrypt(nonce, datas[0][o : o + AES_BLOCK], None) for o in range(0, size, AES_BLOCK)]

    def aes_enc(i: int) -> None:
        mv = memoryview(datas[i])
        for off in range(0, size, AES_BLOCK):
            aes.encrypt(nonce, mv[off : off + AES_BLOCK], None)

    def aes_dec(i: int) -> None:
        for block in sealed:
            aes.decrypt(nonce, block, None)

    out: dict[str, float] = {"segment_MiB": size / MiB}
    with ThreadPoolExecutor(max(THREADS)) as pool:
        best = _Best(pool)
        for name, (k, n) in SCHEMES.items():
            scheme = _scheme(k, n)
            last_k = tuple(range(n - k, n))  # as many parity pieces as the scheme has: the costly case
            share = SegmentLayout.for_segment(scheme, size).share_size

            def leaves(i: int, share: int = share) -> None:
                mv = memoryview(datas[i])
                for off in range(0, size, share):
                    blake3.blake3(mv[off : off + share]).digest()

            for backend in BACKENDS:
                fec = get_backend(backend)
                # Each backend decodes its own pieces (the parity differs); encoding also warms allocators.
                encs = [encode_segment(d, scheme, key, sid, backend=backend) for d in datas]

                def fec_enc(i: int, k: int = k, n: int = n, encs: list[EncodedSegment] = encs, fec=fec) -> None:
                    fec.encode(k, n, encs[i].pieces[:k])

                def fec_dec(i: int, k: int = k, n: int = n, encs: list[EncodedSegment] = encs, last_k=last_k,
                            fec=fec) -> None:  # fmt: skip
                    fec.decode(k, n, {j: encs[i].pieces[j] for j in last_k})

                def encode(i: int, scheme: RedundancyScheme = scheme, backend: str = backend) -> None:
                    encode_segment(datas[i], scheme, key, sid, backend=backend)

                def decode(i: int, encs: list[EncodedSegment] = encs, last_k=last_k) -> None:
                    e = encs[i]
                    decode_segment(e.layout, key, sid, {j: e.pieces[j] for j in last_k}, roots=e.roots)

                # zfec's 29/80 costs ~5 s per pass here: two rounds keep the full run to a few minutes.
                for _ in range(min(rounds, 2) if k > 20 else rounds):
                    for t in THREADS:
                        best.time(f"aes_gcm_encrypt_t{t}", aes_enc, t, size)
                        best.time(f"aes_gcm_decrypt_t{t}", aes_dec, t, size)
                        best.time(f"blake3_t{t}", lambda i: blake3.blake3(datas[i]).digest(), t, size)
                        best.time(f"md5_t{t}", lambda i: hashlib.md5(datas[i]).digest(), t, size)
                        best.time(f"blake3_leaves_{name}_t{t}", leaves, t, size)
                        best.time(f"{backend}_encode_{name}_t{t}", fec_enc, t, size)
                        best.time(f"{backend}_decode_{name}_t{t}", fec_dec, t, size)
                        best.time(f"encode_{backend}_{name}_t{t}", encode, t, size)
                        best.time(f"decode_{backend}_{name}_t{t}", decode, t, size)
                del encs
        for fig in best.times:
            out[f"{fig}_MBps"] = best.rate(fig)
    for name, (k, n) in SCHEMES.items():
        for backend in BACKENDS:
            for t in THREADS:
                b3 = out[f"blake3_t{t}_MBps"]
                # Encode hashes all n pieces (n/k × the segment); decode verifies k pieces (1×).
                limits = {
                    "encode": _limit(out[f"aes_gcm_encrypt_t{t}_MBps"], out[f"{backend}_encode_{name}_t{t}_MBps"],
                                     b3 * k / n),
                    "decode": _limit(out[f"aes_gcm_decrypt_t{t}_MBps"], out[f"{backend}_decode_{name}_t{t}_MBps"], b3),
                }
                for path, limit in limits.items():
                    key_ = f"{path}_{backend}_{name}_t{t}"
                    out[f"{key_}_limit_MBps"] = limit
                    out[f"{key_}_ratio"] = out[f"{key_}_MBps"] / limit
            out[f"isal_over_zfec_encode_{name}_t2_ratio"] = (
                out[f"encode_isal_{name}_t2_MBps"] / out[f"encode_zfec_{name}_t2_MBps"]
            )
    return out


def _table(fig: dict[str, float]) -> str:
    cols = "".join(f"{f'{t} thread' + ('s' if t > 1 else ''):>24}" for t in THREADS)
    lines = [f"segment {fig['segment_MiB']:.0f} MiB; MB/s = 10⁶ bytes of segment per second", "", f"{'':28}{cols}"]
    for prim in ("aes_gcm_encrypt", "aes_gcm_decrypt", "blake3", "md5"):
        lines.append(f"{prim:28}" + "".join(f"{fig[f'{prim}_t{t}_MBps']:>15.0f} MB/s      " for t in THREADS))
    for name in SCHEMES:
        for backend in BACKENDS:
            lines.append("")
            prims = [f"{backend}_encode", f"{backend}_decode"] + (["blake3_leaves"] if backend == BACKENDS[0] else [])
            for prim in prims:
                key = f"{prim}_{name}"
                lines.append(f"{key:28}" + "".join(f"{fig[f'{key}_t{t}_MBps']:>15.0f} MB/s      " for t in THREADS))
            for path in ("encode", "decode"):
                key = f"{path}_{backend}_{name}"
                cells = "".join(
                    f"{fig[f'{key}_t{t}_MBps']:>9.0f} MB/s "
                    f"({fig[f'{key}_t{t}_ratio']:.2f}×{fig[f'{key}_t{t}_limit_MBps']:>5.0f})"
                    for t in THREADS
                )
                lines.append(f"{key:28}{cells}")
    lines += ["", "path cells: rate (ratio × limit = 1/Σ(1/rate_i) of its primitives at the same thread count)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 MiB segments, two rounds (well under a minute)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as one flat JSON object")
    args = parser.parse_args()
    fig = measure(quick=args.quick)
    print(_table(fig))
    for name in SCHEMES:
        print(f"encode {name.replace('_', '/')} with 2 threads, isal over zfec: "
              f"{fig[f'isal_over_zfec_encode_{name}_t2_ratio']:.2f}×")  # fmt: skip
    for backend in BACKENDS:
        for name in ("4_10", "10_16"):
            ratio = fig[f"encode_{backend}_{name}_t2_ratio"]
            print(
                f"target encode {name.replace('_', '/')} ({backend}) with 2 threads ≥ 0.60 of limit: {ratio:.2f} "
                f"{'ok' if ratio >= 0.6 else 'MISSED'}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
