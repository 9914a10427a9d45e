"""Moving one piece to or from one storage node (the node protocol, client side).

The gateway uploads and reads pieces with it; the satellite's repairer (and graceful exit)
uses the same code with REPAIR_GET / REPAIR_PUT orders, which is why it lives in
``common`` and not in the gateway. It depends only on ``common`` and the pure ``erasure``
package (for the layout and the Merkle range check).

Uploads stream the piece in slices with ``Content-Length`` declared up front (the node
refuses a body of unknown size), so each slice is written only when the socket drains:
a slow node holds back its own upload, not the gateway's memory. The node's answer is a
signed receipt, and it is checked here, before anyone relies on it: signed by the node the
order names, for that piece and serial, of the size we sent, and with the Merkle root we
computed while encoding. A node that names another root is caught at upload time rather
than at commit.

Downloads ask for a leaf-aligned byte range with a Merkle range proof and verify the
bytes against the root the satellite stored before returning them: a corrupt share raises
:class:`BadShare` naming the node and piece and never reaches the decoder.

Every transfer has a deadline of ``base + bytes / min_rate`` seconds: generous for a
healthy node, finite for a stalled one. Errors are typed: one
hierarchy under :class:`PieceTransferError`, each naming the node, piece number and piece id.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import numpy as np

from common.errors import GeoshardError
from common.messages import OrderLimit, PieceReceipt, Signed
from common.observability.requestid import propagating_trace_config
from erasure import SegmentLayout, verify_piece_range
from erasure.segment import verify_share_rows

__all__ = [
    "BadReceipt",
    "BadShare",
    "NodeRefused",
    "NodeUnavailable",
    "PieceClient",
    "PieceClientConfig",
    "PieceSource",
    "PieceTarget",
    "PieceTransferError",
    "UploadedPiece",
    "order_header",
]


# --- errors ------------------------------------------------------------------------------


class PieceTransferError(GeoshardError):
    """A transfer of one piece with one node failed."""

    def __init__(self, node_id: str, piece_num: int, piece_id: str, message: str) -> None:
        self.node_id = node_id
        self.piece_num = piece_num
        self.piece_id = piece_id
        self.detail = message
        super().__init__(f"piece {piece_num} ({piece_id[:12]}…) on node {node_id[:12]}…: {message}")


class NodeUnavailable(PieceTransferError):
    """The node could not be reached, dropped the connection or exceeded its time."""


class NodeRefused(PieceTransferError):
    """The node answered with an error; ``status`` and ``code`` are what it sent."""

    def __init__(
        self, node_id: str, piece_num: int, piece_id: str, status: int, code: str, message: str
    ) -> None:
        self.status = status
        self.code = code
        super().__init__(node_id, piece_num, piece_id, f"HTTP {status} {code}: {message}")


class BadShare(PieceTransferError):
    """Bytes a node served do not match the piece's Merkle root: never decoded, reported."""


class BadReceipt(PieceTransferError):
    """A node's upload receipt is unsigned, signed by someone else, or names other bytes."""


# --- what a transfer needs and returns ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PieceTarget:
    """Where piece ``piece_num`` of a begun segment goes, with the satellite's PUT order."""

    piece_num: int
    node_id: str
    address: str
    order: Signed[OrderLimit]

    @property
    def piece_id(self) -> str:
        return self.order.message.piece_id


@dataclass(frozen=True, slots=True)
class UploadedPiece:
    """A piece that landed: the node's signed receipt names the root we computed."""

    piece_num: int
    node_id: str
    piece_id: str
    size: int
    root: bytes
    receipt: Signed[PieceReceipt]


@dataclass(frozen=True, slots=True)
class PieceSource:
    """One stored piece of a segment and the satellite's GET order to read it."""

    piece_num: int
    node_id: str
    address: str
    order: Signed[OrderLimit]
    root: bytes

    @property
    def piece_id(self) -> str:
        return self.order.message.piece_id


Buffer = bytes | bytearray | memoryview

ORDER_HEADER = "Geoshard-Order-Limit"
LEAF_SIZE_HEADER = "Geoshard-Leaf-Size"
PROOF_HEADER = "Geoshard-Merkle-Proof"
_HASH = 32
# Below this many bytes, hashing on the event loop costs less than a thread hop.
_INLINE_VERIFY = 256 * 1024
# Socket reads of a piece download: aiohttp's 64 KiB default pauses and resumes the
# transport every 128 KiB and hands the parser many small chunks.
_READ_BUFSIZE = 1 << 20


def order_header(signed: Signed[OrderLimit]) -> str:
    """The ``Geoshard-Order-Limit`` value: base64 of the signed envelope's JSON."""
    return base64.b64encode(signed.dumps().encode()).decode("ascii")


@dataclass(frozen=True)
class PieceClientConfig:
    """Timeouts and slicing; production defaults, shortened by tests."""

    connect_timeout: float = 5.0
    # A transfer may take base_timeout + bytes / min_rate seconds before it counts as stalled.
    base_timeout: float = 10.0
    min_rate: float = 1 << 20
    upload_slice: int = 256 * 1024
    max_connections: int = 512


