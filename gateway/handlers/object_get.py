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

from gateway.handlers.common import STANDARD_HEADERS, Call, created_at, quote_etag, segment_sources
from gateway.handlers.object_put import checksum_headers
from gateway.s3.errors import request_id
from gateway.s3.http import check_conditions, http_date, parse_range_spec

__all__ = ["get_object", "head_object", "object_headers"]

log = logging.getLogger(__name__)

def object_headers(obj: Mapping[str, Any], call: Call) -> dict[str, str]:
    """The headers S3 returns with an object's data or HEAD."""
    headers = {
        "ETag": quote_etag(str(obj["etag"])),
        "Last-Modified": http_date(created_at(obj)),
        "Content-Type": str(obj.get("content_type") or "binary/octet-stream"),
        "Accept-Ranges": "bytes",
    }
    for name, value in (obj.get("metadata") or {}).items():
        if name.startswith("x-amz-meta-") or name in STANDARD_HEADERS:
            headers[name] = str(value)
    if obj.get("tags"):
        headers["x-amz-tagging-count"] = str(len(obj["tags"]))
    if obj.get("segment_count", 0) > 1 and "-" in str(obj["etag"]):
        headers["x-amz-mp-parts-count"] = str(obj["etag"]).strip('"').rsplit("-", 1)[1]
    if call.request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        headers.update(checksum_headers(obj.get("checksums") or {}))
    headers.update(call.endpoint.response_overrides)
    return headers


async def head_object(call: Call) -> web.Response:
    obj = await call.sat.head_object(call.tenant_id, call.bucket, call.key)
    check_conditions(call.request.headers, quote_etag(str(obj["etag"])), created_at(obj), method="HEAD")
    headers = object_headers(obj, call)
    headers["Content-Length"] = str(obj["size"])
    return web.Response(headers=headers)


async def get_object(call: Call) -> web.StreamResponse:
    # The satellite resolves the range against the size and returns only its segments.
    spec = parse_range_spec(call.request.headers.get("Range"))
    answer = await call.sat.get_object(
        call.tenant_id, call.bucket, call.key,
        range_start=spec.start if spec else None, range_end=spec.end if spec else None,
        suffix_length=spec.suffix if spec else None,
    )  # fmt: skip
    obj = answer["object"]
    size = int(obj["size"])
    check_conditions(call.request.headers, quote_etag(str(obj["etag"])), created_at(obj))
    headers = object_headers(obj, call)
    resolved = answer.get("range")
    if resolved is not None:
        first, last = int(resolved[0]), int(resolved[1])
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
        # A partial body has no checksum of its own; AWS omits the whole object's.
        for name in [h for h in headers if h.startswith("x-amz-checksum-")]:
            del headers[name]
    else:
        first, last, status = 0, size - 1, 200
    length = last - first + 1 if size else 0
    headers["Content-Length"] = str(length)
    response = web.StreamResponse(status=status, headers=headers)
    sources = segment_sources(answer.get("segments") or [])
    downloader = call.services.downloader(call.tenant_id, call.bucket)
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
