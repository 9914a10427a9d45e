"""Hand-made S3 requests for tests: signed by botocore's own signers, sent exactly as signed.

Real clients never send a forged signature, a tampered presigned URL or a corrupted
aws-chunked frame, so the tests that check how the gateway refuses them build those
requests here: :func:`sign` uses botocore's signers (SigV4 header and query, SigV2 header
and query), :func:`signed_chunks` frames an aws-chunked body with chunk and trailer
signatures as AWS's specification describes, and :func:`send` / :func:`raw_exchange`
put them on the wire without any client "fixing" them.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from typing import Any

import botocore.auth
from aiohttp import ClientSession
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

__all__ = [
    "EMPTY_SHA256",
    "error_code",
    "head",
    "raw_exchange",
    "raw_signed_head",
    "send",
    "sign",
    "signed_chunks",
    "signing_key",
    "unsigned_trailer_body",
]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class _FixedPayloadAuth(botocore.auth.S3SigV4Auth):
    """botocore's S3 SigV4 signer with a chosen ``x-amz-content-sha256``."""

    def __init__(self, credentials: Credentials, service: str, region: str, payload: str) -> None:
        super().__init__(credentials, service, region)
        self._payload = payload

    def payload(self, request: AWSRequest) -> str:
        return self._payload


def sign(
    signer: str,
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    credentials: Credentials,
    expires: int = 3600,
    region: str = "us-east-1",
    auth_path: str | None = None,
    payload: str | None = None,
) -> AWSRequest:
    """Sign with botocore: ``v4`` (S3SigV4Auth), ``v4-query`` (S3SigV4QueryAuth), ``v2``
    (HmacV1Auth) or ``v2-query`` (HmacV1QueryAuth). ``auth_path`` is the path-style path
    SigV2 signs for a virtual-host URL; ``payload`` replaces the body hash botocore would
    put in ``x-amz-content-sha256`` (``UNSIGNED-PAYLOAD``, a ``STREAMING-*`` mode, a wrong
    digest)."""
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}), auth_path=auth_path)
    if signer == "v4" and payload is not None:
        _FixedPayloadAuth(credentials, "s3", region, payload).add_auth(req)
    elif signer == "v4":
        botocore.auth.S3SigV4Auth(credentials, "s3", region).add_auth(req)
    elif signer == "v4-query":
        botocore.auth.S3SigV4QueryAuth(credentials, "s3", region, expires=expires).add_auth(req)
    elif signer == "v2":
        botocore.auth.HmacV1Auth(credentials).add_auth(req)
    elif signer == "v2-query":
        botocore.auth.HmacV1QueryAuth(credentials, expires=expires).add_auth(req)
    else:
        raise ValueError(signer)
    return req


