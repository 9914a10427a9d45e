"""Streaming upload: body bytes → segments → encrypted, erasure-coded pieces on nodes.

The uploader consumes an async iterator of body chunks and cuts **segments** as bytes
arrive (``segment_size``, 64 MiB by default; the last one short), copying each chunk once
into the segment's buffer. Each segment then moves through three stages::

    cut (event loop)  →  hash + encrypt (a thread)  →  code + stream pieces (window by window)

Encryption is one call over the segment into a buffer padded to whole stripes, and the
plaintext is let go as soon as it returns. The pieces are then produced a **window** of
stripes at a time (:mod:`~gateway.pipeline.streaming`) and streamed to all ``n`` nodes at
once, each node at most a few windows behind the encoder. Segment *i + 1* is cut while
segment *i* streams, and encrypted once segment *i* has landed (and segment *i + 2* is not
read before that), so a request holds at most two segments — the ciphertext being
streamed and the next plaintext, or a plaintext and its ciphertext — plus a few windows
of pieces, whatever the object's size: the body's producer simply waits while we are
behind (TCP back-pressure). Encrypting after the previous segment has landed costs a few
percent of throughput (AES-GCM runs at over 1 GB/s per core) and saves a segment.

Per segment, begin-segment at the satellite is sent *before* encryption starts (piece
sizes follow from the layout, which needs only the scheme and the plaintext size), so the
round-trip overlaps the encryption instead of adding to it. **Long-tail cancellation**: a
node that lags a whole queue behind while ``success`` others keep up is dropped during
the streaming, and once ``success`` nodes have returned a verified receipt the slowest
uploads are cancelled (:func:`common.fanout.long_tail`).

Hashing (MD5 for the ETag, any requested ``x-amz-checksum-*``) runs on the same thread as
the encryption, segment by segment and in order, so the event loop never hashes a large
buffer. Objects whose ciphertext fits the **inline threshold** (4 KiB and its tag) become
one inline segment: encrypted as a single block and stored by the satellite, no pieces.

The uploader never commits. It returns :class:`SegmentUpload` values and the caller
commits them after its own checks (checksums, declared length); an exception anywhere —
the body, a hash mismatch found by the caller, too few pieces — therefore leaves nothing
visible, and the pieces already sent are orphans for garbage collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from common.fanout import long_tail
from erasure import (
    TAG_SIZE,
    RedundancyScheme,
    SegmentLayout,
    encrypt_segment,
    new_segment_key,
    wrap_key,
)

from .buffers import SEGMENT_BUFFERS
from .errors import NotEnoughPieces, PieceTransferError, PipelineError
from .piece_client import PieceClient
from .streaming import PieceFeed, WindowEncoder, put_piece_stream
from .types import BegunSegment, SegmentPlacer, SegmentUpload, UploadedPiece

__all__ = [
    "DEFAULT_INLINE_THRESHOLD",
    "DEFAULT_SEGMENT_SIZE",
    "SEGMENT_ID_SIZE",
    "Hasher",
    "ObjectUploader",
    "UploadConfig",
    "UploadResult",
    "encrypt_inline",
    "max_piece_size",
]

DEFAULT_SEGMENT_SIZE = 64 * 2**20
DEFAULT_INLINE_THRESHOLD = 4096 + TAG_SIZE  # 4 KiB of plaintext and its tag (the satellite agrees)
SEGMENT_ID_SIZE = 16
# Segments start as a list of chunks up to this size, then get a whole segment's buffer.
_SMALL = 1 << 20
# An inline segment is one encryption block; any block size above the threshold keeps it one.
INLINE_BLOCK_SIZE = 1 << 20


class Hasher(Protocol):
    """Anything fed the body in order: hashlib objects, the S3 layer's checksum set."""

    def update(self, data: bytes | bytearray | memoryview, /) -> None: ...


