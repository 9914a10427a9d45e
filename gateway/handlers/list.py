"""ListObjects (v1) and ListObjectsV2, served from the satellite's key-ordered index.

The satellite pages with ``start_after``; v1's ``marker`` and v2's ``start-after`` map to
it directly, and v2's continuation token is the satellite's ``next`` key, base64-url
encoded so that it is opaque to clients (as AWS's is) and survives any key bytes.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.handlers import integrity
from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call, quote_etag
from gateway.s3 import xml
from gateway.s3.errors import S3Error
from gateway.s3.router import ListQuery

__all__ = ["list_objects", "list_objects_v2"]


def _checksum(stored: dict[str, Any] | None) -> tuple[str, str] | None:
    algorithm = integrity.stored_algorithm(stored)
    return (algorithm, integrity.checksum_type(stored) or "FULL_OBJECT") if algorithm else None


def _infos(objects: list[dict[str, Any]], owner: xml.Owner) -> list[xml.ObjectInfo]:
    return [
        # Quoted as GET and HEAD send it (a multipart ETag is stored bare).
        xml.ObjectInfo(o["key"], datetime.fromisoformat(o["created"]), quote_etag(o["etag"]), int(o["size"]),
                       owner=owner, checksum=_checksum(o.get("checksums")))
        for o in objects
    ]


def _owner(call: Call, page: dict[str, Any]) -> xml.Owner:
    """The bucket's owner owns every object (the lister may be anyone the bucket lets in)."""
    owner = str(page.get("owner") or call.tenant_id)
    return xml.Owner(owner, owner)


def _token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode("ascii")


def _untoken(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      ArgumentName="continuation-token") from None  # fmt: skip


async def _page(call: Call, q: ListQuery, start_after: str) -> dict[str, Any]:
    return await call.sat.list_objects(
        call.tenant_id, call.bucket, prefix=q.prefix, delimiter=q.delimiter or "",
        start_after=start_after, max_keys=q.max_keys,
    )  # fmt: skip


async def list_objects(call: Call) -> web.Response:
    q = call.endpoint.list_query or ListQuery()
    page = await _page(call, q, q.marker or "")
    owner = _owner(call, page)
    body = xml.list_objects_result(
        call.bucket, q, _infos(page["objects"], owner), page["prefixes"],
        is_truncated=bool(page["truncated"]),
        next_marker=page["next"] if q.delimiter is not None else None,
    )  # fmt: skip
    return xml_response(body)


async def list_objects_v2(call: Call) -> web.Response:
    q = call.endpoint.list_query or ListQuery()
    start = _untoken(q.continuation_token) if q.continuation_token else (q.start_after or "")
    page = await _page(call, q, start)
    owner = _owner(call, page)
    body = xml.list_objects_v2_result(
        call.bucket, q, _infos(page["objects"], owner), page["prefixes"],
        is_truncated=bool(page["truncated"]),
        next_continuation_token=_token(page["next"]) if page["truncated"] and page["next"] else None,
    )  # fmt: skip
    return xml_response(body)
