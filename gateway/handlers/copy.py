"""CopyObject: share the source's pieces when the satellite allows, else stream a copy.

Segment keys are wrapped under a per-bucket key, so a copy into another bucket re-wraps
each segment key for the destination (the gateway alone can: the satellite never sees a
key in the clear) and the satellite then points the new object at the same pieces. When
the destination's policy cannot hold those pieces (another scheme, or nodes outside its
regions) the satellite answers ``CopyNeedsReupload`` and the bytes go through the
download and upload pipelines, placed afresh under the destination's policy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from erasure import unwrap_key, wrap_key
from gateway.handlers import encryption, lifecycle, object_lock
from gateway.handlers.bucket import xml_response
from gateway.handlers.common import (
    Call,
    SatellitePlacer,
    b64,
    created_at,
    metadata_from_headers,
    quote_etag,
    segment_json,
    segment_sources,
    unb64,
)
from gateway.handlers.conditional import write_condition
from gateway.handlers.multipart import Md5Stream
from gateway.handlers.object_put import DEFAULT_CONTENT_TYPE, upload_body
from gateway.s3 import xml
from gateway.s3.acl_headers import ACL_MARK, requested_acl
from gateway.s3.errors import S3Error
from gateway.s3.http import check_copy_source_conditions
from gateway.s3.sse import check_sse_request
from gateway.s3.version_ids import COPY_FROM_MARKER, version_headers
from gateway.satellite_client import CopyNeedsReupload, MethodNotAllowed

__all__ = ["copy_object"]


def _new_meta(call: Call, src: dict[str, Any]) -> dict[str, Any] | None:
    """None keeps the source's metadata (the COPY directive); REPLACE takes this request's."""
    headers = call.request.headers
    directive = headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.", ArgumentName="x-amz-metadata-directive",
                      ArgumentValue=directive)  # fmt: skip
    tagging = headers.get("x-amz-tagging-directive", "COPY").upper()
    acl = requested_acl(headers)
    if directive == "COPY" and tagging == "COPY" and acl is None:
        return None
    meta = _source_meta(src)
    if acl is not None:
        meta["metadata"][ACL_MARK] = acl
    if directive == "REPLACE":
        meta["content_type"] = headers.get("Content-Type", DEFAULT_CONTENT_TYPE)
        meta["metadata"] = metadata_from_headers(headers)
    if tagging == "REPLACE":
        meta["tags"] = xml.parse_tagging_header(headers.get("x-amz-tagging", ""))
    return meta


def _source_meta(obj: dict[str, Any]) -> dict[str, Any]:
    """The source's metadata for the copy, without its ACL: S3 never copies an ACL."""
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k != ACL_MARK}
    return {"content_type": obj.get("content_type", ""), "metadata": metadata,
            "checksums": obj.get("checksums") or {}, "tags": obj.get("tags") or {}}  # fmt: skip


async def copy_object(call: Call) -> web.Response:
    src = call.endpoint.copy_source
    if src is None:
        raise RuntimeError("CopyObject routed without a copy source")
    source_key, target_key = encryption.request_key(call, copy_source=True), encryption.request_key(call)
    check_sse_request(call.request.headers, target_key)
    # Another tenant's, if its policy lets us; the version asked for, else the latest.
    try:
        answer = await call.sat.get_object(call.tenant_id, src.bucket, src.key, version_id=src.version_id)
    except MethodNotAllowed:
        raise S3Error("InvalidRequest", COPY_FROM_MARKER) from None
    obj = answer["object"]
    owner = str(answer.get("owner") or call.tenant_id)
    src_keys = encryption.read_keys(call, src.bucket, obj.get("metadata"), source_key, of="copy source", owner=owner)
    dst_keys = encryption.write_keys(call, call.bucket, target_key)
    check_copy_source_conditions(call.request.headers, quote_etag(str(obj["etag"])), created_at(obj))
    meta = _new_meta(call, obj)
    # SSE-C on either side: the segment keys are wrapped anew and the stored check value
    # follows the destination, so the metadata is always spelled out.
    sse_c = src_keys.check is not None or dst_keys.check is not None
    if sse_c and meta is None:
        meta = _source_meta(obj)
    lock = await object_lock.write_lock(call)  # the new version's own lock; else the bucket's default
    if lock is not None:
        meta = {**(meta if meta is not None else _source_meta(obj)), "lock": lock}
    if meta is not None:
        meta["metadata"] = dst_keys.mark(meta["metadata"])
    if (src.bucket, src.key) == (call.bucket, call.key) and meta is None:
        raise S3Error(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without changing the "
            "object's metadata, storage class, website redirect location or encryption attributes.",
        )
    condition = write_condition(call.request.headers)  # on the destination, checked at commit
    segments = answer.get("segments") or []
    keys = None
    if src.bucket != call.bucket or sse_c:
        keys = [b64(wrap_key(dst_keys.wrapping_key, unwrap_key(src_keys.wrapping_key, unb64(s["wrapped_key"]))))
                for s in segments]  # fmt: skip
    try:
        copied = await call.sat.copy_object(
            call.tenant_id, src.bucket, src.key, call.tenant_id, call.bucket, call.key, meta=meta, segment_keys=keys,
            condition=condition, source_version_id=obj.get("version_id"),  # the very version read
        )  # fmt: skip
        etag = quote_etag(str(copied["etag"]))
    except CopyNeedsReupload:
        full = meta if meta is not None else _source_meta(obj)
        etag, copied = await _stream_copy(call, answer, full, condition, (src_keys, dst_keys))
    body = xml.copy_object_result(etag, datetime.fromisoformat(str(copied["created"])))
    headers = {**dst_keys.headers, **version_headers(copied), **await lifecycle.expiration_headers(call, copied)}
    if obj.get("version_id") is not None:
        headers["x-amz-copy-source-version-id"] = str(obj["version_id"])
    return xml_response(body, headers=headers)


Keys = tuple[encryption.ObjectKeys, encryption.ObjectKeys]  # the source's and the destination's


async def _stream_copy(call: Call, answer: dict[str, Any], meta: dict[str, Any], condition: dict[str, Any] | None,
                       keys: Keys) -> tuple[str, dict[str, Any]]:  # fmt: skip
    size = int(answer["object"]["size"])
    src = call.endpoint.copy_source
    if src is None:
        raise RuntimeError("CopyObject routed without a copy source")
    downloader = call.services.downloader(str(answer.get("owner") or call.tenant_id), src.bucket, keys[0].wrapping_key)
    body = Md5Stream(downloader.stream(segment_sources(answer.get("segments") or []), 0, size))
    placer = SatellitePlacer(call.sat, call.tenant_id, call.bucket, call.key)
    result = await upload_body(call, body, placer, wrapping_key=keys[1].wrapping_key)
    full = {**meta, "size": result.size, "etag": body.etag}
    committed = await call.sat.commit_object(call.tenant_id, call.bucket, call.key, full,
                                             [segment_json(s) for s in result.segments], condition)  # fmt: skip
    return body.etag, committed