@dataclass(frozen=True)
class UploadConfig:
    """Segment size and inline threshold; tests shrink the segment size."""

    segment_size: int = DEFAULT_SEGMENT_SIZE
    inline_threshold: int = DEFAULT_INLINE_THRESHOLD
    share_size: int | None = None  # None: the layout picks it (erasure.segment prose)
    window: int = 4 * 2**20  # ciphertext coded and queued per step (each piece gets 1/k of it)
    window_depth: int = 2  # windows queued per piece: how far the encoder may run ahead of a node
    lag_timeout: float = 2.0  # a node that holds the encoder back this long is dropped if others suffice

    def __post_init__(self) -> None:
        if self.segment_size <= self.inline_threshold:
            raise ValueError("the segment size must exceed the inline threshold")


@dataclass(frozen=True)
class UploadResult:
    """What an upload produced: the segments to commit, in order, and the object's size."""

    segments: list[SegmentUpload]
    size: int


def encrypt_inline(bucket_key: bytes, plaintext: bytes) -> SegmentUpload:
    """One inline segment: the plaintext encrypted as a single block under a fresh key."""
    key, segment_id = new_segment_key(), os.urandom(SEGMENT_ID_SIZE)
    cipher = bytes(encrypt_segment(key, segment_id, plaintext, INLINE_BLOCK_SIZE))
    return SegmentUpload(
        index=0,
        plain_size=len(plaintext),
        encrypted_size=len(cipher),
        segment_id=segment_id,
        wrapped_key=wrap_key(bucket_key, key),
        inline_data=cipher,
    )


def max_piece_size(plain_size: int) -> int:
    """A piece size no scheme exceeds for this segment: ``k = 1`` puts all of it in one piece.

    Larger ``k`` splits the ciphertext ``k`` ways and never has more tags (its encryption
    blocks are at least as large), so its pieces are smaller.
    """
    one = RedundancyScheme(1, 1, 1, 1)
    return SegmentLayout.for_segment(one, plain_size).piece_size


@dataclass
class _Encrypted:
    """A segment's ciphertext, zero-padded to whole stripes of its layout."""

    index: int
    segment_id: bytes
    wrapped_key: bytes
    layout: SegmentLayout
    cipher: np.ndarray