async def send(req: AWSRequest, **session_kw: Any) -> tuple[int, dict[str, str], bytes]:
    """Send a signed AWSRequest exactly as signed (URL not re-encoded, no added Content-Type)."""
    prepared = req.prepare()
    async with (
        ClientSession(**session_kw) as session,
        session.request(
            prepared.method,
            URL(prepared.url, encoded=True),
            headers=dict(prepared.headers.items()),
            data=prepared.body or None,
            skip_auto_headers=("Content-Type",),
        ) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


def error_code(body: bytes) -> str:
    """The ``<Code>`` of an S3 XML error body ('' when there is none)."""
    m = re.search(rb"<Code>([^<]*)</Code>", body)
    return m.group(1).decode() if m else ""


def unsigned_trailer_body(chunks: list[bytes], trailer: str) -> bytes:
    """An aws-chunked body without chunk signatures, ending in ``trailer`` (``name:value``)."""
    out = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
    return out + b"0\r\n" + trailer.encode() + b"\r\n\r\n"


def signing_key(secret: str, date: str, region: str = "us-east-1") -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def signed_chunks(
    secret: str, seed: str, amz_date: str, chunks: list[bytes], trailer: str | None, region: str = "us-east-1"
) -> bytes:
    """An aws-chunked body with chunk (and trailer) signatures chained from ``seed``."""
    key, scope = signing_key(secret, amz_date[:8], region), f"{amz_date[:8]}/{region}/s3/aws4_request"
    prev, out = seed, bytearray()
    for chunk in [*chunks, b""]:
        sts = (
            f"AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{prev}\n{EMPTY_SHA256}\n"
            f"{hashlib.sha256(chunk).hexdigest()}"
        )
        prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out += b"%x;chunk-signature=%s\r\n" % (len(chunk), prev.encode())
        if chunk:
            out += chunk + b"\r\n"
    if trailer is not None:
        digest = hashlib.sha256(trailer.encode() + b"\n").hexdigest()
        sts = f"AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{prev}\n{digest}"
        tsig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out += f"{trailer}\r\nx-amz-trailer-signature:{tsig}\r\n".encode()
    return bytes(out + b"\r\n")


async def raw_exchange(url: str, head_bytes: bytes, body: bytes = b"", *, half_close: bool = False) -> bytes:
    """Write bytes to the server as they are and read the whole answer (``Connection: close``)."""
    host, port = url.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head_bytes + body)
    if half_close:
        writer.write_eof()
    await writer.drain()
    try:
        chunks = []
        while chunk := await asyncio.wait_for(reader.read(65536), 10):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        writer.close()


def head(method: str, target: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def raw_signed_head(
    method: str, target: str, host: str, headers: list[tuple[str, bytes]], *, access_key: str, secret: str,
    body: bytes = b"", region: str = "us-east-1", payload: str | None = None, content_length: int | None = None,
) -> bytes:  # fmt: skip
    """A SigV4-header-signed request head whose header values are raw bytes, sent as they are.

    Control characters and invalid UTF-8 cannot pass through botocore or aiohttp's client, so
    hostile-input tests build the head here. Every header is signed, canonicalised the way
    the gateway reads it (UTF-8 with surrogate escapes, runs of whitespace collapsed), so a
    request is refused for its values, never for its signature. ``payload`` replaces the
    body's SHA-256 (``UNSIGNED-PAYLOAD``); ``content_length`` announces a body not given.
    """
    import datetime as dt

    from gateway.s3.sigv4 import canonical_query, canonical_uri, string_to_sign
    from gateway.s3.sigv4 import signing_key as derive

    amz_date = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = payload or hashlib.sha256(body).hexdigest()
    all_headers = [("host", host.encode()), ("x-amz-date", amz_date.encode()),
                   ("x-amz-content-sha256", payload.encode()), *headers]  # fmt: skip
    if body or content_length is not None:
        all_headers.append(("content-length", str(len(body) if content_length is None else content_length).encode()))
    grouped: dict[str, list[str]] = {}
    for name, value in all_headers:
        grouped.setdefault(name.lower(), []).append(value.decode("utf-8", "surrogateescape"))
    signed = sorted(grouped)
    canonical_headers = "".join(f"{n}:{','.join(' '.join(v.split()) for v in grouped[n])}\n" for n in signed)
    path, _, query = target.partition("?")
    from urllib.parse import unquote

    creq = "\n".join([method, canonical_uri(unquote(path)), canonical_query(query), canonical_headers,
                      ";".join(signed), payload])  # fmt: skip
    scope = f"{amz_date[:8]}/{region}/s3/aws4_request"
    sts = string_to_sign(amz_date, scope, creq)
    sig = hmac.new(derive(secret, amz_date[:8], region), sts.encode(), hashlib.sha256).hexdigest()
    auth = f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    lines = [f"{method} {target} HTTP/1.1".encode(), *(n.encode() + b": " + v for n, v in all_headers),
             b"Authorization: " + auth.encode(), b"Connection: close"]  # fmt: skip
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
