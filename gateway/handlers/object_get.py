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
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from aiohttp import web

from gateway.handlers.common import STANDARD_HEADERS, Call, quote_etag, segment_sources
from gateway.handlers.object_put import checksum_headers
from gateway.s3.errors import S3Error

__all__ = ["get_object", "head_object", "object_headers", "parse_range"]

log = logging.getLogger(__name__)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(value: str | None) -> tuple[int | None, int | None, int | None] | None:
    """``bytes=a-b`` / ``a-`` / ``-n`` → ``(start, end, suffix)``; anything else is ignored, as S3 does."""
    if not value:
        return None
    m = _RANGE.match(value.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    if not m.group(1):
        return None, None, int(m.group(2))
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else None
    if end is not None and end < start:
        return None  # syntactically invalid: RFC 7233 says ignore the header
    return start, end, None


def _http_date(created: str) -> tuple[datetime, str]:
    t = datetime.fromisoformat(created).astimezone(UTC).replace(microsecond=0)
    return t, format_datetime(t, usegmt=True)


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _etag_matches(header: str, etag: str) -> bool:
    wanted = [v.strip() for v in header.split(",")]
    return "*" in wanted or etag in wanted or etag.strip('"') in (w.strip('"') for w in wanted)


def check_conditions(headers: Mapping[str, str], etag: str, modified: datetime, *, prefix: str = "") -> None:
    """Raise ``PreconditionFailed`` or ``NotModified`` as S3 does (``prefix`` is
    ``x-amz-copy-source-`` for CopyObject's source conditionals, where both fail with 412)."""
    if_match = headers.get(prefix + "If-Match")
    if_none = headers.get(prefix + "If-None-Match")
    since = _parse_http_date(headers.get(prefix + "If-Modified-Since"))
    unmodified = _parse_http_date(headers.get(prefix + "If-Unmodified-Since"))
    not_modified = "PreconditionFailed" if prefix else "NotModified"
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            raise S3Error("PreconditionFailed", Condition="If-Match")
    elif unmodified is not None and modified > unmodified:
        raise S3Error("PreconditionFailed", Condition="If-Unmodified-Since")
    if if_none is not None:
        if _etag_matches(if_none, etag):
            raise S3Error(not_modified, headers={"ETag": etag}, Condition="If-None-Match")
    elif since is not None and modified <= since:
        raise S3Error(not_modified, headers={"ETag": etag}, Condition="If-Modified-Since")


def object_headers(obj: Mapping[str, Any], call: Call) -> dict[str, str]:
    """The headers S3 returns with an object's data or HEAD."""
    _, last_modified = _http_date(str(obj["created"]))
    headers = {
        "ETag": quote_etag(str(obj["etag"])),
        "Last-Modified": last_modified,
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
    modified, _ = _http_date(str(obj["created"]))
    check_conditions(call.request.headers, quote_etag(str(obj["etag"])), modified)
    headers = object_headers(obj, call)
    headers["Content-Length"] = str(obj["size"])
    return web.Response(headers=headers)


async def get_object(call: Call) -> web.StreamResponse:
    rng = parse_range(call.request.headers.get("Range"))
    start, end, suffix = rng if rng is not None else (None, None, None)
    answer = await call.sat.get_object(
        call.tenant_id, call.bucket, call.key, range_start=start, range_end=end, suffix_length=suffix
    )
    obj = answer["object"]
    size = int(obj["size"])
    modified, _ = _http_date(str(obj["created"]))
    check_conditions(call.request.headers, quote_etag(str(obj["etag"])), modified)
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
        log.error("GET /%s/%s failed after the headers were sent: %s", call.bucket, call.key, exc)
        if call.request.transport is not None:
            call.request.transport.close()
        return response
    finally:
        await stream.aclose()
    await response.write_eof()
    return response
