"""Streaming download: a plaintext byte range → verified shares from ``k`` nodes → bytes.

The caller passes the segments get-object returned (each with its layout, wrapped key,
nonce and one GET order per stored piece) and the object range to read. Each segment's
part of the range is read in **windows** of whole encryption blocks (``window`` bytes of
plaintext, 16 MiB in ``gateway run``; the first window of a longer range is a quarter of
that, so the first byte leaves sooner): a window maps to a stripe range (see
:mod:`erasure.segment`), so a ranged GET fetches only the stripes it needs, and memory
stays at a few windows however large the object. The next windows are fetched while
the current one is sent to the client (``prefetch`` windows ahead). Each window costs every
node it reads from one request, whose fixed part (order check, proof, bookkeeping: about
1.5 ms on a node) is why windows are large.

A window asks ``k`` nodes for its stripes, preferring the **systematic** pieces
``0 … k-1``: when they all answer there is nothing to decode. Each primary piece's bytes
are written as they arrive into its column of one stripe buffer
(:func:`erasure.segment.stripe_buffer`), so the buffer *is* the window's ciphertext in
order: no join of the response's chunks, no transpose. The shares are Merkle-checked in
place, the blocks decrypted (both in threads), and the plaintext goes to the client as a
view of the decrypted buffer. Only when a parity piece stands in are the pieces copied
out and decoded. A node that
fails (unreachable, refuses, serves a bad share) is replaced at once by the next piece; a
node that lags — no answer from anyone for ``spare_after`` seconds — gets a **spare**
request raced against it, and whichever ``k`` finish first win; the rest are cancelled
(the node refunds the unsent bytes to the order). Every share is checked against its
piece's Merkle root by :class:`~gateway.pipeline.piece_client.PieceClient` before it can
reach the decoder; a node that served a bad share is reported to the satellite and not
asked again for this object.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from erasure import DecryptionError, ErasureError, SegmentLayout, decrypt_blocks, unwrap_key
from erasure.segment import decode_range_view, decrypt_stripes, stripe_buffer

from .errors import BadShare, NotEnoughPieces, PieceTransferError, PipelineDataError
from .piece_client import PieceClient
from .types import BadPieceReporter, PieceSource, SegmentSource
from .upload import INLINE_BLOCK_SIZE

__all__ = ["DownloadConfig", "ObjectDownloader"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadConfig:
    window: int = 16 * 2**20
    spare_after: float = 1.0
    prefetch: int = 2  # windows fetched and decrypted ahead of the one being sent
    report_timeout: float = 5.0


@dataclass(frozen=True)
class _Window:
    segment: SegmentSource
    state: _SegmentState
    offset: int  # within the segment
    length: int


@dataclass
class _SegmentState:
    key: bytes
    bad: set[int] = field(default_factory=set)


class ObjectDownloader:
    """Streams plaintext ranges of one object's segments."""

    def __init__(
        self,
        pieces: PieceClient,
        bucket_key: bytes,
        *,
        config: DownloadConfig | None = None,
        reporter: BadPieceReporter | None = None,
    ) -> None:
        self.pieces = pieces
        self.bucket_key = bucket_key
        self.config = config or DownloadConfig()
        self.reporter = reporter
        self._reports: set[asyncio.Task[None]] = set()

    async def stream(
        self, segments: Sequence[SegmentSource], offset: int, length: int
    ) -> AsyncIterator[bytes | memoryview]:
        """Yield the plaintext of object bytes ``[offset, offset + length)`` in order.

        Chunks are views of buffers that are never reused: a caller may hold on to them.
        """
        windows = self._windows(segments, offset, length)
        pending: deque[asyncio.Task[bytes | memoryview]] = deque()
        depth = 1 + max(0, self.config.prefetch)
        try:
            for w in windows:
                pending.append(asyncio.create_task(self._read(w)))
                if len(pending) >= depth:
                    data = await pending.popleft()
                    yield data
                    del data
            while pending:
                data = await pending.popleft()
                yield data
                del data
        finally:
            for t in pending:
                if not t.done():
                    t.cancel()
            for t in pending:
                with contextlib.suppress(BaseException):
                    await t
            await self.drain_reports()

    async def read(self, segments: Sequence[SegmentSource], offset: int, length: int) -> bytes:
        """The whole range at once (tests, copies of small objects)."""
        return b"".join([bytes(chunk) async for chunk in self.stream(segments, offset, length)])

    async def drain_reports(self) -> None:
        """Wait for bad-piece reports still in flight (they never fail the read)."""
        if self._reports:
            await asyncio.gather(*self._reports, return_exceptions=True)

    # --- planning ------------------------------------------------------------------------

    def _windows(self, segments: Sequence[SegmentSource], offset: int, length: int) -> Iterator[_Window]:
        end = offset + length
        first = True
        for seg in sorted(segments, key=lambda s: s.offset):
            lo, hi = max(offset, seg.offset), min(end, seg.offset + seg.plain_size)
            if lo >= hi:
                continue
            try:
                state = _SegmentState(unwrap_key(self.bucket_key, seg.wrapped_key))
            except DecryptionError as exc:
                raise PipelineDataError(f"segment {seg.index}: {exc}") from None
            a, b = lo - seg.offset, hi - seg.offset
            if seg.inline_data is not None or seg.layout is None:
                yield _Window(seg, state, a, b - a)
                continue
            pb = seg.layout.plain_block_size
            step = max(1, self.config.window // pb) * pb
            start = a
            while start < b:
                # A range longer than one window starts with a quarter window; one that fits in a
                # window (a client's ranged GET) stays one request per node.
                size = max(pb, step // 4 // pb * pb) if first and b - start > step else step
                first = False
                stop = min(b, (start // pb) * pb + size)
                yield _Window(seg, state, start, stop - start)
                start = stop

    # --- reading -------------------------------------------------------------------------

    async def _read(self, w: _Window) -> bytes | memoryview:
        seg = w.segment
        if seg.inline_data is not None or seg.layout is None:
            return self._inline(w)
        layout = seg.layout
        plan = layout.stripe_range(w.offset, w.length)
        k = layout.scheme.k
        buf = stripe_buffer(layout, plan.stripe_stop - plan.stripe_start)
        shares = await self._fetch(w, layout, plan.stripe_start, plan.stripe_stop, buf)
        try:
            if sorted(shares) == list(range(k)):  # the primaries filled ``buf`` in place
                return await asyncio.to_thread(
                    decrypt_stripes, layout, w.state.key, seg.segment_id, w.offset, w.length, buf
                )
            # A parity piece stands in: decode from contiguous copies of the k pieces.
            pieces = {j: np.ascontiguousarray(rows).reshape(-1) for j, rows in shares.items()}
            return await asyncio.to_thread(
                decode_range_view, layout, w.state.key, seg.segment_id, w.offset, w.length, pieces
            )
        except ErasureError as exc:
            raise PipelineDataError(f"segment {seg.index}: {exc}") from None

    def _inline(self, w: _Window) -> bytes:
        seg = w.segment
        if seg.inline_data is None:
            raise PipelineDataError(f"segment {seg.index} has neither inline data nor a layout")
        try:
            plain = decrypt_blocks(
                w.state.key, seg.segment_id, seg.inline_data,
                first_block=0, total_blocks=1, plain_block_size=INLINE_BLOCK_SIZE,
            )
        except DecryptionError as exc:
            raise PipelineDataError(f"inline segment {seg.index}: {exc}") from None
        return bytes(plain[w.offset : w.offset + w.length])

    async def _fetch(
        self, w: _Window, layout: SegmentLayout, s0: int, s1: int, buf: np.ndarray
    ) -> dict[int, np.ndarray]:
        """``k`` verified share ranges, systematic pieces first, spares for failures and laggards.

        Primary piece ``j`` is written into ``buf[:, j, :]``, a parity piece into rows of its
        own; the answer maps each piece number that arrived whole and verified to its rows.
        """
        k = layout.scheme.k
        candidates = deque(sorted((p for p in w.segment.pieces if p.piece_num not in w.state.bad),
                                  key=lambda p: p.piece_num))
        running: dict[asyncio.Task[None], tuple[PieceSource, np.ndarray]] = {}
        got: dict[int, np.ndarray] = {}
        failures: list[PieceTransferError] = []

        def launch() -> None:
            src = candidates.popleft()
            j = src.piece_num
            rows = buf[:, j, :] if j < k else np.empty((s1 - s0, layout.share_size), dtype=np.uint8)
            task = asyncio.create_task(self.pieces.download_into(src, layout, s0, s1, rows))
            running[task] = (src, rows)

        try:
            while len(got) < k:
                while candidates and len(running) < k - len(got):
                    launch()
                if not running:
                    raise NotEnoughPieces(
                        f"read of segment {w.segment.index}", len(got), k, failures
                    )
                done, _ = await asyncio.wait(
                    running, timeout=self.config.spare_after, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    if candidates:  # someone lags: race a spare against the stragglers
                        launch()
                    continue
                for task in done:
                    src, rows = running.pop(task)
                    exc = task.exception()
                    if exc is None:
                        got[src.piece_num] = rows
                    elif isinstance(exc, PieceTransferError):
                        failures.append(exc)
                        # Windows overlap, so two may catch the same node: report it once.
                        if src.piece_num not in w.state.bad:
                            w.state.bad.add(src.piece_num)
                            log.warning("GET segment %d: %s", w.segment.index, exc)
                            if isinstance(exc, BadShare):
                                self._report(src, w.segment, exc.detail)
                    else:
                        raise exc
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        return got

    def _report(self, src: PieceSource, seg: SegmentSource, reason: str) -> None:
        if self.reporter is None:
            return
        task = asyncio.create_task(self._send_report(src, seg, reason))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _send_report(self, src: PieceSource, seg: SegmentSource, reason: str) -> None:
        reporter = self.reporter
        if reporter is None:
            return
        try:
            async with asyncio.timeout(self.config.report_timeout):
                await reporter.report_bad_piece(src, seg, reason)
        except Exception as exc:  # a lost report must not fail the client's read
            log.warning("could not report bad piece %s of node %s: %s", src.piece_id, src.node_id, exc)
