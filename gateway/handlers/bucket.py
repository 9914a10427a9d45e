"""Bucket operations: ListBuckets, CreateBucket (LocationConstraint = policy), HeadBucket,
DeleteBucket, GetBucketLocation (versioning is in :mod:`.versioning`)."""

from __future__ import annotations

import base64
from datetime import datetime

from aiohttp import web

from gateway.handlers.common import Call
from gateway.s3 import xml
from gateway.s3.acl_headers import requested_acl
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error

__all__ = [
    "create_bucket",
    "delete_bucket",
    "get_bucket_location",
    "head_bucket",
    "list_buckets",
    "xml_response",
]

_MAX_CONFIG = 64 * 1024


def xml_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=body, status=status, content_type="application/xml", headers=headers)


async def list_buckets(call: Call) -> web.Response:
    """ListBuckets with AWS's ``prefix``, ``max-buckets`` (1-10000) and ``continuation-token``
    (opaque to clients: the last name of the previous page)."""
    q = call.request.query
    prefix = q.get("prefix")
    limit = _max_buckets(q.get("max-buckets"))
    after = _after_token(q.get("continuation-token"))
    buckets = sorted(await call.sat.list_buckets(call.tenant_id), key=lambda b: b["name"])
    chosen = [b for b in buckets if b["name"].startswith(prefix or "") and (after is None or b["name"] > after)]
    page, more = chosen[:limit], len(chosen) > limit
    token = base64.urlsafe_b64encode(page[-1]["name"].encode()).decode() if more and page else None
    infos = [xml.BucketInfo(b["name"], datetime.fromisoformat(b["created"])) for b in page]
    owner = xml.Owner(call.tenant_id, call.tenant_id)
    return xml_response(xml.list_buckets_result(owner, infos, prefix=prefix, continuation=token))


def _max_buckets(raw: str | None) -> int:
    if raw is None:
        return 10_000
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise S3Error("InvalidArgument", "Argument max-buckets must be an integer between 1 and 10000",
                      ArgumentName="max-buckets", ArgumentValue=raw)  # fmt: skip
    return int(raw)


def _after_token(raw: str | None) -> str | None:
    if raw is None:
        return None
    try:
        return base64.b64decode(raw.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      ArgumentName="continuation-token") from None  # fmt: skip


async def create_bucket(call: Call, auth: AuthResult) -> web.Response:
    body = b""
    if call.request.body_exists:
        body = await BodyReader(call.request, auth).read_all(_MAX_CONFIG)
    policy = xml.parse_create_bucket_configuration(body) or ""
    ownership = call.request.headers.get("x-amz-object-ownership")
    await call.sat.create_bucket(call.tenant_id, call.bucket, policy, ownership=ownership,
                                 acl=requested_acl(call.request.headers),
                                 object_lock=call.request.headers.get("x-amz-bucket-object-lock-enabled", "")
                                 .strip().lower() == "true")  # fmt: skip
    return web.Response(headers={"Location": f"/{call.bucket}"})


async def head_bucket(call: Call) -> web.Response:
    # Whoever may list the bucket may HEAD it (an ACL or policy can open it to everyone).
    bucket = await call.sat.get_bucket(call.tenant_id, call.bucket, action="s3:ListBucket")
    return web.Response(headers={"x-amz-bucket-region": str(bucket["policy"])})


async def delete_bucket(call: Call) -> web.Response:
    await call.sat.delete_bucket(call.tenant_id, call.bucket)
    call.services.schemes.pop((call.tenant_id, call.bucket), None)
    call.services.learn_inline(call.tenant_id, call.bucket, False)
    return web.Response(status=204)


async def get_bucket_location(call: Call) -> web.Response:
    bucket = await call.sat.get_bucket(call.tenant_id, call.bucket)
    return xml_response(xml.location_constraint(str(bucket["policy"])))
