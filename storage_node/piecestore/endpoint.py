"""The node's HTTP API (documented for clients in ``docs/node-protocol.md``).

The handlers only translate between HTTP and the storage logic: they parse headers and
queries, ask :class:`OrderVerifier` whether the satellite allowed the request, and call
the blob store, the order archive, the audit responder and the retain chore. Errors are
raised as domain errors and mapped to HTTP by ``piecestore/errors.py``.

Uploads stream: each network chunk is hashed into the Merkle tree and appended to the
temp file as it arrives, so a node holds at most one write buffer per upload in memory,
whatever the piece size. The upload's serial is committed to the database *before* the
first body byte is read, so neither a retry nor a restart can replay it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from common.audit_batch import AuditBatchChallenge
from common.identity import Identity
from common.messages import Action, AuditChallenge, PieceReceipt, RetainList, Signed, now
from common.trash_report import TrashReport
from storage_node.audit import AuditResponder
from storage_node.errors import (
    BadRequest,
    BodyTooLarge,
    IncompleteBody,
    InvalidRange,
    OrderExpired,
)
from storage_node.nodedb import NodeDB
from storage_node.pieces.chores import RetainChore
from storage_node.pieces.store import PieceReader, PieceStore
from storage_node.piecestore.errors import error_middleware
from storage_node.piecestore.sendfile import send_range
from storage_node.piecestore.verification import (
    LEAF_COUNT_HEADER,
    LEAF_SIZE_HEADER,
    ORDER_HEADER,
    PIECE_SIZE_HEADER,
    PROOF_HEADER,
    OrderVerifier,
    parse_leaf_size,
    parse_order_header,
)

__all__ = ["PROTOCOL_VERSION", "PiecestoreEndpoint"]

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
_UPLOAD_ACTIONS = (Action.PUT, Action.REPAIR_PUT)
_DOWNLOAD_ACTIONS = (Action.GET, Action.REPAIR_GET, Action.AUDIT)
_READ_CHUNK = 1 << 20  # per sendfile, or pread + socket write, of a download
_FIRST_CHUNK = 1 << 16  # written through aiohttp, which sends the headers with it
# Audit and retain bodies are read whole; a retain list for ~10 M pieces fits in this.
_MAX_MESSAGE = 32 * 2**20


def _int_query(request: web.Request, name: str, default: int | None) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise BadRequest(f"query parameter {name} must be an integer, got {raw[:40]!r}") from None
    if v < 0:
        raise BadRequest(f"query parameter {name} must not be negative")
    return v


async def _send_body(
    request: web.Request, resp: web.StreamResponse, reader: PieceReader, offset: int, length: int
) -> AsyncIterator[int]:
    """Send a piece range after the headers; yields the bytes sent at each step.

    Hot ranges go from the page cache to the socket with ``sendfile`` (``sendfile.py``).
    Cold ones are read by a worker thread, so a slow disk never stalls the event loop, and
    the first cold read asks the kernel to read the rest of the range ahead.
    """
    if request.method == "HEAD":
        return  # the headers say what a GET would send; a body would corrupt the connection
    pos, end = offset, offset + length
    while pos < end:
        # aiohttp holds the headers back until the first body write: the first bytes go
        # through it, then the rest may bypass it.
        first = pos == offset
        n = min(_FIRST_CHUNK if first else _READ_CHUNK, end - pos)
        cached = first or reader.is_cached(pos, n)
        if first or not (cached and await send_range(request.transport, reader.fd, reader.file_offset(pos), n)):
            chunk = reader.read_cached(pos, n) if cached else None
            if chunk is None:
                reader.will_need(pos, end - pos)
                chunk = await asyncio.to_thread(reader.read, pos, n)
            await resp.write(chunk)
        pos += n
        yield n


class PiecestoreEndpoint:
    """Serves ``/v1/pieces``, ``/v1/audit`` (and ``/v1/audit/batch``), ``/v1/retain`` and ``/v1/info`` for one node."""

    def __init__(
        self,
        identity: Identity,
        satellite_id: str,
        store: PieceStore,
        db: NodeDB,
        retain: RetainChore,
        *,
        max_piece_size: int,
        version: str,
    ) -> None:
        self.identity = identity
        self.satellite_id = satellite_id
        self.store = store
        self.db = db
        self.retain = retain
        self.max_piece_size = max_piece_size
        self.version = version
        self.verifier = OrderVerifier(satellite_id, identity.id)
        self.auditor = AuditResponder(identity, store, self.verifier)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[error_middleware], client_max_size=_MAX_MESSAGE)
        app.router.add_put("/v1/pieces/{piece_id}", self.put_piece)
        app.router.add_get("/v1/pieces/{piece_id}", self.get_piece)
        app.router.add_post("/v1/audit", self.audit)
        app.router.add_post("/v1/audit/batch", self.audit_batch)
        app.router.add_post("/v1/retain", self.post_retain)
        app.router.add_get("/v1/info", self.info)
        return app

    # --- pieces ------------------------------------------------------------------------

    async def put_piece(self, request: web.Request) -> web.Response:
        piece_id = request.match_info["piece_id"]
        self.store.check_id(piece_id)
        signed = parse_order_header(request.headers.get(ORDER_HEADER))
        leaf_size = parse_leaf_size(request.headers.get(LEAF_SIZE_HEADER))
        size = request.content_length
        if size is None:
            raise BadRequest("Content-Length is required: a piece upload declares its size up front")
        order = self.verifier.order(signed, piece_id, _UPLOAD_ACTIONS)
        if size > order.max_bytes:
            raise BodyTooLarge(f"piece of {size} bytes exceeds the order's limit of {order.max_bytes} bytes")
        if size > self.max_piece_size:
            raise BodyTooLarge(f"piece of {size} bytes exceeds this node's limit of {self.max_piece_size}")
        if order.piece_expires and order.piece_expires <= now():
            raise OrderExpired(f"the order's piece expiry {order.piece_expires} is already past")

        writer = self.store.create(piece_id, size, leaf_size, order.piece_expires)
        try:
            self.db.orders.use_upload_serial(signed, size)
            limit = min(size, order.max_bytes)
            received = 0
            content = request.content
            while True:
                # readchunk() hands over one buffered network chunk as it is; readany() and
                # iter_any() first join all that is buffered into a new bytes object,
                # copying every byte once more on the event loop.
                chunk, _ = await content.readchunk()
                if not chunk:
                    if content.at_eof():
                        break
                    continue  # an empty end-of-HTTP-chunk marker, not the end of the body
                received += len(chunk)
                if received > limit:  # aiohttp stops at Content-Length; this guards the order too
                    raise BodyTooLarge(f"upload exceeds its limit of {limit} bytes")
                await writer.write(chunk)
            header = await writer.commit()
        except (HttpProcessingError, ConnectionError, asyncio.IncompleteReadError) as exc:
            await writer.abort()
            raise IncompleteBody(
                f"upload of piece {piece_id} ended after {writer.written} of {size} bytes ({exc})"
            ) from None
        except BaseException:
            await asyncio.shield(writer.abort())
            raise
        if order.piece_expires:
            self.db.expirations.set(piece_id, order.piece_expires)
        self.db.bandwidth.add(order.action.value, size)
        receipt = Signed.sign(
            self.identity,
            PieceReceipt(
                serial=order.serial,
                node_id=self.identity.id,
                piece_id=piece_id,
                size=size,
                leaf_size=leaf_size,
                merkle_root=header.root,
                created=header.created,
            ),
        )
        return web.json_response({"receipt": receipt.to_json()})

    async def get_piece(self, request: web.Request) -> web.StreamResponse:
        piece_id = request.match_info["piece_id"]
        self.store.check_id(piece_id)
        signed = parse_order_header(request.headers.get(ORDER_HEADER))
        order = self.verifier.order(signed, piece_id, _DOWNLOAD_ACTIONS)
        offset = _int_query(request, "offset", 0) or 0
        want_proof = request.query.get("proof", "0") not in ("", "0", "false")
        reader = self.store.reader(piece_id)
        try:
            h = reader.header
            length = _int_query(request, "length", None)
            if length is None:
                length = max(0, h.size - offset)
            reader.check_range(offset, length)
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": str(length),
                PIECE_SIZE_HEADER: str(h.size),
                LEAF_SIZE_HEADER: str(h.leaf_size),
                LEAF_COUNT_HEADER: str(h.leaf_count),
            }
            if want_proof:
                headers[PROOF_HEADER] = self._range_proof(reader, offset, length)
            self.db.orders.reserve_download(signed, length)
            sent = 0
            try:
                resp = web.StreamResponse(headers=headers)
                await resp.prepare(request)
                async for n in _send_body(request, resp, reader, offset, length):
                    sent += n
                await resp.write_eof()
            finally:
                # Only bytes that left the node are owed; give the rest back to the order.
                self.db.orders.refund_download(order.serial, length - sent)
                self.db.bandwidth.add(order.action.value, sent)
            return resp
        finally:
            reader.close()

    @staticmethod
    def _range_proof(reader: PieceReader, offset: int, length: int) -> str:
        h = reader.header
        if length == 0:
            return ""
        ls = h.leaf_size
        end = offset + length
        if offset % ls or (end % ls and end != h.size):
            raise InvalidRange(
                f"a proof needs a leaf-aligned range: offset and length multiples of {ls} "
                f"(or ending at the piece end, {h.size})"
            )
        proof = reader.range_proof(offset // ls, -(-end // ls))
        return base64.b64encode(b"".join(proof)).decode("ascii")

    # --- audit and retain --------------------------------------------------------------

    @staticmethod
    async def _body(request: web.Request, what: str) -> bytes:
        body = await request.read()
        if not body:
            raise BadRequest(f"the request body must be a signed {what} (JSON)")
        return body

    async def audit(self, request: web.Request) -> web.Response:
        signed = Signed.loads(await self._body(request, "audit challenge"), AuditChallenge)
        return self._audit_response(await self.auditor.answer(signed))

    async def audit_batch(self, request: web.Request) -> web.Response:
        """Many pieces' challenges in one request, one signed proof (``common.audit_batch``)."""
        signed = Signed.loads(await self._body(request, "audit batch challenge"), AuditBatchChallenge)
        return self._audit_response(await self.auditor.answer_batch(signed))

    def _audit_response(self, proof: Signed[Any]) -> web.Response:
        resp = web.json_response(proof.to_json())
        self.db.bandwidth.add(Action.AUDIT.value, len(resp.body or b""))  # type: ignore[arg-type]
        return resp

    async def post_retain(self, request: web.Request) -> web.Response:
        signed = Signed.loads(await self._body(request, "retain list"), RetainList)
        retain = self.verifier.retain_list(signed)
        self.retain.submit(retain)
        body: dict[str, Any] = {"accepted": True, "created_before": retain.created_before}
        # What earlier passes trashed, signed: the satellite's residency ledger records it (gc).
        taken = await asyncio.to_thread(self.retain.trashed.take, TrashReport.MAX_PIECES)
        if taken:
            report = TrashReport(self.identity.id, self.satellite_id, tuple(taken), now())
            body["trashed"] = Signed.sign(self.identity, report).to_json()
        return web.json_response(body, status=202)

    async def info(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "node_id": self.identity.id,
                "satellite_id": self.satellite_id,
                "version": self.version,
                "protocol": PROTOCOL_VERSION,
            }
        )
