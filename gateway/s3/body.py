"""The request body as a verified stream: what an upload pipeline consumes.

:class:`BodyReader` turns an authenticated aiohttp request into an async iterator of
decoded payload blocks, whatever the wire form (plain, aws-chunked with or without chunk
signatures and trailers), with memory bounded by one block (default 1 MiB) plus the one
being hashed. Everything that can be checked before the first byte is checked in the
constructor, so a handler can refuse a request without reading its body (and, with
:func:`defer_continue`, without the client even sending it):

* the declared length: ``Content-Length``, or ``x-amz-decoded-content-length`` for
  aws-chunked bodies (which boto3 sends with ``Transfer-Encoding: chunked``); none is
  ``MissingContentLength``; over ``max_size`` is ``EntityTooLarge``;
* the integrity claims (``Content-MD5``, ``x-amz-checksum-*``, ``x-amz-trailer``; see
  ``checksums.py``).

While streaming it verifies aws-chunked chunk signatures, and it never yields more than
the declared length (``InvalidRequest`` as soon as a body runs over). At the end of the
body, *before* the iteration finishes, it raises ``IncompleteBody`` for a short body,
``XAmzContentSHA256Mismatch`` if the signed SHA-256 differs, ``BadDigest`` for an MD5 or
checksum mismatch. A consumer therefore commits only after ``async for`` has ended
normally; the ETag and checksums are then on the reader.

Hashing (MD5 for the ETag, SHA-256 when signed, the requested checksum) runs in a worker
thread for blocks of ``hash_threshold`` bytes or more, one block behind the reading, so
receiving, hashing and the consumer's own work overlap on two cores.

``Expect: 100-continue``: aiohttp answers ``100 Continue`` before the handler runs, which
would make a client send a body the gateway may refuse. Register the S3 routes with
``expect_handler=defer_continue``; the reader then sends ``100 Continue`` when it starts
reading, i.e. after authentication and the checks above passed.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.http import HttpVersion11
from aiohttp.http_exceptions import HttpProcessingError

from gateway.s3.checksums import ChecksumAlgorithm, ExpectedChecksums, MultiHasher, parse_checksum_headers
from gateway.s3.credentials import AuthResult, PayloadMode
from gateway.s3.errors import CONTINUE_DEFERRED, S3Error
from gateway.s3.streaming import ChunkedDecoder

__all__ = [
    "MAX_OBJECT_SIZE",
    "MAX_PUT_SIZE",
    "BodyReader",
    "defer_continue",
    "send_continue",
]

MAX_PUT_SIZE = 5 * 1024**3  # one PutObject or UploadPart, as on AWS
MAX_OBJECT_SIZE = 5 * 1024**4



async def defer_continue(request: web.Request) -> None:
    """aiohttp ``expect_handler`` that postpones ``100 Continue`` until the body is read."""
    expect = request.headers.get("Expect", "")
    if expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text="Unknown Expect value: only 100-continue is supported")
    if request.version == HttpVersion11:
        request[CONTINUE_DEFERRED] = True


async def send_continue(request: web.BaseRequest) -> None:
    """Send the postponed ``100 Continue`` (once; nothing if none was postponed)."""
    if request.get(CONTINUE_DEFERRED):
        request[CONTINUE_DEFERRED] = False
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # type: ignore[attr-defined]


def _declared_length(request: web.BaseRequest, auth: AuthResult) -> int:
    headers = request.headers
    name = "x-amz-decoded-content-length" if auth.payload.is_streaming else "Content-Length"
    raw = headers.get(name)
    if raw is None:
        raise S3Error("MissingContentLength")
    if not raw.strip().isdigit():
        raise S3Error("InvalidArgument", f"Invalid {name}", ArgumentName=name, ArgumentValue=raw)
    if not auth.payload.is_streaming and headers.get("Transfer-Encoding", "").lower() == "chunked":
        raise S3Error("MissingContentLength")
    return int(raw)


class BodyReader:
    """A verified, bounded-memory stream of one request's payload; iterate it once."""

    def __init__(
        self,
        request: web.BaseRequest,
        auth: AuthResult,
        *,
        max_size: int = MAX_PUT_SIZE,
        block_size: int = 1 << 20,
        hash_threshold: int = 256 * 1024,
        expected: ExpectedChecksums | None = None,
    ) -> None:
        self._request = request
        self._auth = auth
        self._block_size = block_size
        self._hash_threshold = hash_threshold
        self.length = _declared_length(request, auth)
        if self.length > max_size:
            raise S3Error("EntityTooLarge", ProposedSize=self.length, MaxSizeAllowed=max_size)
        self.expected = expected if expected is not None else parse_checksum_headers(request.headers)
        if self.expected.trailer and not auth.payload.has_trailer:
            raise S3Error(
                "InvalidRequest",
                "x-amz-trailer requires x-amz-content-sha256 to be a STREAMING-*-TRAILER mode",
            )
        self.hasher = MultiHasher(self.expected.algorithms(), sha256=auth.payload is PayloadMode.SHA256)
        self._pending: asyncio.Future[Any] | None = None
        self._started = False
        self.done = False

    # --- results, valid once the iteration has ended without error ---

    @property
    def size(self) -> int:
        return self.hasher.size

    @property
    def etag(self) -> str:
        return self.hasher.etag

    @property
    def md5_digest(self) -> bytes:
        return self.hasher.md5_digest

    @property
    def checksums(self) -> dict[ChecksumAlgorithm, str]:
        """The requested ``x-amz-checksum-*`` values (base64), verified when claimed."""
        return self.hasher.checksums()

    # --- reading ---

    async def _hash(self, block: bytes) -> None:
        if self._pending is not None:
            await self._pending
            self._pending = None
        if len(block) >= self._hash_threshold:
            loop = asyncio.get_running_loop()
            self._pending = loop.run_in_executor(None, self.hasher.update, block)
        else:
            self.hasher.update(block)

    async def _plain_blocks(self) -> AsyncIterator[bytes]:
        content = self._request.content
        left = self.length
        while left:
            try:
                block = await content.readexactly(min(left, self._block_size))
            except asyncio.IncompleteReadError:
                raise S3Error("IncompleteBody") from None
            left -= len(block)
            yield block

    async def _chunked_blocks(self, decoder: ChunkedDecoder) -> AsyncIterator[bytes]:
        pieces: list[bytes] = []
        held = total = 0
        async for piece in decoder:
            total += len(piece)
            if total > self.length:
                raise S3Error(
                    "InvalidRequest",
                    "The decoded body is longer than x-amz-decoded-content-length declared.",
                )
            pieces.append(piece)
            held += len(piece)
            if held >= self._block_size:
                yield pieces[0] if len(pieces) == 1 else b"".join(pieces)
                pieces, held = [], 0
        if pieces:
            yield b"".join(pieces)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._started:
            raise RuntimeError("a request body can be read only once")
        self._started = True
        await send_continue(self._request)
        payload = self._auth.payload
        decoder: ChunkedDecoder | None = None
        if payload.is_streaming:
            if not self._request.body_exists:
                raise S3Error("IncompleteBody")
            decoder = ChunkedDecoder(
                self._request.content,
                signing=self._auth.signing if payload.signed_chunks else None,
                expect_trailer=payload.has_trailer,
                max_piece=self._block_size,
                hash_threshold=self._hash_threshold,
            )
            blocks = self._chunked_blocks(decoder)
        else:
            blocks = self._plain_blocks()
        try:
            async for block in blocks:
                await self._hash(block)
                yield block
        except (HttpProcessingError, ConnectionResetError, asyncio.IncompleteReadError) as exc:
            # aiohttp's ContentLengthError/TransferEncodingError: the client went away.
            raise S3Error("IncompleteBody") from exc
        if self._pending is not None:
            await self._pending
            self._pending = None
        self._finish(decoder)
        self.done = True

    def _finish(self, decoder: ChunkedDecoder | None) -> None:
        if self.hasher.size != self.length:
            raise S3Error("IncompleteBody")
        if self._auth.payload is PayloadMode.SHA256:
            computed = self.hasher.sha256_hex or ""
            claimed = self._auth.content_sha256 or ""
            if not hmac.compare_digest(computed.encode(), claimed.encode()):
                raise S3Error(
                    "XAmzContentSHA256Mismatch",
                    ClientComputedContentSHA256=claimed,
                    S3ComputedContentSHA256=computed,
                )
        trailer_value = None
        if decoder is not None and self.expected.algorithm is not None:
            trailer_value = decoder.trailers.get(self.expected.algorithm.header)
        self.expected.verify(self.hasher, trailer_value)

    async def read_all(self, limit: int) -> bytes:
        """The whole (verified) body, for small XML documents; a declared length over
        ``limit`` is ``InvalidRequest`` before anything is read."""
        if self.length > limit:
            raise S3Error("InvalidRequest", f"The request body may be at most {limit} bytes.")
        return b"".join([block async for block in self])
