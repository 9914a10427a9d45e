"""GetObject and HeadObject: metadata and conditionals first, then the range streamed.

One get-object call to the satellite returns the metadata, the resolved range and GET
orders for just the segments that cover it; conditionals (``If-Match``,
``If-None-Match``, ``If-Modified-Since``, ``If-Unmodified-Since``, in RFC 7232's order of
precedence, as S3 applies them) are decided on that metadata before a byte is fetched.
The body then streams window by window from the download pipeline. Once headers are
sent an error can no longer become an S3 error body, so the connection is closed instead:
the client sees a short body, never wrong bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from gateway.handlers import encryption, integrity, lifecycle, object_lock
from gateway.handlers.common import STANDARD_HEADERS, Call, created_at, quote_etag, segment_sources
from gateway.s3.errors import S3Error, request_id
from gateway.s3.http import check_conditions, http_date, mail_safe, parse_range_spec
from gateway.s3.version_ids import version_headers

__all__ = ["get_object", "head_object", "object_headers"]

log = logging.getLogger(__name__)

def object_headers(obj: Mapping[str, Any], call: Call, keys: encryption.ObjectKeys) -> dict[str, str]:
    """The headers S3 returns with an object's data or HEAD."""
    headers = {
        **keys.headers,
        "ETag": quote_etag(str(obj["etag"])),
        "Last-Modified": http_date(created_at(obj)),
        "Content-Type": str(obj.get("content_type") or "binary/octet-stream"),
        "Accept-Ranges": "bytes",
        **version_headers(obj),
        **object_lock.lock_response_headers(obj),
    }
    for name, value in (obj.get("metadata") or {}).items():
        if name.startswith("x-amz-meta-"):
            headers[name] = mail_safe(str(value))
        elif name in STANDARD_HEADERS:
            headers[name] = str(value)
    if obj.get("tags"):
        headers["x-amz-tagging-count"] = str(len(obj["tags"]))
    if call.request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        headers.update(integrity.checksum_headers(obj.get("checksums")))
    headers.update(call.endpoint.response_overrides)
    return headers


def _drop_checksums(headers: dict[str, str]) -> None:
    for name in [h for h in headers if h.startswith("x-amz-checksum-")]:
        del headers[name]


def _part_headers(answer: Mapping[str, Any], headers: dict[str, str]) -> tuple[int, int, int]:
    """``?partNumber=N``: the part's range as ``(first, length, status)``; a multipart
    object's answer says how many parts it has (``x-amz-mp-parts-count``, as AWS sends it
    only then)."""
    obj = answer["object"]
    if "-" in str(obj["etag"]):
        headers["x-amz-mp-parts-count"] = str(answer["parts_count"])
        _drop_checksums(headers)  # the whole object's, not this part's
    resolved = answer.get("range")
    if resolved is None:  # an empty part (or object)
        return 0, 0, 200
    first, last = int(resolved[0]), int(resolved[1])
    headers["Content-Range"] = f"bytes {first}-{last}/{obj['size']}"
    return first, last - first + 1, 206


async def head_object(call: Call) -> web.Response:
    sse_c = encryption.request_key(call)
    part = call.endpoint.part_number
    if part is None:
        answer = await call.sat.head_object_owned(call.tenant_id, call.bucket, call.key, call.endpoint.version_id)
    else:
        answer = await call.sat.head_part(call.tenant_id, call.bucket, call.key, part, call.endpoint.version_id)
    obj = answer["object"]
    owner = str(answer.get("owner") or call.tenant_id)  # the reader may be anyone the bucket lets in
    keys = encryption.read_keys(call, call.bucket, obj.get("metadata"), sse_c, owner=owner)
    check_conditions(call.request.headers, quote_etag(str(obj["etag"])), created_at(obj), method="HEAD")
    headers = object_headers(obj, call, keys) | await lifecycle.expiration_headers(call, obj)
    status, length = 200, int(obj["size"])
    if part is not None:
        _, length, status = _part_headers(answer, headers)
    headers["Content-Length"] = str(length)
    return web.Response(status=status, headers=headers)


async def get_object(call: Call) -> web.StreamResponse:
    # The satellite resolves the range (or the part) against the size and returns only its segments.
    sse_c = encryption.request_key(call)
    part = call.endpoint.part_number
    spec = parse_range_spec(call.request.headers.get("Range"))
    if part is not None and "Range" in call.request.headers:
        raise S3Error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
    if not call.tenant_id and call.endpoint.response_overrides:  # AWS refuses them without a signature
        raise S3Error("InvalidRequest", "Request specific response headers cannot be used for anonymous GET requests.")
    answer = await call.sat.get_object(
        call.tenant_id, call.bucket, call.key,
        range_start=spec.start if spec else None, range_end=spec.end if spec else None,
        suffix_length=spec.suffix if spec else None, part_number=part, version_id=call.endpoint.version_id,
    )  # fmt: skip
    obj = answer["object"]
    size = int(obj["size"])
    owner = str(answer.get("owner") or call.tenant_id)  # the reader may be anyone the bucket lets in
    keys = encryption.read_keys(call, call.bucket, obj.get("metadata"), sse_c, owner=owner)
    check_conditions(call.request.headers, quote_etag(str(obj["etag"])), created_at(obj))
    headers = object_headers(obj, call, keys) | await lifecycle.expiration_headers(call, obj)
    resolved = answer.get("range")
    if part is not None:
        first, length, status = _part_headers(answer, headers)
    elif resolved is not None:
        first, last = int(resolved[0]), int(resolved[1])
        status, length = 206, last - first + 1
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        _drop_checksums(headers)  # a partial body has no checksum of its own; AWS omits the whole object's
    else:
        first, length, status = 0, size, 200
    headers["Content-Length"] = str(length)
    response = web.StreamResponse(status=status, headers=headers)
    sources = segment_sources(answer.get("segments") or [])
    downloader = call.services.downloader(owner, call.bucket, keys.wrapping_key)
    stream = downloader.stream(sources, first, length)
    # Fetch the first window before committing to a status: a read that cannot start is
    # still an S3 error (503), not a truncated 200.
    first_chunk = await anext(stream, b"") if length else b""
    await response.prepare(call.request)
    try:
        if first_chunk:
            await response.write(first_chunk)
        del first_chunk
        async for chunk in stream:
            await response.write(chunk)
    except Exception as exc:
        log.error("GET /%s/%s failed after the headers were sent (request %s): %s", call.bucket, call.key,
                  request_id(call.request), exc)  # fmt: skip
        if call.request.transport is not None:
            call.request.transport.close()
        return response
    finally:
        await stream.aclose()
    await response.write_eof()
    return response
