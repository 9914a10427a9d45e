"""Bucket policies and S3 Block Public Access, and which requests may come without credentials.

PutBucketPolicy / GetBucketPolicy / DeleteBucketPolicy carry the policy as JSON text;
the satellite parses, checks (``MalformedPolicy`` with AWS's message, principals that are
tenants, BlockPublicPolicy) and evaluates it on every read and write it authorizes.
Put/Get/DeletePublicAccessBlock carry the four flags as S3's XML document;
GetBucketPolicyStatus says whether the policy is public. Only the bucket's owner may call
any of them.

Without credentials a request may only ask for what a bucket's ACL or policy can open to
everyone: :data:`ANONYMOUS_OPERATIONS`. Anything else unsigned is ``AccessDenied`` at the
gateway, and the satellite refuses an anonymous requester on its own for every operation
that is not a read it authorizes, so a gateway that forgets a check opens nothing.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aiohttp import web

from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call
from gateway.s3 import xml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error
from gateway.s3.router import Operation

__all__ = [
    "ANONYMOUS_OPERATIONS",
    "delete_bucket_policy",
    "delete_public_access_block",
    "get_bucket_policy",
    "get_bucket_policy_status",
    "get_public_access_block",
    "put_bucket_policy",
    "put_public_access_block",
]

ANONYMOUS_OPERATIONS = frozenset({
    Operation.GET_OBJECT, Operation.HEAD_OBJECT, Operation.LIST_OBJECTS, Operation.LIST_OBJECTS_V2,
    Operation.HEAD_BUCKET, Operation.LIST_OBJECT_VERSIONS,
})  # fmt: skip

_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
_MAX_POLICY = 64 * 1024  # the satellite refuses over 20 KB with AWS's MalformedPolicy message
_MAX_XML = 16 * 1024


async def put_bucket_policy(call: Call, auth: AuthResult) -> web.Response:
    body = await BodyReader(call.request, auth).read_all(_MAX_POLICY)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise S3Error("MalformedPolicy", "This policy contains invalid Json") from None
    await call.sat.put_access(call.tenant_id, call.bucket, "policy", text)
    return web.Response(status=204)


async def get_bucket_policy(call: Call) -> web.Response:
    answer = await call.sat.get_access(call.tenant_id, call.bucket, "policy")
    return web.Response(text=str(answer["policy"]), content_type="application/json")


async def delete_bucket_policy(call: Call) -> web.Response:
    await call.sat.delete_access(call.tenant_id, call.bucket, "policy")
    return web.Response(status=204)


async def get_bucket_policy_status(call: Call) -> web.Response:
    answer = await call.sat.get_access(call.tenant_id, call.bucket)
    if answer.get("policy") is None:
        raise S3Error("NoSuchBucketPolicy")
    root = ET.Element("PolicyStatus", xmlns=xml.NS)
    ET.SubElement(root, "IsPublic").text = "true" if answer.get("policy_is_public") else "false"
    return xml_response(b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root))


def _parse_block(body: bytes) -> dict[str, bool]:
    root = xml.parse_document(body, "PublicAccessBlockConfiguration")
    out: dict[str, bool] = {}
    for el in root:
        name = el.tag.rsplit("}", 1)[-1]
        value = (el.text or "").strip().lower()
        if name not in _FLAGS or name in out or value not in ("true", "false"):
            raise S3Error("MalformedXML")
        out[name] = value == "true"
    return {name: out.get(name, False) for name in _FLAGS}


def block_xml(block: dict[str, bool]) -> bytes:
    root = ET.Element("PublicAccessBlockConfiguration", xmlns=xml.NS)
    for name in _FLAGS:
        ET.SubElement(root, name).text = "true" if block.get(name) else "false"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


async def put_public_access_block(call: Call, auth: AuthResult) -> web.Response:
    block = _parse_block(await BodyReader(call.request, auth).read_all(_MAX_XML))
    await call.sat.put_access(call.tenant_id, call.bucket, "public_access_block", block)
    return web.Response()


async def get_public_access_block(call: Call) -> web.Response:
    answer = await call.sat.get_access(call.tenant_id, call.bucket, "public_access_block")
    return xml_response(block_xml(dict(answer["public_access_block"])))


async def delete_public_access_block(call: Call) -> web.Response:
    await call.sat.delete_access(call.tenant_id, call.bucket, "public_access_block")
    return web.Response(status=204)
