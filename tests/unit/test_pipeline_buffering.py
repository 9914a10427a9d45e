"""The uploader's own buffers stay within four segments however large the streamed object.

Deterministic: the nodes are replaced by a coroutine that takes every slice of its piece
and keeps nothing (so only the uploader's buffers are traced), the body is produced fresh
chunk by chunk as a socket would hand it over, and tracemalloc measures the peak.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from common.identity import Identity
from common.messages import Action, OrderLimit, Signed, new_serial, now
from erasure import RedundancyScheme
from gateway.pipeline import BegunSegment, ObjectUploader, PieceClient, PieceTarget, UploadConfig, UploadedPiece
from gateway.pipeline import upload as upload_module
from gateway.pipeline.streaming import PieceFeed

SEGMENT = 4 << 20
SCHEME = RedundancyScheme(2, 3, 4, 6)  # n/k = 3: a segment's pieces are three segments


class _Placer:
    def __init__(self) -> None:
        self.identity = Identity.generate()
        self.nodes = [Identity.generate().id for _ in range(SCHEME.total)]

    async def begin_segment(self, index: int, max_piece_size: int) -> BegunSegment:
        targets = []
        for j in range(SCHEME.total):
            t = now()
            limit = OrderLimit(new_serial(), self.identity.id, self.nodes[j], os.urandom(32).hex(), Action.PUT,
                               max_piece_size, t + 600, t)
            targets.append(PieceTarget(j, self.nodes[j], "http://unused", Signed.sign(self.identity, limit)))
        return BegunSegment(f"token-{index}", SCHEME, targets)


async def _sink(client: PieceClient, target: PieceTarget, size: int, share_size: int, feed: PieceFeed,
                root: Callable[[], Awaitable[bytes]]) -> UploadedPiece:
    """A node that reads its piece slice by slice, as a socket drains, and keeps nothing."""
    got = 0
    try:
        async for chunk in feed.chunks():
            got += len(chunk)
            await asyncio.sleep(0)
    finally:
        feed.close()
    assert got == size
    return UploadedPiece(target.piece_num, target.node_id, target.piece_id, size, await root(), None)  # type: ignore[arg-type]


async def _peak_held_segments() -> float:
    """Stream a 12-segment object through the uploader; its peak traced memory, in segments."""
    upload_module.put_piece_stream = _sink  # type: ignore[assignment]
    count = 12  # a 12-segment object
    block = os.urandom(64 * 1024)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(count * SEGMENT // len(block)):
            yield bytes(block)  # a fresh chunk each time; nothing but the uploader keeps it

    config = UploadConfig(segment_size=SEGMENT, window=SEGMENT // 16)  # as in production: 4 MiB of 64
    up = ObjectUploader(None, _Placer(), os.urandom(32), SCHEME, config=config)  # type: ignore[arg-type]
    up.pieces = type("Pieces", (), {"config": type("Cfg", (), {"upload_slice": 64 * 1024})()})()  # type: ignore[assignment]
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = await up.upload(body())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == count * SEGMENT and len(result.segments) == count
    return (peak - base) / SEGMENT


def test_peak_buffered_bytes_stay_within_four_segments() -> None:
    # tracemalloc sees every thread of the process, so the measurement runs in a process of
    # its own: threads that earlier tests left winding down in this worker cannot add to it.
    code = "import asyncio, tests.unit.test_pipeline_buffering as t; print(asyncio.run(t._peak_held_segments()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    held = float(out.stdout.split()[-1])
    # Whole-segment coding held plaintext, ciphertext, the transposed blocks and n/k = 3
    # segments of pieces for the segment being encoded, plus the previous one's 3: ~8.
    # Windowed: a ciphertext, the next plaintext and a few windows of pieces.
    assert held <= 4, f"the uploader held {held:.2f} segments at its peak"
