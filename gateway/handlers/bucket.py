"""Bucket operations: ListBuckets, CreateBucket (LocationConstraint = policy), HeadBucket,
DeleteBucket, GetBucketLocation, GetBucketVersioning."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from gateway.handlers.common import Call
from gateway.s3 import xml
from gateway.s3.acl_headers import requested_acl
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult

__all__ = [
    "create_bucket",
    "delete_bucket",
    "get_bucket_location",
    "get_bucket_versioning",
    "head_bucket",
    "list_buckets",
    "xml_response",
]

_MAX_CONFIG = 64 * 1024


def xml_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/xml", headers=headers)


async def list_buckets(call: Call) -> web.Response:
    buckets = await call.sat.list_buckets(call.tenant_id)
    infos = [xml.BucketInfo(b["name"], datetime.fromisoformat(b["created"])) for b in buckets]
    return xml_response(xml.list_buckets_result(xml.Owner(call.tenant_id, call.tenant_id), infos))


async def create_bucket(call: Call, auth: AuthResult) -> web.Response:
    body = b""
    if call.request.body_exists:
        body = await BodyReader(call.request, auth).read_all(_MAX_CONFIG)
    policy = xml.parse_create_bucket_configuration(body) or ""
    ownership = call.request.headers.get("x-amz-object-ownership")
    await call.sat.create_bucket(call.tenant_id, call.bucket, policy, ownership=ownership,
                                 acl=requested_acl(call.request.headers))  # fmt: skip
    return web.Response(headers={"Location": f"/{call.bucket}"})


async def head_bucket(call: Call) -> web.Response:
    # Whoever may list the bucket may HEAD it (an ACL or policy can open it to everyone).
    bucket = await call.sat.get_bucket(call.tenant_id, call.bucket, action="s3:ListBucket")
    return web.Response(headers={"x-amz-bucket-region": str(bucket["policy"])})


async def delete_bucket(call: Call) -> web.Response:
    await call.sat.delete_bucket(call.tenant_id, call.bucket)
    call.services.schemes.pop((call.tenant_id, call.bucket), None)
    return web.Response(status=204)


async def get_bucket_location(call: Call) -> web.Response:
    bucket = await call.sat.get_bucket(call.tenant_id, call.bucket)
    return xml_response(xml.location_constraint(str(bucket["policy"])))


async def get_bucket_versioning(call: Call) -> web.Response:
    await call.sat.get_bucket(call.tenant_id, call.bucket)  # NoSuchBucket / AccessDenied first
    return xml_response(xml.versioning_configuration())
