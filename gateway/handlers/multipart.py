"""Multipart uploads: each part's body streams through the pipeline into segments of a
pending upload at the satellite; Complete asks the satellite to stitch the parts into one
object (it checks part ETags, order and ``EntityTooSmall``, and computes the ``…-N`` ETag).
UploadPartCopy reads the source range through the download pipeline and uploads it as
the part (a range of an object cannot share whole pieces).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway import satellite_client as sc
from gateway.handlers import encryption, integrity, lifecycle, object_lock
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
from gateway.s3.checksums import ChecksumAlgorithm, ExpectedChecksums, MultiHasher, parse_checksum_headers
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error
from gateway.s3.http import check_copy_source_conditions
from gateway.s3.router import ListQuery
from gateway.s3.sse import check_sse_request
from gateway.s3.version_ids import COPY_FROM_MARKER, version_headers

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
    sse_c = encryption.request_key(call)
    check_sse_request(headers, sse_c)
    keys = encryption.write_keys(call, call.bucket, sse_c)  # every part must bring the same key
    meta = {
        "content_type": headers.get("Content-Type", DEFAULT_CONTENT_TYPE),
        "metadata": keys.mark(metadata_from_headers(headers)),
        "tags": xml.parse_tagging_header(headers["x-amz-tagging"]) if "x-amz-tagging" in headers else {},
    }
    lock = await object_lock.write_lock(call)
    if lock is not None:
        meta["lock"] = lock
    raw_algorithm = headers.get("x-amz-checksum-algorithm")
    algorithm = raw_algorithm.strip().upper() if raw_algorithm else None
    kind = integrity.upload_checksum_type(algorithm, headers.get("x-amz-checksum-type"))
    out = dict(keys.headers)
    if kind is not None:
        meta["metadata"][integrity.TYPE_MARK] = kind
        out.update({"x-amz-checksum-algorithm": str(algorithm), "x-amz-checksum-type": kind})
    upload = await call.sat.create_upload(call.tenant_id, call.bucket, call.key, meta, algorithm)
    out.update(await lifecycle.abort_headers(call, datetime.now(UTC)))
    body = xml.initiate_multipart_upload_result(call.bucket, call.key, str(upload["upload_id"]))
    return xml_response(body, headers=out)


def _part_placer(call: Call) -> SatellitePlacer:
    return SatellitePlacer(call.sat, call.tenant_id, call.bucket, call.key, _upload_id(call), _part_number(call))


async def _part_keys(call: Call) -> tuple[encryption.ObjectKeys, str | None]:
    """The keys a part is written with (the upload's SSE-C key, which the part must bring)
    and the upload's checksum algorithm."""
    sse_c = encryption.request_key(call)
    upload = (await call.sat.list_parts(call.tenant_id, call.bucket, call.key, _upload_id(call), max_parts=1))["upload"]
    keys = encryption.read_keys(call, call.bucket, upload.get("metadata"), sse_c, of="upload")
    return keys, upload.get("checksum_algorithm")


async def upload_part(call: Call, auth: AuthResult) -> web.Response:
    keys, algorithm = await _part_keys(call)
    reader = BodyReader(call.request, auth, expected=integrity.part_expectations(call.request.headers, algorithm))
    result = await upload_body(call, reader, _part_placer(call), wrapping_key=keys.wrapping_key)
    checksums = {alg.value: value for alg, value in reader.checksums.items()}
    await call.sat.commit_part(
        call.tenant_id, call.bucket, call.key, _upload_id(call), _part_number(call),
        size=result.size, etag=reader.etag, segments=[segment_json(s) for s in result.segments], checksums=checksums,
    )  # fmt: skip
    return web.Response(headers={"ETag": reader.etag, **checksum_headers(checksums), **keys.headers})


class Md5Stream:
    """Bytes read back from the network, hashed on their way to the uploader (the ETag of
    a copy is the MD5 of what was written; a part of an upload with a checksum algorithm
    also gets that checksum)."""

    def __init__(self, chunks: AsyncIterator[bytes], algorithm: str | None = None) -> None:
        self.chunks = chunks
        self.algorithm = ChecksumAlgorithm.from_name(algorithm) if algorithm else None
        self.hasher = MultiHasher((self.algorithm,) if self.algorithm else ())

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.chunks:
            self.hasher.update(chunk)
            yield chunk

    @property
    def etag(self) -> str:
        return self.hasher.etag

    @property
    def checksums(self) -> dict[str, str]:
        return {self.algorithm.value: self.hasher.checksum(self.algorithm)} if self.algorithm else {}


async def upload_part_copy(call: Call) -> web.Response:
    src = call.endpoint.copy_source
    if src is None:
        raise RuntimeError("UploadPartCopy routed without a copy source")
    first, last = src.range if src.range is not None else (None, None)
    source_key = encryption.request_key(call, copy_source=True)
    keys, algorithm = await _part_keys(call)
    try:
        answer = await call.sat.get_object(call.tenant_id, src.bucket, src.key, range_start=first, range_end=last,
                                           version_id=src.version_id)  # fmt: skip
    except sc.MethodNotAllowed:
        raise S3Error("InvalidRequest", COPY_FROM_MARKER) from None
    obj = answer["object"]
    owner = str(answer.get("owner") or call.tenant_id)  # the source may be another tenant's, by its policy
    src_keys = encryption.read_keys(call, src.bucket, obj.get("metadata"), source_key, of="copy source", owner=owner)
    check_copy_source_conditions(call.request.headers, quote_etag(str(obj["etag"])), created_at(obj))
    size = int(obj["size"])
    rng = answer.get("range")
    if src.range is not None and (rng is None or int(rng[1]) != last):
        raise S3Error("InvalidRange", headers={"Content-Range": f"bytes */{size}"})
    start, stop = (int(rng[0]), int(rng[1]) + 1) if rng is not None else (0, size)
    downloader = call.services.downloader(owner, src.bucket, src_keys.wrapping_key)
    body = Md5Stream(downloader.stream(segment_sources(answer.get("segments") or []), start, stop - start), algorithm)
    result = await upload_body(call, body, _part_placer(call), wrapping_key=keys.wrapping_key)
    etag = body.etag
    part = await call.sat.commit_part(
        call.tenant_id, call.bucket, call.key, _upload_id(call), _part_number(call),
        size=result.size, etag=etag, segments=[segment_json(s) for s in result.segments], checksums=body.checksums,
    )  # fmt: skip
    return xml_response(xml.copy_part_result(etag, datetime.fromisoformat(str(part["created"]))), headers=keys.headers)


async def _all_parts(call: Call) -> tuple[dict[str, Any] | None, dict[int, dict[str, Any]]]:
    """The upload and its parts by number; (None, {}) for an upload that is gone (a retried
    Complete: the satellite answers it from its memory of completed uploads)."""
    parts: dict[int, dict[str, Any]] = {}
    marker = 0
    try:
        while True:
            page = await call.sat.list_parts(call.tenant_id, call.bucket, call.key, _upload_id(call),
                                             part_number_marker=marker, max_parts=1000)  # fmt: skip
            parts.update({int(p["part_number"]): p for p in page["parts"]})
            if not page["truncated"]:
                return page["upload"], parts
            marker = int(page["next_marker"])
    except sc.NoSuchUpload:
        return None, {}


def _object_checksums(upload: dict[str, Any], stored: dict[int, dict[str, Any]], claimed: list[xml.CompletedPart],
                      headers: Mapping[str, str]) -> dict[str, Any]:  # fmt: skip
    algorithm = upload.get("checksum_algorithm")
    kind = (upload.get("metadata") or {}).get(integrity.TYPE_MARK)
    if any(p.part_number not in stored for p in claimed):
        return {}  # the satellite answers InvalidPart
    if algorithm and kind == "COMPOSITE":
        for p in claimed:
            if f"Checksum{algorithm}" not in p.checksums:
                raise S3Error("InvalidRequest", f"The upload was created using a {algorithm.lower()} checksum. The "
                              "complete request must include the checksum for each part. It was missing for part "
                              f"{p.part_number} in the request.")  # fmt: skip
    chosen = [stored[p.part_number] for p in claimed]
    return integrity.multipart_checksums(algorithm, kind, chosen, [p.checksums for p in claimed], headers)


async def complete_multipart_upload(call: Call, auth: AuthResult) -> web.Response:
    # Complete's x-amz-checksum-* header is the whole object's checksum, not its body's.
    expected = ExpectedChecksums(parse_checksum_headers(call.request.headers).content_md5)
    reader = BodyReader(call.request, auth, expected=expected)
    parts = xml.parse_complete_multipart_upload(await reader.read_all(_MAX_COMPLETE_BODY))
    condition = write_condition(call.request.headers)  # checked in Complete's transaction
    upload, stored = await _all_parts(call)
    checksums = _object_checksums(upload, stored, parts, call.request.headers) if upload is not None else {}
    obj = await call.sat.complete_upload(
        call.tenant_id, call.bucket, call.key, _upload_id(call), [(p.part_number, p.etag) for p in parts],
        checksums=checksums, condition=condition,
    )  # fmt: skip
    etag = quote_etag(str(obj["etag"]))
    location = f"/{call.bucket}/{call.key}"
    headers = encryption.stored_headers(obj.get("metadata"), encryption.request_key(call))
    headers.update(await lifecycle.expiration_headers(call, obj))
    fields = integrity.checksum_fields(obj.get("checksums"))
    body = xml.complete_multipart_upload_result(location, call.bucket, call.key, etag, fields)
    return xml_response(body, headers={**headers, **version_headers(obj)})


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
                     {f"Checksum{k}": v for k, v in (p.get("checksums") or {}).items() if k in integrity.ALGORITHMS})
        for p in answer["parts"]
    ]  # fmt: skip
    owner = xml.Owner(call.tenant_id, call.tenant_id)
    upload = answer["upload"]
    algorithm = upload.get("checksum_algorithm")
    kind = (upload.get("metadata") or {}).get(integrity.TYPE_MARK)
    body = xml.list_parts_result(
        call.bucket, call.key, _upload_id(call), q, parts,
        is_truncated=bool(answer["truncated"]), next_part_number_marker=answer.get("next_marker"), owner=owner,
        checksum=(algorithm, kind) if algorithm and kind else None,
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
