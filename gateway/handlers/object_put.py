"""PutObject: the verified body streams through the upload pipeline; commit only at the end.

The body reader raises at the end of the body for a short body or a digest mismatch, and
the pipeline raises when too few pieces land; either way the exception leaves the handler
before ``commit_object``, so the key keeps its previous version and nothing new is
visible (the landed pieces become garbage for the nodes' retain lists).
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any

from aiohttp import web

from gateway import satellite_client as sc
from gateway.handlers import conditional, encryption, lifecycle, object_lock
from gateway.handlers.common import Call, SatellitePlacer, metadata_from_headers, segment_json
from gateway.pipeline import UploadResult
from gateway.s3 import xml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.sse import check_sse_request
from gateway.s3.version_ids import version_headers

__all__ = ["DEFAULT_CONTENT_TYPE", "put_object", "upload_body"]

DEFAULT_CONTENT_TYPE = "binary/octet-stream"


async def upload_body(call: Call, reader: AsyncIterable[bytes], placer: SatellitePlacer, *, allow_inline: bool = True,
                      wrapping_key: bytes | None = None) -> UploadResult:  # fmt: skip
    """Stream ``reader`` through the pipeline (PutObject and UploadPart); ``wrapping_key``
    replaces the bucket key for SSE-C."""
    allow_inline = allow_inline and await call.inline_allowed()
    uploader = call.services.uploader(placer, call.tenant_id, call.bucket, allow_inline=allow_inline,
                                      wrapping_key=wrapping_key)  # fmt: skip
    result = await uploader.upload(reader)
    call.services.learn_scheme(call.tenant_id, call.bucket, uploader)
    return result


def checksum_headers(checksums: dict[str, Any]) -> dict[str, str]:
    return {f"x-amz-checksum-{name.lower()}": str(value) for name, value in checksums.items()}


async def put_object(call: Call, auth: AuthResult) -> web.Response:
    headers = call.request.headers
    reader = BodyReader(call.request, auth)  # length and integrity claims checked before any byte
    sse_c = encryption.request_key(call)
    check_sse_request(headers, sse_c)
    keys = encryption.write_keys(call, call.bucket, sse_c)
    metadata = keys.mark(metadata_from_headers(headers))
    tags = xml.parse_tagging_header(headers["x-amz-tagging"]) if "x-amz-tagging" in headers else {}
    lock = await object_lock.write_lock(call)  # before the body: bad lock headers upload nothing
    condition = await conditional.precheck(call)  # a write that cannot succeed uploads nothing
    placer = SatellitePlacer(call.sat, call.tenant_id, call.bucket, call.key)
    result = await upload_body(call, reader, placer, wrapping_key=keys.wrapping_key)
    checksums = {alg.value: value for alg, value in reader.checksums.items()}
    meta = {
        "size": result.size,
        "etag": reader.etag,
        "content_type": headers.get("Content-Type", DEFAULT_CONTENT_TYPE),
        "metadata": metadata,
        "checksums": checksums,
        "tags": tags,
        **({"lock": lock} if lock is not None else {}),
    }
    segments = [segment_json(s) for s in result.segments]
    try:
        with conditional.conflict_if_vanished(condition):
            obj = await call.sat.commit_object(call.tenant_id, call.bucket, call.key, meta, segments, condition)
    except sc.NotEnoughNodes:  # an inline segment its policy no longer allows: the retry asks again
        call.services.learn_inline(call.tenant_id, call.bucket, False)
        raise
    expiration = await lifecycle.expiration_headers(call, obj)
    return web.Response(headers={"ETag": reader.etag, **checksum_headers(checksums), **keys.headers, **expiration,
                                 **version_headers(obj)})  # fmt: skip
