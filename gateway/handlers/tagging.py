"""GetObjectTagging, PutObjectTagging, DeleteObjectTagging (metadata at the satellite)."""

from __future__ import annotations

from aiohttp import web

from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call
from gateway.s3 import xml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult

__all__ = ["delete_object_tagging", "get_object_tagging", "put_object_tagging"]

_MAX_TAGGING_BODY = 64 * 1024


async def get_object_tagging(call: Call) -> web.Response:
    tags = await call.sat.get_tags(call.tenant_id, call.bucket, call.key)
    return xml_response(xml.tagging(tags))


async def put_object_tagging(call: Call, auth: AuthResult) -> web.Response:
    tags = xml.parse_tagging(await BodyReader(call.request, auth).read_all(_MAX_TAGGING_BODY))
    await call.sat.put_tags(call.tenant_id, call.bucket, call.key, tags)
    return web.Response()


async def delete_object_tagging(call: Call) -> web.Response:
    await call.sat.delete_tags(call.tenant_id, call.bucket, call.key)
    return web.Response(status=204)
