"""GetBucketVersioning, PutBucketVersioning and ListObjectVersions (docs/versioning.md)."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call, quote_etag
from gateway.s3 import versioning as vxml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.router import ListQuery
from gateway.s3.xml import Owner

__all__ = ["get_bucket_versioning", "list_object_versions", "put_bucket_versioning"]

_MAX_CONFIG = 64 * 1024


async def get_bucket_versioning(call: Call) -> web.Response:
    return xml_response(vxml.versioning_configuration(await call.sat.get_versioning(call.tenant_id, call.bucket)))


async def put_bucket_versioning(call: Call, auth: AuthResult) -> web.Response:
    status = vxml.parse_versioning_configuration(await BodyReader(call.request, auth).read_all(_MAX_CONFIG))
    await call.sat.put_versioning(call.tenant_id, call.bucket, status)
    return web.Response()


async def list_object_versions(call: Call) -> web.Response:
    q = call.endpoint.list_query or ListQuery()
    page = await call.sat.list_versions(
        call.tenant_id, call.bucket, prefix=q.prefix, delimiter=q.delimiter or "", key_marker=q.marker or "",
        version_id_marker=q.version_id_marker or "", max_keys=q.max_keys,
    )  # fmt: skip
    owner_id = str(page.get("owner") or call.tenant_id)
    versions = [
        vxml.VersionInfo(v["key"], str(v["version_id"]), bool(v["is_latest"]), datetime.fromisoformat(v["created"]),
                         bool(v.get("delete_marker")), quote_etag(str(v["etag"])), int(v["size"]))
        for v in page["versions"]
    ]  # fmt: skip
    body = vxml.list_versions_result(
        call.bucket, prefix=q.prefix, delimiter=q.delimiter, key_marker=q.marker or "",
        version_id_marker=q.version_id_marker or "", max_keys=q.max_keys, url=q.encoding_type == "url",
        versions=versions, prefixes=page["prefixes"], owner=Owner(owner_id, owner_id),
        truncated=bool(page["truncated"]),
        next_key_marker=page.get("next_key_marker"), next_version_id_marker=page.get("next_version_id_marker"),
    )  # fmt: skip
    return xml_response(body)
