"""Erasure-coding an encrypted segment window by window, and streaming each piece to its node.

A segment's ciphertext (encrypted in one call, padded to whole stripes) is coded in
**windows** of consecutive stripes rather than all at once: the code is linear per stripe
(see :mod:`erasure.segment`), so window ``[s0, s1)`` of every piece is stripes
``[s0, s1)``'s shares, and the pieces are the windows' slices one after the other. Each
piece's upload is one HTTP PUT whose body is fed from a :class:`PieceFeed`, a queue of at
most ``depth`` windows: the encoder stays at most that far ahead of the slowest node it
waits for, so a request holds its ciphertext plus a few windows of pieces (``n / k``
times the window each), never a whole segment's pieces.

A node that keeps the encoder waiting for ``lag_timeout`` seconds while at least
``success`` others keep up is dropped (its upload cancelled): long-tail cancellation
while streaming. Each window's Merkle leaves are hashed as it is coded, so every piece's
root is known when its last byte is queued, before its node answers with a receipt.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import numpy as np

from common.piece_client import LEAF_SIZE_HEADER, ORDER_HEADER, PieceClient, order_header
from erasure import MerkleTree, SegmentLayout, get_backend, piece_tree

from .errors import NodeUnavailable, PieceTransferError
from .types import PieceTarget, UploadedPiece

__all__ = ["PieceFeed", "WindowEncoder", "put_piece_stream"]

Buffer = bytes | bytearray | memoryview


class WindowEncoder:
    """The ``n`` pieces of one encrypted segment, a window of stripes at a time (thread-safe
    only in order: call :meth:`encode` for each window start of :meth:`starts`, one by one)."""

    def __init__(self, layout: SegmentLayout, cipher: np.ndarray, window: int) -> None:
        if len(cipher) != layout.padded_size:
            raise ValueError(f"ciphertext of {len(cipher)} bytes for a padded size of {layout.padded_size}")
        self.layout = layout
        self.cipher = cipher
        self.step = max(1, window // layout.stripe_size)  # stripes per window
        self._fec = get_backend(layout.backend)
        self._leaves: list[list[bytes]] = [[] for _ in range(layout.scheme.total)]

    def starts(self) -> range:
        return range(0, self.layout.stripes, self.step)

    def encode(self, s0: int) -> list[memoryview]:
        """Bytes ``[s0·S, s1·S)`` of every piece, for stripes ``[s0, s1)`` of the window at ``s0``."""
        lay = self.layout
        k, n, s = lay.scheme.k, lay.scheme.total, lay.share_size
        s1 = min(s0 + self.step, lay.stripes)
        stripes = self.cipher[s0 * k * s : s1 * k * s].reshape(s1 - s0, k, s)
        primary = np.ascontiguousarray(stripes.transpose(1, 0, 2)).reshape(k, (s1 - s0) * s)
        coded = self._fec.encode(k, n, [primary[j] for j in range(k)])
        slices = [memoryview(p).cast("B") for p in coded]
        for j, piece in enumerate(slices):
            self._leaves[j].extend(piece_tree(piece, s).levels[0])
        return slices

    def roots(self) -> list[bytes]:
        """Every piece's Merkle root, once every window was encoded."""
        return [MerkleTree(leaves).root for leaves in self._leaves]


@dataclass
class PieceFeed:
    """The windows one piece's upload has yet to send, at most ``depth`` of them."""

    depth: int
    slice_size: int

    def __post_init__(self) -> None:
        self._queue: asyncio.Queue[memoryview | None] = asyncio.Queue(self.depth)
        self.closed = False

    async def put(self, window: memoryview | None) -> None:
        """Queue a window (``None`` ends the body); waits while ``depth`` are queued."""
        if not self.closed:
            await self._queue.put(window)
            if self.closed:  # closed while we waited: nobody will read it
                self.close()

    def close(self) -> None:
        """The upload ended (or was dropped): queue nothing more, let go of what is queued."""
        self.closed = True
        while not self._queue.empty():
            self._queue.get_nowait()

    async def chunks(self) -> AsyncIterator[memoryview]:
        while True:
            window = await self._queue.get()
            if window is None:
                return
            for i in range(0, len(window), self.slice_size):
                yield window[i : i + self.slice_size]
            del window


async def put_piece_stream(
    client: PieceClient, target: PieceTarget, size: int, share_size: int, feed: PieceFeed,
    root: Callable[[], Awaitable[bytes]],
) -> UploadedPiece:  # fmt: skip
    """:meth:`PieceClient.upload` for a piece fed window by window; ``root()`` is awaited
    once the node has answered (it may answer before the last window's leaves are hashed)."""
    headers = {
        ORDER_HEADER: order_header(target.order),
        LEAF_SIZE_HEADER: str(share_size),
        "Content-Length": str(size),
        "Content-Type": "application/octet-stream",
    }
    url = f"{target.address.rstrip('/')}/v1/pieces/{target.piece_id}"
    deadline = client.config.base_timeout + size / client.config.min_rate
    try:
        async with asyncio.timeout(deadline):
            async with client.session.put(url, data=feed.chunks(), headers=headers) as resp:
                body = await PieceClient._json(resp, target.node_id, target.piece_num, target.piece_id)
    except PieceTransferError:
        raise
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise NodeUnavailable(target.node_id, target.piece_num, target.piece_id, _describe(exc)) from None
    finally:
        feed.close()
    return PieceClient._receipt(target, body, size, share_size, await root())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
