"""The one place the satellite's domain errors become HTTP: status + ``{"error", "message"}``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from common.objectlock import ObjectLocked
from satellite import errors as e
from satellite.access import errors as acc
from satellite.nodeselection import PolicyError

__all__ = ["ERROR_TABLE", "error_middleware", "error_response"]

log = logging.getLogger(__name__)

# Most specific first: the first isinstance match wins. The code is the wire name the client maps back.
ERROR_TABLE: tuple[tuple[type[BaseException], int, str], ...] = (
    (acc.NoSuchBucketPolicy, 404, "NoSuchBucketPolicy"),
    (acc.NoSuchPublicAccessBlockConfiguration, 404, "NoSuchPublicAccessBlockConfiguration"),
    (acc.MalformedPolicyDocument, 400, "MalformedPolicy"),
    (acc.AccessControlListNotSupported, 400, "AccessControlListNotSupported"),
    (acc.InvalidBucketAclWithObjectOwnership, 400, "InvalidBucketAclWithObjectOwnership"),
    (acc.MalformedAccessControlPolicy, 400, "MalformedACLError"),
    (acc.UnsupportedAcl, 501, "UnsupportedAcl"),
    (e.NoSuchBucket, 404, "NoSuchBucket"),
    (e.NoSuchKey, 404, "NoSuchKey"),
    (e.NoSuchUpload, 404, "NoSuchUpload"),
    (e.NoSuchVersion, 404, "NoSuchVersion"),
    (e.ObjectLockConfigurationNotFound, 404, "ObjectLockConfigurationNotFoundError"),
    (e.NoSuchObjectLockConfiguration, 404, "NoSuchObjectLockConfiguration"),
    (e.MethodNotAllowed, 405, "MethodNotAllowed"),
    (e.NoSuchAccessKey, 404, "NoSuchAccessKey"),
    (e.NoSuchPolicy, 404, "NoSuchPolicy"),
    (e.NoSuchTenant, 404, "NoSuchTenant"),
    (e.NotFound, 404, "NotFound"),
    (e.UnknownPolicy, 400, "InvalidLocationConstraint"),
    (e.AccessDenied, 403, "AccessDenied"),
    (ObjectLocked, 403, "AccessDenied"),
    (e.InvalidBucketState, 409, "InvalidBucketState"),
    (e.InvalidRequest, 400, "InvalidRequest"),
    (e.BucketAlreadyExists, 409, "BucketAlreadyExists"),
    (e.BucketAlreadyOwnedByYou, 409, "BucketAlreadyOwnedByYou"),
    (e.BucketNotEmpty, 409, "BucketNotEmpty"),
    (e.PolicyInUse, 409, "PolicyInUse"),
    (e.TenantExists, 409, "TenantExists"),
    (e.PolicyExists, 409, "PolicyExists"),
    (e.InvalidToken, 400, "InvalidToken"),
    (e.InvalidReceipt, 400, "InvalidReceipt"),
    (e.TooFewPieces, 400, "TooFewPieces"),
    (e.InvalidPart, 400, "InvalidPart"),
    (e.InvalidPartOrder, 400, "InvalidPartOrder"),
    (e.EntityTooSmall, 400, "EntityTooSmall"),
    (e.InvalidRange, 416, "InvalidRange"),
    (e.PreconditionFailed, 412, "PreconditionFailed"),
    (e.InvalidPartNumber, 416, "InvalidPartNumber"),
    (e.CopyNeedsReupload, 409, "CopyNeedsReupload"),
    (e.NotEnoughNodes, 503, "NotEnoughNodes"),
    (e.NodeRejected, 403, "NodeRejected"),
    (e.InvalidArgument, 400, "InvalidArgument"),
    (PolicyError, 400, "InvalidPolicy"),
)


def error_response(status: int, code: str, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": code, "message": message, **extra}, status=status)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except json.JSONDecodeError as exc:
        return error_response(400, "InvalidArgument", f"request body is not JSON: {exc}")
    except Exception as exc:
        for cls, status, code in ERROR_TABLE:
            if isinstance(exc, cls):
                extra: dict[str, object] = {}
                if isinstance(exc, e.InvalidRange):
                    extra["size"] = exc.size
                if isinstance(exc, e.NotEnoughNodes):
                    extra["policy"] = exc.policy
                if isinstance(exc, e.UnknownPolicy):
                    extra["location_constraint"] = exc.name
                if isinstance(exc, e.NoSuchKey) and exc.delete_marker:
                    extra.update(delete_marker=True, version_id=exc.version_id)
                if isinstance(exc, e.MethodNotAllowed):
                    extra.update(delete_marker=True, version_id=exc.version_id)
                if isinstance(exc, e.PreconditionFailed):
                    extra.update(condition=exc.condition, missing=exc.missing)
                return error_response(status, code, str(exc), **extra)
        log.exception("internal error in %s %s", request.method, request.path)
        return error_response(500, "InternalError", "internal error; see the satellite's log")
