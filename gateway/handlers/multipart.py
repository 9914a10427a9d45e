"""Multipart uploads: each part's body streams through the pipeline into segments of a
pending upload at the satellite; Complete asks the satellite to stitch the parts into one
object (it checks part ETags, order and ``EntityTooSmall``, and computes the ``…-N`` ETag).
UploadPartCopy reads the source range through the download pipeline and uploads it as
the part (a range of an object cannot share whole pieces).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import datetime

from aiohttp import web

from gateway.handlers.bucket import xml_response
from gateway.handlers.common import (
    Call,
    SatellitePlacer,
    created_at,
    metadata_from_headers,
    quote_etag,
    segment_json,
    segment_sources,
)
from gateway.handlers.conditional import write_condition
from gateway.handlers.object_put import DEFAULT_CONTENT_TYPE, checksum_headers, upload_body
from gateway.s3 import xml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error
from gateway.s3.http import check_copy_source_conditions
from gateway.s3.router import ListQuery

__all__ = [
    "Md5Stream",
    "abort_multipart_upload",
    "complete_multipart_upload",
    "create_multipart_upload",
    "list_multipart_uploads",
    "list_parts",
    "upload_part",
    "upload_part_copy",
]

_MAX_COMPLETE_BODY = 10000 * 200 + 4096  # 10,000 parts of ~200 bytes of XML each


def _upload_id(call: Call) -> str:
    if not call.endpoint.upload_id:
        raise RuntimeError("multipart operation routed without an upload id")
    return call.endpoint.upload_id


def _part_number(call: Call) -> int:
    if call.endpoint.part_number is None:
        raise RuntimeError("part operation routed without a part number")
    return call.endpoint.part_number


async def create_multipart_upload(call: Call) -> web.Response:
    headers = call.request.headers
    meta = {
        "content_type": headers.get("Content-Type", DEFAULT_CONTENT_TYPE),
        "metadata": metadata_from_headers(headers),
        "tags": xml.parse_tagging_header(headers["x-amz-tagging"]) if "x-amz-tagging" in headers else {},
    }
    algorithm = headers.get("x-amz-checksum-algorithm")
    upload = await call.sat.create_upload(call.tenant_id, call.bucket, call.key, meta, algorithm.upper() if algorithm
                                          else None)  # fmt: skip
    return xml_response(xml.initiate_multipart_upload_result(call.bucket, call.key, str(upload["upload_id"])))


def _part_placer(call: Call) -> SatellitePlacer:
    return SatellitePlacer(call.sat, call.tenant_id, call.bucket, call.key, _upload_id(call), _part_number(call))


async def upload_part(call: Call, auth: AuthResult) -> web.Response:
    reader = BodyReader(call.request, auth)
    result = await upload_body(call, reader, _part_placer(call))
    checksums = {alg.value: value for alg, value in reader.checksums.items()}
    await call.sat.commit_part(
        call.tenant_id, call.bucket, call.key, _upload_id(call), _part_number(call),
        size=result.size, etag=reader.etag, segments=[segment_json(s) for s in result.segments], checksums=checksums,
    )  # fmt: skip
    return web.Response(headers={"ETag": reader.etag, **checksum_headers(checksums)})


class Md5Stream:
    """Bytes read back from the network, hashed on their way to the uploader (the ETag of
    a copy is the MD5 of what was written)."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self.chunks = chunks
        self.md5 = hashlib.md5(usedforsecurity=False)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            self.md5.update(chunk)
            yield chunk

    @property
    def etag(self) -> str:
        return f'"{self.md5.hexdigest()}"'


