"""Streaming upload: body bytes → segments → encrypted, erasure-coded pieces on nodes.

The uploader consumes an async iterator of body chunks and cuts **segments** as bytes
arrive (``segment_size``, 64 MiB by default; the last one short). Each segment then moves
through three stages::

    cut (event loop)  →  hash + encrypt + encode (a thread)  →  place + upload pieces (event loop)

and the stages overlap by exactly one segment: segment *i + 1* is read and encoded while
segment *i*'s pieces travel to their nodes, and segment *i + 2* is not read until segment
*i* has landed. Nothing else is buffered, so a request holds at most about two segments of
plaintext plus two segments' pieces (``n / k`` times the segment) whatever the object's
size — the body's producer simply waits while we are behind (TCP back-pressure).

Per segment, begin-segment at the satellite is sent *before* encoding starts (piece sizes
follow from the layout, which needs only the scheme and the plaintext size), so the
round-trip overlaps the encoding instead of adding to it. Pieces go to all ``n`` targets at
once with **long-tail cancellation** (:func:`common.fanout.long_tail`): as soon as
``success`` nodes have returned a verified receipt the slowest uploads are cancelled.

Hashing (MD5 for the ETag, any requested ``x-amz-checksum-*``) runs on the same thread as
the encoding, segment by segment and in order, so the event loop never hashes a large
buffer. Objects whose ciphertext fits the **inline threshold** (4 KiB and its tag) become one inline
segment: encrypted as a single block and stored by the satellite, no pieces.

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

from common.fanout import long_tail
from erasure import (
    TAG_SIZE,
    EncodedSegment,
    RedundancyScheme,
    SegmentLayout,
    encode_segment,
    encrypt_segment,
    new_segment_key,
    wrap_key,
)

from .errors import NotEnoughPieces, PieceTransferError, PipelineError
from .piece_client import PieceClient
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
class _Encoded:
    index: int
    segment_id: bytes
    wrapped_key: bytes
    encoded: EncodedSegment


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
                    segments.append(await asyncio.to_thread(self._inline, plain))
                    break
                encoded, begun = await self._prepare(index, plain)
                del plain  # the pieces are all we keep of this segment from here on
                if uploading is not None:
                    segments.append(await uploading)
                    uploading = None
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

    async def _prepare(self, index: int, plain: bytes) -> tuple[_Encoded, BegunSegment]:
        """Begin segment ``index`` at the satellite while it is hashed and encoded."""
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

    async def _cut(self, body: AsyncIterable[bytes]) -> AsyncIterator[tuple[bytes, bool]]:
        """Yield ``(segment plaintext, body ended)``; an empty body is one empty segment."""
        limit = self.config.segment_size
        chunks: list[bytes | memoryview] = []
        filled = 0
        emitted = False
        async for chunk in body:
            mv = memoryview(chunk).cast("B")
            while len(mv):
                take = min(len(mv), limit - filled)
                chunks.append(mv[:take])
                filled += take
                mv = mv[take:]
                if filled == limit:
                    data = b"".join(chunks)
                    chunks.clear()
                    filled = 0
                    emitted = True
                    yield data, False
                    del data
        if filled or not emitted:
            data = b"".join(chunks)
            chunks.clear()
            yield data, True

    def _fits_inline(self, plain_size: int) -> bool:
        return plain_size + TAG_SIZE <= self.config.inline_threshold

    def _layout(self, plain_size: int, scheme: RedundancyScheme) -> SegmentLayout:
        return SegmentLayout.for_segment(scheme, plain_size, share_size=self.config.share_size)

    def _hash(self, data: bytes) -> None:
        for h in self.hashers:
            h.update(data)

    def _inline(self, plain: bytes) -> SegmentUpload:
        self._hash(plain)
        return encrypt_inline(self.bucket_key, plain)

    def _encode(self, index: int, plain: bytes, scheme: RedundancyScheme, *, hashed: bool = False) -> _Encoded:
        if not hashed:
            self._hash(plain)
        key, segment_id = new_segment_key(), os.urandom(SEGMENT_ID_SIZE)
        encoded = encode_segment(plain, scheme, key, segment_id, share_size=self.config.share_size)
        return _Encoded(index, segment_id, wrap_key(self.bucket_key, key), encoded)

    async def _land(self, enc: _Encoded, begun: BegunSegment) -> SegmentUpload:
        layout = enc.encoded.layout
        scheme = begun.scheme
        targets = [t for t in begun.targets if 0 <= t.piece_num < scheme.total]
        pieces, roots, share = enc.encoded.pieces, enc.encoded.roots, layout.share_size
        jobs = [
            (lambda t=t: self.pieces.upload(t, pieces[t.piece_num], share, roots[t.piece_num]))
            for t in targets
        ]
        result = await long_tail(jobs, scheme.success)
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
