"""ACLs as AWS serves them by default since 2023: disabled (Object Ownership "BucketOwnerEnforced").

Every bucket and object belongs to the tenant that owns the bucket, and access is decided by
the tenant's keys, never by ACLs. So, as AWS answers for such a bucket: GetBucketAcl and
GetObjectAcl return the owner's ``FULL_CONTROL`` grant; PutBucketAcl/PutObjectAcl and the
``x-amz-acl`` header accept only what changes nothing (``private``,
``bucket-owner-full-control``, or a policy granting the owner full control); anything else —
``public-read``, ``x-amz-grant-*`` — is ``400 AccessControlListNotSupported``;
GetBucketOwnershipControls answers ``BucketOwnerEnforced``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from aiohttp import web

from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call
from gateway.s3 import xml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error

__all__ = ["check_acl_headers", "get_acl", "get_ownership_controls", "put_acl"]

_NEUTRAL = ("private", "bucket-owner-full-control")
_GRANTS = ("x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
           "x-amz-grant-full-control")  # fmt: skip
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_MAX_ACL = 64 * 1024


def _not_supported() -> S3Error:
    return S3Error("AccessControlListNotSupported")


def check_acl_headers(headers: Mapping[str, str]) -> None:
    """``x-amz-acl`` / ``x-amz-grant-*`` on a write: only what ACLs-disabled buckets accept."""
    canned = headers.get("x-amz-acl")
    if canned is not None and canned.strip() not in _NEUTRAL:
        raise _not_supported()
    if any(h in headers for h in _GRANTS):
        raise _not_supported()


def _policy(owner: str) -> bytes:
    ET.register_namespace("xsi", _XSI)
    root = ET.Element("AccessControlPolicy", xmlns=xml.NS)
    o = ET.SubElement(root, "Owner")
    ET.SubElement(o, "ID").text = owner
    ET.SubElement(o, "DisplayName").text = owner
    grant = ET.SubElement(ET.SubElement(root, "AccessControlList"), "Grant")
    grantee = ET.SubElement(grant, "Grantee", {f"{{{_XSI}}}type": "CanonicalUser"})
    ET.SubElement(grantee, "ID").text = owner
    ET.SubElement(grantee, "DisplayName").text = owner
    ET.SubElement(grant, "Permission").text = "FULL_CONTROL"
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


async def _exists(call: Call) -> None:
    if call.endpoint.key is None:
        await call.sat.get_bucket(call.tenant_id, call.bucket)
    else:
        await call.sat.head_object(call.tenant_id, call.bucket, call.key)


async def get_acl(call: Call) -> web.Response:
    await _exists(call)
    return xml_response(_policy(call.tenant_id))


def _owner_only(body: bytes, owner: str) -> bool:
    root = xml.parse_document(body, "AccessControlPolicy")
    grants = [g for g in root.iter() if g.tag.rsplit("}", 1)[-1] == "Grant"]
    for g in grants:
        ids = [e.text for e in g.iter() if e.tag.rsplit("}", 1)[-1] == "ID"]
        perms = [e.text for e in g if e.tag.rsplit("}", 1)[-1] == "Permission"]
        if ids != [owner] or perms != ["FULL_CONTROL"]:
            return False
    return True


async def put_acl(call: Call, auth: AuthResult) -> web.Response:
    check_acl_headers(call.request.headers)
    body = await BodyReader(call.request, auth).read_all(_MAX_ACL)
    if body.strip() and not _owner_only(body, call.tenant_id):
        raise _not_supported()
    await _exists(call)
    return web.Response()


async def get_ownership_controls(call: Call) -> web.Response:
    await call.sat.get_bucket(call.tenant_id, call.bucket)
    root = ET.Element("OwnershipControls", xmlns=xml.NS)
    ET.SubElement(ET.SubElement(root, "Rule"), "ObjectOwnership").text = "BucketOwnerEnforced"
    return xml_response(b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root))
