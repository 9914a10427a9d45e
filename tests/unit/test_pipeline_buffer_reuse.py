"""Segment buffers are reused from one segment and one object to the next, and a reused
buffer never leaks one object's bytes into another's pieces.

The nodes are replaced by a coroutine that keeps a copy of every piece it is sent, so the
pieces can be decoded with the erasure codec afterwards and compared with what was sent.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from erasure import decode_segment, unwrap_key
from gateway.pipeline import ObjectUploader, PieceClient, PieceTarget, UploadConfig, UploadedPiece
from gateway.pipeline import upload as upload_module
from gateway.pipeline.buffers import SEGMENT_BUFFERS, BufferPool
from gateway.pipeline.streaming import PieceFeed
from tests.unit.test_pipeline_buffering import SCHEME, _Placer  # the same fake satellite (scheme 2/3/4/6)

SEGMENT = SEGMENT_BUFFERS.min_size  # the smallest segment whose buffers are pooled


def _keeping_sink(kept: dict[str, bytes]) -> Callable[..., Awaitable[UploadedPiece]]:
    async def sink(client: PieceClient, target: PieceTarget, size: int, share_size: int, feed: PieceFeed,
                   root: Callable[[], Awaitable[bytes]]) -> UploadedPiece:  # fmt: skip
        parts = []
        try:
            async for chunk in feed.chunks():
                parts.append(bytes(chunk))
        finally:
            feed.close()
        kept[target.piece_id] = b"".join(parts)
        return UploadedPiece(target.piece_num, target.node_id, target.piece_id, size, await root(), None)  # type: ignore[arg-type]

    return sink


async def _upload(body: bytes, bucket_key: bytes, kept: dict[str, bytes]) -> list[bytes]:
    """Upload ``body``; the plaintext of each segment, decoded from the pieces the nodes got."""

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 1 << 20):
            yield body[i : i + (1 << 20)]

    up = ObjectUploader(None, _Placer(), bucket_key, SCHEME, config=UploadConfig(segment_size=SEGMENT))  # type: ignore[arg-type]
    up.pieces = type("Pieces", (), {"config": type("Cfg", (), {"upload_slice": 1 << 20})()})()  # type: ignore[assignment]
    result = await up.upload(chunks())
    out = []
    for seg in result.segments:
        assert seg.layout is not None
        pieces = {p.piece_num: kept[p.piece_id] for p in seg.pieces}
        roots = {p.piece_num: p.root for p in seg.pieces}
        out.append(bytes(decode_segment(seg.layout, unwrap_key(bucket_key, seg.wrapped_key), seg.segment_id,
                                        dict(list(pieces.items())[-SCHEME.k :]), roots=roots)))  # fmt: skip
    return out


def test_consecutive_objects_reuse_segment_buffers_and_each_decodes_to_its_own_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kept: dict[str, bytes] = {}
    monkeypatch.setattr(upload_module, "put_piece_stream", _keeping_sink(kept))
    fresh = 0
    take = BufferPool.take

    def counting_take(self: BufferPool, size: int) -> np.ndarray:
        nonlocal fresh
        buf = take(self, size)
        fresh += buf.base is None and size >= self.min_size
        return buf

    monkeypatch.setattr(BufferPool, "take", counting_take)
    SEGMENT_BUFFERS.trim(now=float("inf"))  # start from an empty pool
    key = os.urandom(32)
    first = os.urandom(2 * SEGMENT + 12345)  # two whole segments and a short one
    second = os.urandom(2 * SEGMENT)
    got_first = asyncio.run(_upload(first, key, kept))
    got_second = asyncio.run(_upload(second, key, kept))
    assert b"".join(got_first) == first
    assert b"".join(got_second) == second
    # One plaintext and one ciphertext buffer serve every whole segment of both objects
    # (the short last segment's buffers are below the pooled size or fit a pooled one).
    assert fresh == 2


def test_a_buffer_is_handed_out_once_until_given_back() -> None:
    pool = BufferPool(max_held=2 << 20, idle=60, min_size=1 << 20)
    a = pool.take(1 << 20)
    a[:] = 7
    pool.give(a)
    b = pool.take(1 << 20)
    c = pool.take(1 << 20)
    assert np.shares_memory(a, b)  # reused, already faulted in
    assert not np.shares_memory(b, c)  # never two holders at once
    pool.give(b)
    pool.give(b)  # giving back twice keeps one entry
    assert pool.held() == 1 << 20


def test_the_pool_holds_at_most_max_held_bytes_and_lets_idle_ones_go() -> None:
    pool = BufferPool(max_held=2 << 20, idle=30, min_size=1 << 20)
    bufs = [pool.take(1 << 20) for _ in range(3)]
    for buf in bufs:
        pool.give(buf)
    assert pool.held() == 2 << 20
    pool.trim(now=float("inf"))
    assert pool.held() == 0


def test_small_requests_and_far_larger_buffers_are_not_pooled() -> None:
    pool = BufferPool(max_held=2 << 20, idle=30, min_size=1 << 20)
    pool.give(pool.take(1 << 10))
    assert pool.held() == 0
    big = pool.take(4 << 20)
    pool.give(big)
    small = pool.take(1 << 20)  # a 4 MiB buffer is more than twice what is asked
    assert not np.shares_memory(big, small)


def test_buffers_given_back_on_an_event_loop_are_let_go_once_idle() -> None:
    pool = BufferPool(max_held=4 << 20, idle=0.05, min_size=1 << 20)

    async def main() -> int:
        pool.give(pool.take(1 << 20))
        held_at_first = pool.held()
        async with asyncio.timeout(10):
            while pool.held():  # the pool's own timer lets it go; nothing else calls trim
                await asyncio.sleep(0.01)
        return held_at_first

    assert asyncio.run(main()) == 1 << 20
    assert pool.held() == 0


def test_with_pooled_segment_buffers_the_uploader_still_holds_at_most_four_segments() -> None:
    # test_pipeline_buffering's measurement, with segments large enough to come from the pool
    # (its own 4 MiB segments are below the pooled size): free buffers count as held.
    code = (
        "import asyncio, tests.unit.test_pipeline_buffering as t; t.SEGMENT = 16 << 20; "
        "print(asyncio.run(t._peak_held_segments()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert out.returncode == 0, out.stderr
    held = float(out.stdout.split()[-1])
    assert held <= 4, f"the uploader held {held:.2f} segments at its peak"
