"""The aws-chunked body encoding, decoded as it streams.

When ``x-amz-content-sha256`` is a ``STREAMING-*`` mode, the body is framed as::

    <hex size>[;chunk-signature=<sig>]\\r\\n <size bytes> \\r\\n   … repeated …
    0[;chunk-signature=<sig>]\\r\\n
    [<trailer-name>:<value>\\r\\n … [x-amz-trailer-signature:<sig>\\r\\n]]
    \\r\\n

In the signed modes every chunk carries a signature chained from the previous one,
starting at the request's seed signature::

    sig_i = HMAC(kSigning, "AWS4-HMAC-SHA256-PAYLOAD\\n" + amz_date + "\\n" + scope + "\\n"
                 + sig_{i-1} + "\\n" + sha256("") + "\\n" + sha256(chunk_i))

and a signed trailer is signed the same way over ``sha256("name:value\\n" …)`` with the
``AWS4-HMAC-SHA256-TRAILER`` prefix, chained from the final (empty) chunk's signature.
Chaining means chunks cannot be dropped, reordered or spliced from another upload.

:class:`ChunkedDecoder` reads this framing from an aiohttp ``StreamReader`` (anything with
``readuntil``/``readexactly``/``read``) and yields the payload in pieces of at most
``max_piece`` bytes, so memory is bounded whatever size the client gives its chunks. A
chunk's signature can only be checked once the whole chunk has been read, so pieces of a
chunk are yielded before it is verified: a consumer must treat nothing as committed until
the iteration ends without error, which is the body reader's contract anyway.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Protocol

from gateway.s3.credentials import SigningContext
from gateway.s3.errors import S3Error

__all__ = ["ChunkedDecoder", "StreamSource", "chunk_signature", "trailer_signature"]

_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_MAX_LINE = 4096
_MAX_TRAILER_LINES = 16


class StreamSource(Protocol):
    """The part of aiohttp's ``StreamReader`` the decoder uses."""

    async def readuntil(self, separator: bytes = ..., /) -> bytes: ...

    async def readexactly(self, n: int, /) -> bytes: ...

    async def read(self, n: int = ..., /) -> bytes: ...


def chunk_signature(ctx: SigningContext, previous: str, chunk_sha256_hex: str) -> str:
    sts = f"AWS4-HMAC-SHA256-PAYLOAD\n{ctx.amz_date}\n{ctx.scope}\n{previous}\n{_EMPTY_SHA256}\n{chunk_sha256_hex}"
    return hmac.new(ctx.signing_key, sts.encode(), hashlib.sha256).hexdigest()


def trailer_signature(ctx: SigningContext, previous: str, canonical_trailers: bytes) -> str:
    sts = (
        f"AWS4-HMAC-SHA256-TRAILER\n{ctx.amz_date}\n{ctx.scope}\n{previous}\n"
        f"{hashlib.sha256(canonical_trailers).hexdigest()}"
    )
    return hmac.new(ctx.signing_key, sts.encode(), hashlib.sha256).hexdigest()


def _malformed(what: str) -> S3Error:
    return S3Error("InvalidRequest", f"Malformed aws-chunked body: {what}.")


def _bad_signature() -> S3Error:
    return S3Error("SignatureDoesNotMatch")


class ChunkedDecoder:
    """Decode (and, given a signing context, verify) one aws-chunked body.

    After the iteration, :attr:`trailers` holds the trailing headers (lower-cased names,
    ``x-amz-trailer-signature`` removed)."""

    def __init__(
        self,
        source: StreamSource,
        *,
        signing: SigningContext | None,
        expect_trailer: bool,
        max_piece: int = 1 << 20,
        hash_threshold: int = 256 * 1024,
    ) -> None:
        self._source = source
        self._signing = signing
        self._expect_trailer = expect_trailer
        self._max_piece = max_piece
        self._hash_threshold = hash_threshold
        self.trailers: dict[str, str] = {}

    async def _line(self) -> bytes:
        try:
            line = await self._source.readuntil(b"\n")
        except ValueError:  # aiohttp: "Chunk too big" (a line over its buffer limit)
            raise _malformed("header line too long") from None
        except asyncio.IncompleteReadError:
            raise S3Error("IncompleteBody") from None
        if not line.endswith(b"\r\n"):
            if not line.endswith(b"\n"):
                raise S3Error("IncompleteBody")
            raise _malformed("line not terminated by CRLF")
        if len(line) > _MAX_LINE:
            raise _malformed("header line too long")
        return line[:-2]

    async def _exactly(self, n: int) -> bytes:
        try:
            return await self._source.readexactly(n)
        except asyncio.IncompleteReadError:
            raise S3Error("IncompleteBody") from None

    def _parse_header(self, line: bytes) -> tuple[int, str | None]:
        size_part, _, ext = line.partition(b";")
        try:
            size = int(size_part.strip(), 16)
        except ValueError:
            raise _malformed("invalid chunk size") from None
        if size < 0:
            raise _malformed("invalid chunk size")
        signature = None
        if ext:
            name, _, value = ext.partition(b"=")
            if name.strip() == b"chunk-signature":
                signature = value.strip().decode("ascii", "replace")
        if self._signing is not None and signature is None:
            raise S3Error("SignatureDoesNotMatch", "The chunk signature is missing.")
        return size, signature

    async def __aiter__(self) -> AsyncIterator[bytes]:
        previous = self._signing.seed_signature if self._signing is not None else ""
        while True:
            size, signature = self._parse_header(await self._line())
            digest = hashlib.sha256() if self._signing is not None else None
            left = size
            while left:
                piece = await self._exactly(min(left, self._max_piece))
                left -= len(piece)
                if digest is not None:
                    if len(piece) >= self._hash_threshold:
                        await asyncio.to_thread(digest.update, piece)
                    else:
                        digest.update(piece)
                yield piece
            if self._signing is not None and digest is not None and signature is not None:
                expected = chunk_signature(self._signing, previous, digest.hexdigest())
                if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
                    raise _bad_signature()
                previous = expected
            if size == 0:
                break
            if await self._exactly(2) != b"\r\n":
                raise _malformed("chunk data not followed by CRLF")
        await self._read_trailer(previous)

    async def _read_trailer(self, previous: str) -> None:
        canonical = bytearray()
        trailer_sig: str | None = None
        for _ in range(_MAX_TRAILER_LINES + 1):
            line = await self._line()
            if not line:
                break
            name, sep, value = line.decode("utf-8", "replace").partition(":")
            if not sep:
                raise S3Error("MalformedTrailerError")
            name, value = name.strip().lower(), value.strip()
            if name == "x-amz-trailer-signature":
                trailer_sig = value
            else:
                self.trailers[name] = value
                canonical += f"{name}:{value}\n".encode()
        else:
            raise S3Error("MalformedTrailerError")
        if self.trailers and not self._expect_trailer:
            raise S3Error("MalformedTrailerError")
        if self._expect_trailer and self._signing is not None:
            if trailer_sig is None:
                raise S3Error("SignatureDoesNotMatch", "The trailer signature is missing.")
            expected = trailer_signature(self._signing, previous, bytes(canonical))
            if not hmac.compare_digest(expected.encode(), trailer_sig.lower().encode()):
                raise _bad_signature()
        if await self._source.read(1):
            raise S3Error("InvalidRequest", "The request body continues after the end of the aws-chunked encoding.")