class PieceClient:
    """Uploads and downloads pieces over one pooled HTTP session."""

    def __init__(self, session: aiohttp.ClientSession, config: PieceClientConfig | None = None) -> None:
        self.session = session
        self.config = config or PieceClientConfig()
        self._order_headers: dict[bytes, str] = {}

    @classmethod
    def new_session(cls, config: PieceClientConfig | None = None) -> aiohttp.ClientSession:
        """A session sized for fan-out: many connections per node, no total timeout."""
        cfg = config or PieceClientConfig()
        connector = aiohttp.TCPConnector(limit=cfg.max_connections, limit_per_host=0, ttl_dns_cache=300)
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, connect=cfg.connect_timeout),
            auto_decompress=False,
            read_bufsize=_READ_BUFSIZE,
            trace_configs=[propagating_trace_config()],  # the S3 request id travels to the nodes
        )

    def _order_header(self, order: Signed[OrderLimit]) -> str:
        # A GET order is sent once per window of a segment: encode it once.
        cache = self._order_headers
        value = cache.get(order.signature)
        if value is None:
            if len(cache) >= 4096:
                cache.clear()
            value = cache[order.signature] = order_header(order)
        return value

    def _deadline(self, nbytes: int) -> float:
        return self.config.base_timeout + nbytes / self.config.min_rate

    # --- upload ------------------------------------------------------------------------

    async def upload(self, target: PieceTarget, data: Buffer, share_size: int, root: bytes) -> UploadedPiece:
        """Store ``data`` as piece ``target.piece_num`` and return its verified receipt."""
        size = len(data)
        headers = {
            ORDER_HEADER: order_header(target.order),
            LEAF_SIZE_HEADER: str(share_size),
            "Content-Length": str(size),
            "Content-Type": "application/octet-stream",
        }
        url = f"{target.address.rstrip('/')}/v1/pieces/{target.piece_id}"
        try:
            async with asyncio.timeout(self._deadline(size)):
                async with self.session.put(url, data=self._slices(data), headers=headers) as resp:
                    body = await self._json(resp, target.node_id, target.piece_num, target.piece_id)
        except PieceTransferError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise NodeUnavailable(target.node_id, target.piece_num, target.piece_id, _describe(exc)) from None
        return self._receipt(target, body, size, share_size, root)

    async def _slices(self, data: Buffer) -> AsyncIterator[memoryview]:
        mv = memoryview(data).cast("B")
        step = self.config.upload_slice
        for i in range(0, len(mv), step):
            yield mv[i : i + step]

    @staticmethod
    def _receipt(target: PieceTarget, body: Any, size: int, share_size: int, root: bytes) -> UploadedPiece:
        def bad(why: str) -> BadReceipt:
            return BadReceipt(target.node_id, target.piece_num, target.piece_id, why)

        if not isinstance(body, dict) or "receipt" not in body:
            raise bad("the answer carries no receipt")
        try:
            signed = Signed.from_json(body["receipt"], PieceReceipt)
            receipt = signed.verify(expected_signer=target.node_id)
        except GeoshardError as exc:
            raise bad(f"receipt does not verify: {exc}") from None
        order = target.order.message
        if receipt.piece_id != order.piece_id or receipt.serial != order.serial:
            raise bad("receipt names another piece or order")
        if receipt.size != size or receipt.leaf_size != share_size:
            raise bad(
                f"receipt says {receipt.size} bytes in leaves of {receipt.leaf_size}; "
                f"we sent {size} in leaves of {share_size}"
            )
        if receipt.merkle_root != root:
            raise bad("receipt's Merkle root differs from the one computed while encoding")
        return UploadedPiece(target.piece_num, target.node_id, order.piece_id, size, root, signed)

    # --- download ----------------------------------------------------------------------

    async def download(
        self, source: PieceSource, layout: SegmentLayout, stripe_start: int, stripe_stop: int
    ) -> bytes:
        """The shares of stripes ``[stripe_start, stripe_stop)`` of a piece, proven against its root."""
        s = layout.share_size
        offset, length = stripe_start * s, (stripe_stop - stripe_start) * s
        url = f"{source.address.rstrip('/')}/v1/pieces/{source.piece_id}"
        params = {"offset": str(offset), "length": str(length), "proof": "1"}
        headers = {ORDER_HEADER: self._order_header(source.order)}
        try:
            async with asyncio.timeout(self._deadline(length)):
                async with self.session.get(url, params=params, headers=headers) as resp:
                    if resp.status != 200:
                        await self._json(resp, source.node_id, source.piece_num, source.piece_id)
                    proof_text = resp.headers.get(PROOF_HEADER, "")
                    if resp.content_length != length:  # also bounds what read() takes in
                        raise BadShare(
                            source.node_id, source.piece_num, source.piece_id,
                            f"answers {resp.content_length} bytes for a range of {length}",
                        )
                    data = await resp.read()
        except PieceTransferError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise NodeUnavailable(source.node_id, source.piece_num, source.piece_id, _describe(exc)) from None

        def bad(why: str) -> BadShare:
            return BadShare(source.node_id, source.piece_num, source.piece_id, why)

        if len(data) != length:
            raise bad(f"served {len(data)} bytes for a range of {length}")
        proof = self._proof(proof_text, bad)
        if length > _INLINE_VERIFY:
            ok = await asyncio.to_thread(verify_piece_range, layout, source.root, stripe_start, data, proof)
        else:
            ok = verify_piece_range(layout, source.root, stripe_start, data, proof)
        if not ok:
            raise bad(f"stripes [{stripe_start}, {stripe_stop}) do not match the piece's Merkle root")
        return data

    async def download_into(
        self, source: PieceSource, layout: SegmentLayout, stripe_start: int, stripe_stop: int, rows: np.ndarray
    ) -> None:
        """:meth:`download`, written straight into ``rows`` (``(stripes, share_size)`` bytes).

        The rows may be strided — a reader passes column ``j`` of a stripe buffer, so the
        primary pieces land as the stripes' ciphertext in order and need neither a join of
        the response's chunks nor a transpose. The shares are verified where they land;
        on any error ``rows`` holds garbage.
        """
        s = layout.share_size
        count = stripe_stop - stripe_start
        if rows.shape != (count, s) or rows.dtype != np.uint8:
            raise ValueError(f"rows of shape {rows.shape} for {count} shares of {s} bytes")
        length = count * s

        def bad(why: str) -> BadShare:
            return BadShare(source.node_id, source.piece_num, source.piece_id, why)

        url = f"{source.address.rstrip('/')}/v1/pieces/{source.piece_id}"
        params = {"offset": str(stripe_start * s), "length": str(length), "proof": "1"}
        headers = {ORDER_HEADER: self._order_header(source.order)}
        try:
            async with asyncio.timeout(self._deadline(length)):
                async with self.session.get(url, params=params, headers=headers) as resp:
                    if resp.status != 200:
                        await self._json(resp, source.node_id, source.piece_num, source.piece_id)
                    proof_text = resp.headers.get(PROOF_HEADER, "")
                    if resp.content_length != length:
                        raise bad(f"answers {resp.content_length} bytes for a range of {length}")
                    pos = 0
                    # iter_chunks hands over the parser's chunks one by one; iter_any
                    # would join whatever is buffered into a new bytes first.
                    async for chunk, _ in resp.content.iter_chunks():
                        if pos + len(chunk) > length:
                            raise bad(f"served more than the {length} bytes of its range")
                        _scatter(rows, pos, chunk)
                        pos += len(chunk)
        except PieceTransferError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise NodeUnavailable(source.node_id, source.piece_num, source.piece_id, _describe(exc)) from None
        if pos != length:
            raise bad(f"served {pos} bytes for a range of {length}")
        proof = self._proof(proof_text, bad)
        if length > _INLINE_VERIFY:
            ok = await asyncio.to_thread(verify_share_rows, layout, source.root, stripe_start, rows, proof)
        else:
            ok = verify_share_rows(layout, source.root, stripe_start, rows, proof)
        if not ok:
            raise bad(f"stripes [{stripe_start}, {stripe_stop}) do not match the piece's Merkle root")

    # --- helpers -----------------------------------------------------------------------

    @staticmethod
    def _proof(text: str, bad: Any) -> list[bytes]:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise bad("the Merkle proof header is not base64") from None
        if len(raw) % _HASH:
            raise bad("the Merkle proof is not a whole number of hashes")
        return [raw[i : i + _HASH] for i in range(0, len(raw), _HASH)]

    @staticmethod
    async def _json(resp: aiohttp.ClientResponse, node_id: str, num: int, piece_id: str) -> Any:
        raw = await resp.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if resp.status != 200:
            code, message = "HTTPError", raw[:200].decode("utf-8", "replace")
            if isinstance(body, dict):
                code = str(body.get("error", code))
                message = str(body.get("message", message))
            raise NodeRefused(node_id, num, piece_id, resp.status, code, message)
        return body


def _scatter(rows: np.ndarray, pos: int, chunk: bytes) -> None:
    """Copy ``chunk``, bytes ``[pos, pos + len(chunk))`` of the rows read in order, into them:
    a partial row, whole rows in one numpy assignment, a partial row."""
    s = rows.shape[1]
    src = np.frombuffer(chunk, dtype=np.uint8)
    n, i = len(src), 0
    r, o = divmod(pos, s)
    if o:
        i = min(s - o, n)
        rows[r, o : o + i] = src[:i]
        r += 1
    whole = (n - i) // s
    if whole:
        rows[r : r + whole] = src[i : i + whole * s].reshape(whole, s)
        i += whole * s
        r += whole
    if i < n:
        rows[r, : n - i] = src[i:]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
