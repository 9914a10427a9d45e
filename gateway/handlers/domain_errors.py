"""How the satellite client's and the pipeline's errors become S3 errors.

Registered once into the single table of :mod:`gateway.s3.errors`. A placement failure
is 503 ``ServiceUnavailable`` with the satellite's message, which names the policy and
counts nodes (never names one). Every other server-side failure tells the client only what
AWS would: a segment that cannot be read or written, a node or the satellite out of reach,
is 503 with AWS's default message, and what means the gateway or the satellite is broken
(a refused token or receipt, a mis-configured gateway token) is ``InternalError``. Their
detail — node ids, piece ids, addresses — is internal: the error middleware logs it with
the request id (:func:`gateway.s3.errors.s3_error_middleware`), so an operator can find
the request a client reports, and no client learns the network's layout.
"""

from __future__ import annotations

import aiohttp

from common.objectlock import LOCKED_MESSAGE
from gateway import satellite_client as sc
from gateway.pipeline import NotEnoughPieces, PipelineDataError
from gateway.s3.errors import S3Error, register_domain_error

__all__ = ["register"]

_SAME_CODE = (
    sc.NoSuchBucket, sc.NoSuchUpload, sc.AccessDenied, sc.NoSuchVersion,
    sc.BucketAlreadyExists, sc.BucketAlreadyOwnedByYou, sc.BucketNotEmpty, sc.InvalidPart,
    sc.InvalidPartOrder, sc.EntityTooSmall, sc.NoSuchBucketPolicy, sc.NoSuchPublicAccessBlockConfiguration,
    sc.AccessControlListNotSupported, sc.InvalidBucketAclWithObjectOwnership, sc.MalformedACLError,
    sc.ObjectLockConfigurationNotFoundError, sc.NoSuchObjectLockConfiguration,
)  # fmt: skip


def _same(exc: BaseException) -> S3Error:
    code = getattr(exc, "code", "InternalError")
    return S3Error(code)


def _invalid_argument(exc: BaseException) -> S3Error:
    return S3Error("InvalidArgument", str(exc) or None)


def _invalid_range(exc: BaseException) -> S3Error:
    size = exc.size if isinstance(exc, sc.InvalidRange) else 0
    return S3Error("InvalidRange", headers={"Content-Range": f"bytes */{size}"}, ActualObjectSize=size)


def _no_placement(exc: BaseException) -> S3Error:
    message = str(exc) or None
    policy = exc.body.get("policy") if isinstance(exc, sc.SatelliteError) else None
    if message and policy and str(policy) not in message:
        message = f"{message} (residency policy {policy!r})"
    return S3Error("ServiceUnavailable", message)


def _unavailable(exc: BaseException) -> S3Error:
    return S3Error("ServiceUnavailable")


def _location(exc: BaseException) -> S3Error:
    # AWS's words, then the satellite's, which name the value and the valid policies.
    detail = str(exc)
    message = "The specified location-constraint is not valid" + (f": {detail}" if detail else "")
    given = exc.body.get("location_constraint") if isinstance(exc, sc.SatelliteError) else None
    return S3Error("InvalidLocationConstraint", message, LocationConstraint=given or None)


def _precondition(exc: BaseException) -> S3Error:
    if isinstance(exc, sc.PreconditionFailed) and exc.missing:
        return S3Error("NoSuchKey")  # If-Match on a key without an object, as AWS answers
    condition = exc.condition if isinstance(exc, sc.PreconditionFailed) else ""
    return S3Error("PreconditionFailed", Condition=condition or None)


def _marker_headers(exc: BaseException) -> dict[str, str]:
    """``x-amz-delete-marker`` (and the marker's version) when a read met a delete marker."""
    body = exc.body if isinstance(exc, sc.SatelliteError) else {}
    if not body.get("delete_marker"):
        return {}
    return {"x-amz-delete-marker": "true", **({"x-amz-version-id": str(body["version_id"])}
                                              if body.get("version_id") else {})}  # fmt: skip


def _no_such_key(exc: BaseException) -> S3Error:
    return S3Error("NoSuchKey", headers=_marker_headers(exc))


def _delete_marker(exc: BaseException) -> S3Error:
    return S3Error("MethodNotAllowed", headers=_marker_headers(exc), ResourceType="DeleteMarker")


def _internal(exc: BaseException) -> S3Error:
    return S3Error("InternalError")


def _malformed_policy(exc: BaseException) -> S3Error:
    return S3Error("MalformedPolicy", str(exc) or None)  # the satellite's message is AWS's


def _access_denied(exc: BaseException) -> S3Error:
    # Object Lock's refusal carries AWS's own words; any other denial says only "Access Denied".
    return S3Error("AccessDenied", LOCKED_MESSAGE if str(exc) == LOCKED_MESSAGE else None)


def _satellites_words(exc: BaseException) -> S3Error:
    """Object Lock's InvalidRequest and InvalidBucketState: the satellite's message is AWS's."""
    return S3Error(getattr(exc, "code", "InternalError"), str(exc) or None)


def _unsupported_acl(exc: BaseException) -> S3Error:
    return S3Error("NotImplemented", Header="x-amz-grant-*")


def register() -> None:
    register_domain_error(sc.MalformedPolicy, _malformed_policy)
    register_domain_error(sc.UnsupportedAcl, _unsupported_acl)
    for cls in _SAME_CODE:
        register_domain_error(cls, _same)
    register_domain_error(sc.AccessDenied, _access_denied)
    register_domain_error(sc.InvalidRequest, _satellites_words)
    register_domain_error(sc.InvalidBucketState, _satellites_words)
    register_domain_error(sc.NoSuchKey, _no_such_key)
    register_domain_error(sc.MethodNotAllowed, _delete_marker)
    register_domain_error(sc.NoSuchAccessKey, lambda e: S3Error("InvalidAccessKeyId"))
    register_domain_error(sc.InvalidArgument, _invalid_argument)
    register_domain_error(sc.InvalidRange, _invalid_range)
    register_domain_error(sc.PreconditionFailed, _precondition)
    register_domain_error(sc.InvalidLocationConstraint, _location)
    register_domain_error(sc.InvalidPartNumber, lambda e: S3Error("InvalidPartNumber"))
    register_domain_error(sc.NotEnoughNodes, _no_placement)
    register_domain_error(sc.TooFewPieces, _unavailable)
    register_domain_error(NotEnoughPieces, _unavailable)
    register_domain_error(aiohttp.ClientConnectionError, _unavailable)
    register_domain_error(sc.SatelliteError, _internal)
    register_domain_error(PipelineDataError, _internal)
