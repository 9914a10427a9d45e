"""DeleteObject and DeleteObjects: metadata only; the nodes collect the pieces from retain lists."""

from __future__ import annotations

from aiohttp import web

from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call
from gateway.s3 import xml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult

__all__ = ["delete_object", "delete_objects"]

_MAX_DELETE_BODY = 2 * 1024 * 1024  # 1,000 keys of 1,024 bytes, with XML around them


async def delete_object(call: Call) -> web.Response:
    # S3 answers 204 whether or not the key existed.
    await call.sat.delete_object(call.tenant_id, call.bucket, call.key)
    return web.Response(status=204)


async def delete_objects(call: Call, auth: AuthResult) -> web.Response:
    body = await BodyReader(call.request, auth).read_all(_MAX_DELETE_BODY)
    request = xml.parse_delete(body)
    await call.sat.delete_objects(call.tenant_id, call.bucket, request.keys)
    return xml_response(xml.delete_result(request.keys, [], quiet=request.quiet))
