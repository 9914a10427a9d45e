"""GetObjectAttributes: an object's ETag, checksum, parts, storage class and size in one call.

The satellite answers the object and the size of each part (from its segments); a multipart
object's part checksums were kept with its checksum at Complete (:mod:`.integrity`). An
SSE-C object needs its key here too, as at AWS.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.handlers import encryption, integrity
from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call, created_at
from gateway.s3 import xml
from gateway.s3.http import http_date
from gateway.s3.router import ListQuery
from gateway.s3.version_ids import version_headers

__all__ = ["get_object_attributes"]


def _parts(answer: dict[str, Any], q: ListQuery) -> xml.ObjectParts | None:
    obj = answer["object"]
    if "-" not in str(obj["etag"]):
        return None  # not uploaded in parts: AWS answers no ObjectParts
    stored = obj.get("checksums") or {}
    algorithm = integrity.stored_algorithm(stored)
    checksums = [value for _, value in stored.get("parts") or []]
    sizes = [int(s) for s in answer["part_sizes"]]
    marker = int(q.marker or 0)
    numbers = [n for n in range(1, len(sizes) + 1) if n > marker]
    page = numbers[: q.max_keys]
    rows = [
        (n, sizes[n - 1], {f"Checksum{algorithm}": checksums[n - 1]} if algorithm and n <= len(checksums) else {})
        for n in page
    ]
    more = len(numbers) > len(page)
    return xml.ObjectParts(int(answer["parts_count"]), marker, q.max_keys, rows, page[-1] if more and page else None)


async def get_object_attributes(call: Call) -> web.Response:
    answer = await call.sat.head_parts(call.tenant_id, call.bucket, call.key, call.endpoint.version_id)
    obj = answer["object"]
    keys = encryption.read_keys(call, call.bucket, obj.get("metadata"), encryption.request_key(call),
                                owner=str(answer.get("owner") or call.tenant_id))  # fmt: skip
    fields = integrity.checksum_fields(obj.get("checksums"))
    body = xml.object_attributes(
        call.endpoint.object_attributes, etag=str(obj["etag"]), size=int(obj["size"]), checksum=fields,
        parts=_parts(answer, call.endpoint.list_query or ListQuery()),
    )  # fmt: skip
    headers = {"Last-Modified": http_date(created_at(obj)), **version_headers(obj)}
    if keys.md5 is not None:
        headers.update(keys.headers)
    return xml_response(body, headers=headers)