class ObjectUploader:
    """Uploads one object (or one multipart part) through the pipeline.

    ``scheme`` is the bucket policy's redundancy scheme if known, used to size pieces
    before the satellite answers; ``None`` learns it from the first begin-segment (and
    :attr:`scheme` then holds it for the caller to remember). If the satellite places with
    another scheme (the policy changed), the segment is placed and encoded again for it.
    """

    def __init__(
        self,
        pieces: PieceClient,
        placer: SegmentPlacer,
        bucket_key: bytes,
        scheme: RedundancyScheme | None,
        *,
        config: UploadConfig | None = None,
        hashers: Sequence[Hasher] = (),
        allow_inline: bool = True,
    ) -> None:
        self.pieces = pieces
        self.placer = placer
        self.bucket_key = bucket_key
        self.scheme = scheme
        self.config = config or UploadConfig()
        self.hashers = tuple(hashers)
        self.allow_inline = allow_inline

    async def upload(self, body: AsyncIterable[bytes]) -> UploadResult:
        """Read ``body`` to its end and land every segment; raise on any failure."""
        segments: list[SegmentUpload] = []
        size = 0
        uploading: asyncio.Task[SegmentUpload] | None = None
        index = 0
        try:
            async for plain, ended in self._cut(body):
                size += len(plain)
                if index == 0 and ended and self.allow_inline and self._fits_inline(len(plain)):
                    segments.append(self._inline(plain))  # ≤ 4 KiB: cheaper here than a thread hop
                    break
                if uploading is not None:  # the previous ciphertext goes before this one comes
                    segments.append(await uploading)
                    uploading = None
                encoded, begun = await self._prepare(index, plain)
                if isinstance(plain.obj, np.ndarray):  # encrypted and hashed: nothing reads it any more
                    SEGMENT_BUFFERS.give(plain.obj)
                del plain  # the ciphertext is all we keep of this segment from here on
                uploading = asyncio.create_task(self._land(encoded, begun))
                index += 1
            if uploading is not None:
                segments.append(await uploading)
                uploading = None
        finally:
            if uploading is not None and not uploading.done():
                uploading.cancel()
                with contextlib.suppress(BaseException):
                    await uploading
        return UploadResult(segments, size)

    async def _prepare(self, index: int, plain: memoryview) -> tuple[_Encrypted, BegunSegment]:
        """Begin segment ``index`` at the satellite while it is hashed and encrypted."""
        scheme = self.scheme
        if scheme is None:
            # The scheme is still unknown (first segment of a bucket this gateway has not
            # written to): order pieces as large as any scheme makes them, learn it, encode.
            begun = await self.placer.begin_segment(index, max_piece_size(len(plain)))
            self.scheme = begun.scheme
            return await asyncio.to_thread(self._encode, index, plain, begun.scheme), begun
        begin = asyncio.create_task(self.placer.begin_segment(index, self._layout(len(plain), scheme).piece_size))
        try:
            encoded = await asyncio.to_thread(self._encode, index, plain, scheme)
            begun = await begin
        finally:
            if not begin.done():
                begin.cancel()
                with contextlib.suppress(BaseException):
                    await begin
        if begun.scheme != scheme:
            # The bucket's policy changed since its scheme was learned: place and encode again.
            self.scheme = begun.scheme
            layout = self._layout(len(plain), begun.scheme)
            begun = await self.placer.begin_segment(index, layout.piece_size)
            if begun.scheme != layout.scheme:
                raise PipelineError(f"segment {index}: the bucket's redundancy scheme keeps changing; retry")
            encoded = await asyncio.to_thread(self._encode, index, plain, begun.scheme, hashed=True)
        return encoded, begun

    # --- stages ------------------------------------------------------------------------

    async def _cut(self, body: AsyncIterable[bytes]) -> AsyncIterator[tuple[memoryview, bool]]:
        """Yield ``(segment plaintext, body ended)``; an empty body is one empty segment.

        Each chunk is copied once, into the segment's own buffer, and let go: no list of
        chunks and no join holding the segment twice. The first ``_SMALL`` bytes are kept
        as they come (a small object costs its size, not a segment's buffer); past that a
        whole segment's buffer is taken once (from :data:`SEGMENT_BUFFERS`, already faulted
        in when a previous segment gave it back) and filled in place.
        """
        limit = self.config.segment_size
        small: list[bytes | memoryview] = []
        buf: memoryview | None = None
        filled = 0
        emitted = False
        async for chunk in body:
            mv = memoryview(chunk).cast("B")
            while len(mv):
                take = min(len(mv), limit - filled)
                if buf is None and filled + take > _SMALL:
                    buf = memoryview(SEGMENT_BUFFERS.take(limit))
                    buf[:filled] = b"".join(small)
                    small.clear()
                if buf is None:
                    small.append(bytes(mv[:take]))
                else:
                    buf[filled : filled + take] = mv[:take]
                filled += take
                mv = mv[take:]
                if filled == limit:
                    data = buf if buf is not None else memoryview(b"".join(small))
                    buf, filled, emitted = None, 0, True
                    small.clear()
                    yield data, False
                    del data
            del chunk, mv
        if filled or not emitted:
            yield (buf[:filled] if buf is not None else memoryview(b"".join(small))), True

    def _fits_inline(self, plain_size: int) -> bool:
        return plain_size + TAG_SIZE <= self.config.inline_threshold

    def _layout(self, plain_size: int, scheme: RedundancyScheme) -> SegmentLayout:
        return SegmentLayout.for_segment(scheme, plain_size, share_size=self.config.share_size)

    def _hash(self, data: memoryview) -> None:
        for h in self.hashers:
            h.update(data)

    def _inline(self, plain: memoryview) -> SegmentUpload:
        self._hash(plain)
        return encrypt_inline(self.bucket_key, bytes(plain))

    def _encode(self, index: int, plain: memoryview, scheme: RedundancyScheme, *, hashed: bool = False) -> _Encrypted:
        """Hash (once) and encrypt a segment into a buffer padded to whole stripes."""
        if not hashed:
            self._hash(plain)
        key, segment_id = new_segment_key(), os.urandom(SEGMENT_ID_SIZE)
        layout = self._layout(len(plain), scheme)
        cipher = SEGMENT_BUFFERS.take(layout.padded_size)  # every byte is written below
        encrypt_segment(key, segment_id, plain, layout.plain_block_size, out=memoryview(cipher))
        cipher[layout.cipher_size :] = 0  # padding is zeros, as erasure.encode_segment pads
        return _Encrypted(index, segment_id, wrap_key(self.bucket_key, key), layout, cipher)

    async def _land(self, enc: _Encrypted, begun: BegunSegment) -> SegmentUpload:
        layout, scheme, cfg = enc.layout, begun.scheme, self.config
        targets = [t for t in begun.targets if 0 <= t.piece_num < scheme.total]
        encoder = WindowEncoder(layout, enc.cipher, cfg.window)
        cipher = enc.cipher
        del enc.cipher  # the encoder holds it, then the pool (below) or the garbage collector
        roots: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()

        async def root(j: int) -> bytes:
            return (await asyncio.shield(roots))[j]

        feeds = {t.piece_num: PieceFeed(cfg.window_depth, self.pieces.config.upload_slice) for t in targets}
        uploads = {
            t.piece_num: asyncio.create_task(put_piece_stream(
                self.pieces, t, layout.piece_size, layout.share_size, feeds[t.piece_num],
                lambda j=t.piece_num: root(j),
            ))
            for t in targets
        }  # fmt: skip
        try:
            for s0 in encoder.starts():
                slices = await asyncio.to_thread(encoder.encode, s0)
                await self._feed(enc.index, scheme, uploads, {j: (f, slices[j]) for j, f in feeds.items()})
                del slices
            roots.set_result(await asyncio.to_thread(encoder.roots))
            del encoder
            await self._feed(enc.index, scheme, uploads, {j: (f, None) for j, f in feeds.items()})
            result = await long_tail([(lambda u=u: u) for u in uploads.values()], scheme.success)
        except BaseException:
            del cipher  # an encoding thread may still read it: it is not reused
            raise
        finally:
            for u in uploads.values():
                u.cancel()
            await asyncio.gather(*uploads.values(), return_exceptions=True)
            if not roots.done():
                roots.cancel()
        if scheme.k > 1:
            # Every window was coded (the threads returned) into copies (k > 1: the transpose
            # copies), and every upload has ended: nothing refers to the ciphertext any more.
            SEGMENT_BUFFERS.give(cipher)
        del cipher
        landed: list[UploadedPiece] = sorted(result.succeeded.values(), key=lambda p: p.piece_num)
        if len(landed) < scheme.success:
            failures = [e for e in result.failed.values() if isinstance(e, PieceTransferError)]
            unexpected = [e for e in result.failed.values() if not isinstance(e, PieceTransferError)]
            if unexpected:  # a bug, not a node: surface it rather than a count
                raise unexpected[0]
            raise NotEnoughPieces(f"upload of segment {enc.index}", len(landed), scheme.success, failures)
        return SegmentUpload(
            index=enc.index,
            plain_size=layout.plain_size,
            encrypted_size=layout.cipher_size,
            segment_id=enc.segment_id,
            wrapped_key=enc.wrapped_key,
            layout=layout,
            token=begun.token,
            pieces=tuple(landed),
        )

    async def _feed(
        self, index: int, scheme: RedundancyScheme, uploads: dict[int, asyncio.Task[UploadedPiece]],
        items: dict[int, tuple[PieceFeed, memoryview | None]],
    ) -> None:  # fmt: skip
        """Queue one window (or the end) for every upload still running.

        Waits while a node's queue is full; one that stays full for ``lag_timeout`` is
        dropped when the others still running are enough to land the segment."""
        puts = {j: asyncio.ensure_future(f.put(w)) for j, (f, w) in items.items() if not uploads[j].done()}
        try:
            # An upload that ends closes its feed, which completes its put: none waits forever.
            pending = set(puts.values())
            while pending:
                _, pending = await asyncio.wait(pending, timeout=self.config.lag_timeout)
                laggards = [j for j, p in puts.items() if p in pending]
                running = sum(1 for u in uploads.values() if not u.done())
                if laggards and running - len(laggards) >= scheme.success:
                    for j in laggards:
                        uploads[j].cancel()
        finally:
            for p in puts.values():
                p.cancel()
