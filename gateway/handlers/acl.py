"""ACLs as S3 serves them: disabled by default (Object Ownership ``BucketOwnerEnforced``),
canned ACLs once a bucket's ownership enables them.

Every bucket created today at AWS has ACLs disabled, and so does every Geoshard bucket unless
it is created with ``x-amz-object-ownership: BucketOwnerPreferred`` (or ``ObjectWriter``) or
its owner puts such OwnershipControls. Then the canned ACLs that open a bucket or an object
for reading — ``public-read`` (everyone, unsigned requests too) and ``authenticated-read``
(any signed request) — can be set with ``x-amz-acl`` on CreateBucket, PutObject, CopyObject
and CreateMultipartUpload, or with PutBucketAcl/PutObjectAcl (header, or an
``AccessControlPolicy`` whose grants are exactly one of those). GetBucketAcl/GetObjectAcl
answer the owner's ``FULL_CONTROL`` grant plus the group ``READ`` grant the canned ACL makes.

The gateway only reads and writes these documents; whether an ACL may be stored (ACLs
disabled: ``AccessControlListNotSupported``; Block Public Access: ``AccessDenied``) and what
it lets through is decided by the satellite, which authorizes every read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aiohttp import web

from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call
from gateway.s3 import xml
from gateway.s3.acl_headers import ALL_USERS, AUTHENTICATED_USERS, GRANTS, requested_acl
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error

__all__ = ["get_acl", "get_ownership_controls", "put_acl", "put_ownership_controls"]

_GROUP_OF = {"public-read": ALL_USERS, "authenticated-read": AUTHENTICATED_USERS}
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_MAX_ACL = 64 * 1024


def _grant(acl: ET.Element, grantee_type: str, permission: str, *, owner: str | None = None,
           uri: str | None = None) -> None:  # fmt: skip
    grant = ET.SubElement(acl, "Grant")
    grantee = ET.SubElement(grant, "Grantee", {f"{{{_XSI}}}type": grantee_type})
    if owner is not None:
        ET.SubElement(grantee, "ID").text = owner
        ET.SubElement(grantee, "DisplayName").text = owner
    if uri is not None:
        ET.SubElement(grantee, "URI").text = uri
    ET.SubElement(grant, "Permission").text = permission


def _policy(owner: str, canned: str) -> bytes:
    ET.register_namespace("xsi", _XSI)
    root = ET.Element("AccessControlPolicy", xmlns=xml.NS)
    o = ET.SubElement(root, "Owner")
    ET.SubElement(o, "ID").text = owner
    ET.SubElement(o, "DisplayName").text = owner
    acl = ET.SubElement(root, "AccessControlList")
    _grant(acl, "CanonicalUser", "FULL_CONTROL", owner=owner)
    if canned in _GROUP_OF:
        _grant(acl, "Group", "READ", uri=_GROUP_OF[canned])
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


async def get_acl(call: Call) -> web.Response:
    if call.endpoint.key is None:
        answer = await call.sat.get_access(call.tenant_id, call.bucket)
    else:
        answer = await call.sat.get_object_acl(call.tenant_id, call.bucket, call.key, call.endpoint.version_id)
    return xml_response(_policy(str(answer.get("owner") or call.tenant_id), str(answer.get("acl") or "private")))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _canned_of(body: bytes, owner: str) -> str:
    """The canned ACL an ``AccessControlPolicy`` amounts to, or :data:`GRANTS`."""
    root = xml.parse_document(body, "AccessControlPolicy")
    owner_full, groups, other = False, set(), False
    for g in (e for e in root.iter() if _local(e.tag) == "Grant"):
        ids = [e.text for e in g.iter() if _local(e.tag) == "ID"]
        uris = [(e.text or "").strip() for e in g.iter() if _local(e.tag) == "URI"]
        perms = [e.text for e in g if _local(e.tag) == "Permission"]
        if ids == [owner] and not uris and perms == ["FULL_CONTROL"]:
            owner_full = True
        elif not ids and len(uris) == 1 and perms == ["READ"] and uris[0] in (ALL_USERS, AUTHENTICATED_USERS):
            groups.add(uris[0])
        else:
            other = True
    if other or not owner_full or len(groups) > 1:
        return GRANTS
    if not groups:
        return "private"
    return "public-read" if ALL_USERS in groups else "authenticated-read"


async def put_acl(call: Call, auth: AuthResult) -> web.Response:
    canned = requested_acl(call.request.headers)
    body = await BodyReader(call.request, auth).read_all(_MAX_ACL)
    if body.strip():
        if canned is not None:
            raise S3Error("UnexpectedContent")
        canned = _canned_of(body, call.tenant_id)
    if canned is None:
        raise S3Error("MissingSecurityHeader", MissingHeaderName="x-amz-acl")
    if call.endpoint.key is None:
        await call.sat.put_access(call.tenant_id, call.bucket, "acl", canned)
    else:
        vid = await call.sat.put_object_acl(call.tenant_id, call.bucket, call.key, canned, call.endpoint.version_id)
        if vid is not None:
            return web.Response(headers={"x-amz-version-id": vid})
    return web.Response()


def _ownership_xml(value: str) -> bytes:
    root = ET.Element("OwnershipControls", xmlns=xml.NS)
    ET.SubElement(ET.SubElement(root, "Rule"), "ObjectOwnership").text = value
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


async def get_ownership_controls(call: Call) -> web.Response:
    answer = await call.sat.get_access(call.tenant_id, call.bucket)
    return xml_response(_ownership_xml(str(answer.get("ownership") or "BucketOwnerEnforced")))


async def put_ownership_controls(call: Call, auth: AuthResult) -> web.Response:
    root = xml.parse_document(await BodyReader(call.request, auth).read_all(_MAX_ACL), "OwnershipControls")
    values = [(e.text or "").strip() for e in root.iter() if _local(e.tag) == "ObjectOwnership"]
    if len(values) != 1 or values[0] not in ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"):
        raise S3Error("MalformedXML")
    await call.sat.put_access(call.tenant_id, call.bucket, "ownership", values[0])
    return web.Response()
