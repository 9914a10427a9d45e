"""Put/Get/DeleteBucketCors: a bucket's CORS rules, checked here and stored at the satellite."""

from __future__ import annotations

from aiohttp import web

from gateway.cors import cors_configuration, parse_cors_configuration, rules_from_json
from gateway.cors.cache import forget
from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error

__all__ = ["delete_bucket_cors", "get_bucket_cors", "put_bucket_cors"]

_MAX_CONFIG = 64 * 1024


async def put_bucket_cors(call: Call, auth: AuthResult) -> web.Response:
    rules = parse_cors_configuration(await BodyReader(call.request, auth).read_all(_MAX_CONFIG))
    await call.sat.put_setting(call.tenant_id, call.bucket, "cors", {"rules": [r.to_json() for r in rules]})
    forget(call.request.app, call.bucket)
    return web.Response()


async def get_bucket_cors(call: Call) -> web.Response:
    rules = rules_from_json(await call.sat.get_setting(call.tenant_id, call.bucket, "cors"))
    if not rules:
        raise S3Error("NoSuchCORSConfiguration", BucketName=call.bucket)
    return xml_response(cors_configuration(rules))


async def delete_bucket_cors(call: Call) -> web.Response:
    await call.sat.delete_setting(call.tenant_id, call.bucket, "cors")
    forget(call.request.app, call.bucket)
    return web.Response(status=204)
