"""GetObjectTagging, PutObjectTagging, DeleteObjectTagging (metadata at the satellite)."""

from __future__ import annotations

from aiohttp import web

from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call
from gateway.s3 import xml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.version_ids import version_headers

__all__ = ["delete_object_tagging", "get_object_tagging", "put_object_tagging"]

_MAX_TAGGING_BODY = 64 * 1024


async def get_object_tagging(call: Call) -> web.Response:
    answer = await call.sat.get_tagging(call.tenant_id, call.bucket, call.key, call.endpoint.version_id)
    return xml_response(xml.tagging(answer["tags"]), headers=version_headers(answer["object"]))


async def put_object_tagging(call: Call, auth: AuthResult) -> web.Response:
    tags = xml.parse_tagging(await BodyReader(call.request, auth).read_all(_MAX_TAGGING_BODY))
    obj = await call.sat.put_tags(call.tenant_id, call.bucket, call.key, tags, call.endpoint.version_id)
    return web.Response(headers=version_headers(obj))


async def delete_object_tagging(call: Call) -> web.Response:
    obj = await call.sat.delete_tags(call.tenant_id, call.bucket, call.key, call.endpoint.version_id)
    return web.Response(status=204, headers=version_headers(obj))