async def upload_part_copy(call: Call) -> web.Response:
    src = call.endpoint.copy_source
    if src is None:
        raise RuntimeError("UploadPartCopy routed without a copy source")
    first, last = src.range if src.range is not None else (None, None)
    answer = await call.sat.get_object(call.tenant_id, src.bucket, src.key, range_start=first, range_end=last)
    obj = answer["object"]
    check_copy_source_conditions(call.request.headers, quote_etag(str(obj["etag"])), created_at(obj))
    size = int(obj["size"])
    rng = answer.get("range")
    if src.range is not None and (rng is None or int(rng[1]) != last):
        raise S3Error("InvalidRange", headers={"Content-Range": f"bytes */{size}"})
    start, stop = (int(rng[0]), int(rng[1]) + 1) if rng is not None else (0, size)
    downloader = call.services.downloader(call.tenant_id, src.bucket)
    body = Md5Stream(downloader.stream(segment_sources(answer.get("segments") or []), start, stop - start))
    result = await upload_body(call, body, _part_placer(call))
    etag = body.etag
    part = await call.sat.commit_part(
        call.tenant_id, call.bucket, call.key, _upload_id(call), _part_number(call),
        size=result.size, etag=etag, segments=[segment_json(s) for s in result.segments],
    )  # fmt: skip
    return xml_response(xml.copy_part_result(etag, datetime.fromisoformat(str(part["created"]))))


async def complete_multipart_upload(call: Call, auth: AuthResult) -> web.Response:
    parts = xml.parse_complete_multipart_upload(await BodyReader(call.request, auth).read_all(_MAX_COMPLETE_BODY))
    condition = write_condition(call.request.headers)  # checked in Complete's transaction
    obj = await call.sat.complete_upload(
        call.tenant_id, call.bucket, call.key, _upload_id(call), [(p.part_number, p.etag) for p in parts],
        condition=condition,
    )  # fmt: skip
    etag = quote_etag(str(obj["etag"]))
    location = f"/{call.bucket}/{call.key}"
    return xml_response(xml.complete_multipart_upload_result(location, call.bucket, call.key, etag))


async def abort_multipart_upload(call: Call) -> web.Response:
    await call.sat.abort_upload(call.tenant_id, call.bucket, call.key, _upload_id(call))
    return web.Response(status=204)


async def list_parts(call: Call) -> web.Response:
    q = call.endpoint.list_query or ListQuery()
    marker = int(q.marker) if q.marker and q.marker.isdigit() else 0
    answer = await call.sat.list_parts(call.tenant_id, call.bucket, call.key, _upload_id(call),
                                       part_number_marker=marker, max_parts=q.max_keys)  # fmt: skip
    parts = [
        xml.PartInfo(int(p["part_number"]), datetime.fromisoformat(p["created"]), quote_etag(p["etag"]), int(p["size"]),
                     {f"Checksum{k}": v for k, v in (p.get("checksums") or {}).items()})
        for p in answer["parts"]
    ]  # fmt: skip
    owner = xml.Owner(call.tenant_id, call.tenant_id)
    body = xml.list_parts_result(
        call.bucket, call.key, _upload_id(call), q, parts,
        is_truncated=bool(answer["truncated"]), next_part_number_marker=answer.get("next_marker"), owner=owner,
    )  # fmt: skip
    return xml_response(body)


async def list_multipart_uploads(call: Call) -> web.Response:
    q = call.endpoint.list_query or ListQuery()
    answer = await call.sat.list_uploads(
        call.tenant_id, call.bucket, prefix=q.prefix, key_marker=q.marker or "",
        upload_id_marker=q.upload_id_marker or "", max_uploads=q.max_keys,
    )  # fmt: skip
    owner = xml.Owner(call.tenant_id, call.tenant_id)
    uploads = [
        xml.UploadInfo(u["key"], u["upload_id"], datetime.fromisoformat(u["created"]), owner=owner)
        for u in answer["uploads"]
    ]
    body = xml.list_multipart_uploads_result(
        call.bucket, q, uploads, [], is_truncated=bool(answer["truncated"]),
        next_key_marker=answer.get("next_key_marker"), next_upload_id_marker=answer.get("next_upload_id_marker"),
    )  # fmt: skip
    return xml_response(body)
