"""Object Lock (WORM) at the S3 surface: lock buckets, their default retention, and each
version's retention and legal hold (docs/object-lock.md).

The satellite decides and enforces every rule (``common/objectlock.py``, applied where rows are
written and deleted); this module speaks S3's documents and headers. A write's
``x-amz-object-lock-*`` headers are checked here before any byte of the body is read —
malformed ones get AWS's ``InvalidArgument``, and a bucket created without Object Lock gets
``InvalidRequest`` ("Bucket is missing Object Lock Configuration") — and then travel in the
commit's ``meta.lock``, which the satellite checks again against the bucket it commits to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from common.objectlock import MISSING_LOCK_MESSAGE, LockConfiguration, VersionLock
from gateway import satellite_client as sc
from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call
from gateway.s3 import object_lock_xml as lxml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error

__all__ = [
    "bypass_requested",
    "get_legal_hold",
    "get_lock_configuration",
    "get_retention",
    "lock_response_headers",
    "put_legal_hold",
    "put_lock_configuration",
    "put_retention",
    "write_lock",
]

_MAX_DOCUMENT = 64 * 1024


def bypass_requested(headers: Mapping[str, str]) -> bool:
    return headers.get("x-amz-bypass-governance-retention", "").strip().lower() == "true"


async def write_lock(call: Call) -> dict[str, Any] | None:
    """PutObject, CopyObject, CreateMultipartUpload: the version lock the headers ask for, as
    ``meta.lock`` (None when they name none), refused before the body if the bucket has no lock."""
    lock = lxml.lock_from_headers(call.request.headers, dt.datetime.now(dt.UTC))
    if lock is None:
        return None
    try:
        await call.sat.get_object_lock(call.tenant_id, call.bucket)
    except sc.ObjectLockConfigurationNotFoundError:
        raise S3Error("InvalidRequest", MISSING_LOCK_MESSAGE) from None
    return lock.to_json()


def lock_response_headers(obj: Mapping[str, Any]) -> dict[str, str]:
    """GET and HEAD: the version's ``x-amz-object-lock-*`` headers (none for an unlocked version)."""
    raw = obj.get("lock")
    return {} if raw is None else lxml.lock_headers(VersionLock.from_json(raw))


async def get_lock_configuration(call: Call) -> web.Response:
    config = await call.sat.get_object_lock(call.tenant_id, call.bucket)
    return xml_response(lxml.lock_configuration_xml(LockConfiguration.from_dict(config)))


async def put_lock_configuration(call: Call, auth: AuthResult) -> web.Response:
    config = lxml.parse_lock_configuration(await BodyReader(call.request, auth).read_all(_MAX_DOCUMENT))
    await call.sat.put_object_lock(call.tenant_id, call.bucket, config.to_dict())
    return web.Response()


async def get_retention(call: Call) -> web.Response:
    got = await call.sat.get_retention(call.tenant_id, call.bucket, call.key, call.endpoint.version_id)
    return xml_response(lxml.retention_xml(VersionLock.from_json({**got, "legal_hold": False})))


async def put_retention(call: Call, auth: AuthResult) -> web.Response:
    mode, until = lxml.parse_retention(await BodyReader(call.request, auth).read_all(_MAX_DOCUMENT))
    retention = VersionLock(mode, until).to_json()
    vid = await call.sat.put_retention(call.tenant_id, call.bucket, call.key, retention, call.endpoint.version_id,
                                       bypass_governance=bypass_requested(call.request.headers))  # fmt: skip
    return web.Response(headers=_version(vid))


async def get_legal_hold(call: Call) -> web.Response:
    got = await call.sat.get_legal_hold(call.tenant_id, call.bucket, call.key, call.endpoint.version_id)
    return xml_response(lxml.legal_hold_xml(bool(got["legal_hold"])))


async def put_legal_hold(call: Call, auth: AuthResult) -> web.Response:
    on = lxml.parse_legal_hold(await BodyReader(call.request, auth).read_all(_MAX_DOCUMENT))
    vid = await call.sat.put_legal_hold(call.tenant_id, call.bucket, call.key, on, call.endpoint.version_id)
    return web.Response(headers=_version(vid))


def _version(version_id: str | None) -> dict[str, str]:
    return {} if version_id is None else {"x-amz-version-id": version_id}
