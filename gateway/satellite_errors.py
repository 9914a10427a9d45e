"""The satellite's error codes as the gateway's exceptions: one class per code of ``satellite/api/errors.py``."""

from __future__ import annotations

from typing import Any

__all__ = [
    "ERRORS",
    "AccessControlListNotSupported",
    "AccessDenied",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "CopyNeedsReupload",
    "EntityTooSmall",
    "InvalidArgument",
    "InvalidBucketAclWithObjectOwnership",
    "InvalidBucketState",
    "InvalidLocationConstraint",
    "InvalidPart",
    "InvalidPartNumber",
    "InvalidPartOrder",
    "InvalidRange",
    "InvalidReceipt",
    "InvalidRequest",
    "InvalidToken",
    "MalformedACLError",
    "MalformedPolicy",
    "MethodNotAllowed",
    "NoSuchAccessKey",
    "NoSuchBucket",
    "NoSuchBucketPolicy",
    "NoSuchKey",
    "NoSuchObjectLockConfiguration",
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchUpload",
    "NoSuchVersion",
    "NotEnoughNodes",
    "ObjectLockConfigurationNotFoundError",
    "PreconditionFailed",
    "SatelliteError",
    "TooFewPieces",
    "Unauthorized",
    "UnsupportedAcl",
]


class SatelliteError(Exception):
    """An error answer from the satellite: ``code``, HTTP ``status`` and the satellite's message."""

    code = "InternalError"

    def __init__(self, message: str, *, status: int = 500, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body or {}


class Unauthorized(SatelliteError):
    code = "Unauthorized"


class InvalidArgument(SatelliteError):
    code = "InvalidArgument"


class NoSuchBucket(SatelliteError):
    code = "NoSuchBucket"


class NoSuchKey(SatelliteError):
    code = "NoSuchKey"


class NoSuchUpload(SatelliteError):
    code = "NoSuchUpload"


class NoSuchVersion(SatelliteError):
    code = "NoSuchVersion"


class MethodNotAllowed(SatelliteError):
    """A read of a version that is a delete marker (``version_id`` in the body)."""

    code = "MethodNotAllowed"


class NoSuchAccessKey(SatelliteError):
    code = "NoSuchAccessKey"


class InvalidLocationConstraint(SatelliteError):
    code = "InvalidLocationConstraint"


class AccessDenied(SatelliteError):
    code = "AccessDenied"


class BucketAlreadyExists(SatelliteError):
    code = "BucketAlreadyExists"


class BucketAlreadyOwnedByYou(SatelliteError):
    code = "BucketAlreadyOwnedByYou"


class BucketNotEmpty(SatelliteError):
    code = "BucketNotEmpty"


class InvalidToken(SatelliteError):
    code = "InvalidToken"


class InvalidReceipt(SatelliteError):
    code = "InvalidReceipt"


class TooFewPieces(SatelliteError):
    code = "TooFewPieces"


class InvalidPart(SatelliteError):
    code = "InvalidPart"


class InvalidPartOrder(SatelliteError):
    code = "InvalidPartOrder"


class EntityTooSmall(SatelliteError):
    code = "EntityTooSmall"


class InvalidRange(SatelliteError):
    """416 at the gateway; ``size`` is the object's size for ``Content-Range: bytes */size``."""

    code = "InvalidRange"

    @property
    def size(self) -> int:
        return int(self.body.get("size", 0))


class InvalidPartNumber(SatelliteError):
    code = "InvalidPartNumber"


class PreconditionFailed(SatelliteError):
    """A conditional write's condition failed at commit; ``condition`` names the header and
    ``missing`` says there was no object at all (``If-Match`` on an absent key)."""

    code = "PreconditionFailed"

    @property
    def condition(self) -> str:
        return str(self.body.get("condition", ""))

    @property
    def missing(self) -> bool:
        return bool(self.body.get("missing"))


class CopyNeedsReupload(SatelliteError):
    """Server-side copy cannot share pieces under the destination's policy: copy through the pipeline."""

    code = "CopyNeedsReupload"


class NotEnoughNodes(SatelliteError):
    """Too few eligible nodes under the bucket's policy: 503 ServiceUnavailable with this message."""

    code = "NotEnoughNodes"


class MalformedPolicy(SatelliteError):
    """A bucket policy the satellite refused; the message is AWS's."""

    code = "MalformedPolicy"


class NoSuchBucketPolicy(SatelliteError):
    code = "NoSuchBucketPolicy"


class NoSuchPublicAccessBlockConfiguration(SatelliteError):
    code = "NoSuchPublicAccessBlockConfiguration"


class AccessControlListNotSupported(SatelliteError):
    code = "AccessControlListNotSupported"


class InvalidBucketAclWithObjectOwnership(SatelliteError):
    code = "InvalidBucketAclWithObjectOwnership"


class MalformedACLError(SatelliteError):
    code = "MalformedACLError"


class UnsupportedAcl(SatelliteError):
    """Explicit grants rather than a canned ACL: 501 NotImplemented at the gateway."""

    code = "UnsupportedAcl"


class InvalidBucketState(SatelliteError):
    """Object Lock: the bucket's state refuses the request (409)."""

    code = "InvalidBucketState"


class ObjectLockConfigurationNotFoundError(SatelliteError):
    code = "ObjectLockConfigurationNotFoundError"


class NoSuchObjectLockConfiguration(SatelliteError):
    code = "NoSuchObjectLockConfiguration"


class InvalidRequest(SatelliteError):
    """A request S3 answers 400 InvalidRequest (e.g. lock headers for a bucket without Object Lock)."""

    code = "InvalidRequest"


ERRORS: dict[str, type[SatelliteError]] = {
    cls.code: cls
    for cls in (
        Unauthorized, InvalidArgument, NoSuchBucket, NoSuchKey, NoSuchUpload, NoSuchAccessKey,
        InvalidLocationConstraint, AccessDenied, BucketAlreadyExists, BucketAlreadyOwnedByYou,
        BucketNotEmpty, InvalidToken, InvalidReceipt, TooFewPieces, InvalidPart, InvalidPartOrder,
        EntityTooSmall, InvalidRange, CopyNeedsReupload, NotEnoughNodes, InvalidPartNumber, PreconditionFailed,
        MalformedPolicy, NoSuchBucketPolicy, NoSuchPublicAccessBlockConfiguration, AccessControlListNotSupported,
        InvalidBucketAclWithObjectOwnership, MalformedACLError, UnsupportedAcl, NoSuchVersion, MethodNotAllowed,
        InvalidBucketState, ObjectLockConfigurationNotFoundError, NoSuchObjectLockConfiguration, InvalidRequest,
    )
}  # fmt: skip
