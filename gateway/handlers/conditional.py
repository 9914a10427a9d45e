"""Conditional writes (``If-None-Match: *``, ``If-Match: ETAG`` on PutObject, CopyObject and
CompleteMultipartUpload), as AWS added them in 2024.

The condition that counts is checked by the satellite inside the commit's transaction, after
the key's turn is taken: of racing ``If-None-Match: *`` writers exactly one commits and the
others get ``412 PreconditionFailed`` (AWS: "the first write to finish succeeds"). A PUT
also checks the condition before its body is read (:func:`precheck`), so a write that
cannot succeed uploads nothing. An ``If-Match`` whose object was there at that first check
but is gone at commit lost to a DELETE during the upload: AWS's ``409
ConditionalRequestConflict`` ("retry the request").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from gateway import satellite_client as sc
from gateway.handlers.common import Call
from gateway.s3.errors import S3Error

__all__ = ["conflict_if_vanished", "precheck", "write_condition"]


def write_condition(headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The request's write condition as the satellite takes it, or None.

    ``If-None-Match`` takes only ``*`` on a write (anything else is ``NotImplemented``, as
    AWS answers); ``If-Match`` takes an ETag, quoted or not, or ``*``."""
    out: dict[str, Any] = {}
    none_match = headers.get("If-None-Match")
    if none_match is not None:
        if none_match.strip() != "*":
            raise S3Error("NotImplemented", Header="If-None-Match")
        out["if_none_match"] = True
    match = headers.get("If-Match")
    if match is not None:
        value = match.strip()
        if not value:
            raise S3Error("InvalidArgument", "If-Match requires an ETag", ArgumentName="If-Match", ArgumentValue="")
        out["if_match"] = value.strip('"')
    return out or None


async def precheck(call: Call) -> dict[str, Any] | None:
    """The request's write condition, already refused with AWS's error if the key's current
    object fails it; the satellite checks it again at commit."""
    condition = write_condition(call.request.headers)
    if condition is None:
        return None
    try:
        obj = await call.sat.head_object(call.tenant_id, call.bucket, call.key)
    except sc.NoSuchKey:
        if "if_match" in condition:
            raise S3Error("NoSuchKey", Key=call.key) from None
        return condition
    if condition.get("if_none_match"):
        raise S3Error("PreconditionFailed", Condition="If-None-Match")
    wanted = condition.get("if_match")
    if wanted is not None and wanted != "*" and str(obj["etag"]).strip('"') != wanted:
        raise S3Error("PreconditionFailed", Condition="If-Match")
    return condition


@contextlib.contextmanager
def conflict_if_vanished(condition: dict[str, Any] | None) -> Iterator[None]:
    """Around a commit after :func:`precheck`: an ``If-Match`` object deleted meanwhile is 409."""
    try:
        yield
    except sc.PreconditionFailed as e:
        if condition is not None and e.missing:
            raise S3Error("ConditionalRequestConflict") from None
        raise
