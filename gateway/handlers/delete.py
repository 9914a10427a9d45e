"""DeleteObject and DeleteObjects: metadata only; the nodes collect the pieces from retain lists.

In a versioned bucket a delete without a version id leaves a delete marker; with one it
removes that version for good (docs/versioning.md)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from common.objectlock import LOCKED_MESSAGE
from gateway.handlers import object_lock
from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call
from gateway.s3 import xml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error
from gateway.s3.version_ids import parse_version_id, version_headers

__all__ = ["delete_object", "delete_objects"]

_MAX_DELETE_BODY = 2 * 1024 * 1024  # 1,000 keys of 1,024 bytes, with XML around them


async def delete_object(call: Call) -> web.Response:
    # S3 answers 204 whether or not the key (or version) existed.
    outcome = await call.sat.delete_version(call.tenant_id, call.bucket, call.key, call.endpoint.version_id,
                                            bypass_governance=object_lock.bypass_requested(call.request.headers))
    return web.Response(status=204, headers=version_headers(outcome))


def _deleted(outcome: dict[str, Any], asked: str | None) -> dict[str, str]:
    """A ``Deleted`` element as AWS writes it: the version asked for, and the delete marker
    made (or removed, when the version asked for was one)."""
    fields = {"Key": str(outcome["key"])}
    if asked is not None:
        fields["VersionId"] = asked
    if outcome.get("delete_marker") and outcome.get("version_id") is not None:
        fields["DeleteMarker"] = "true"
        fields["DeleteMarkerVersionId"] = str(outcome["version_id"])
    return fields


async def delete_objects(call: Call, auth: AuthResult) -> web.Response:
    body = await BodyReader(call.request, auth).read_all(_MAX_DELETE_BODY)
    request = xml.parse_delete(body)
    errors: list[xml.DeleteError] = []
    entries: list[tuple[str, str | None]] = []
    for key, version in zip(request.keys, request.version_ids or [None] * len(request.keys), strict=True):
        try:
            entries.append((key, parse_version_id(version)))
        except S3Error as e:
            errors.append(xml.DeleteError(key, e.code, e.message))
    outcomes = await call.sat.delete_entries(
        call.tenant_id, call.bucket, [{"key": k, **({"version_id": v} if v else {})} for k, v in entries],
        bypass_governance=object_lock.bypass_requested(call.request.headers),
    ) if entries else []  # fmt: skip
    deleted = []
    for o, (key, v) in zip(outcomes, entries, strict=True):
        if o.get("error"):  # Object Lock kept this version
            errors.append(xml.DeleteError(key, str(o["error"]), LOCKED_MESSAGE, v))
        else:
            deleted.append(_deleted(o, v))
    return xml_response(xml.delete_result(deleted, errors, quiet=request.quiet))
