"""The satellite's domain errors. They carry no HTTP: ``satellite.api.errors`` maps them, once."""

from __future__ import annotations

from common.errors import GeoshardError

__all__ = [
    "AccessDenied",
    "BucketAlreadyExists",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "CopyNeedsReupload",
    "EntityTooSmall",
    "InvalidArgument",
    "InvalidBucketState",
    "InvalidPart",
    "InvalidPartNumber",
    "InvalidPartOrder",
    "InvalidRange",
    "InvalidReceipt",
    "InvalidRequest",
    "InvalidToken",
    "MethodNotAllowed",
    "NoSuchAccessKey",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchObjectLockConfiguration",
    "NoSuchPolicy",
    "NoSuchTenant",
    "NoSuchUpload",
    "NoSuchVersion",
    "NodeRejected",
    "NotEnoughNodes",
    "NotFound",
    "ObjectLockConfigurationNotFound",
    "PolicyExists",
    "PolicyInUse",
    "PreconditionFailed",
    "SatelliteError",
    "TenantExists",
    "TooFewPieces",
    "UnknownPolicy",
]


class SatelliteError(GeoshardError):
    """Base of the errors the metainfo and contact APIs report to their callers."""


class InvalidArgument(SatelliteError):
    """A request is malformed or asks for something impossible."""


class NotFound(SatelliteError):
    pass


class NoSuchBucket(NotFound):
    pass


class NoSuchKey(NotFound):
    """No object under the key; ``delete_marker``: its latest version is a delete marker
    (``version_id``), which S3 says in ``x-amz-delete-marker``."""

    def __init__(self, message: str, *, delete_marker: bool = False, version_id: str | None = None) -> None:
        super().__init__(message)
        self.delete_marker = delete_marker
        self.version_id = version_id


class NoSuchVersion(NotFound):
    """The key has no version with the version id asked for."""


class MethodNotAllowed(SatelliteError):
    """A GET, HEAD or tagging of a version that is a delete marker (S3's 405)."""

    def __init__(self, message: str, *, version_id: str | None = None) -> None:
        super().__init__(message)
        self.version_id = version_id


class InvalidBucketState(SatelliteError):
    """Object Lock: a bucket's state refuses the change (suspending a lock bucket's versioning,
    a lock configuration on a bucket created without Object Lock): S3's 409."""


class InvalidRequest(SatelliteError):
    """A request S3 answers ``400 InvalidRequest``, e.g. Object Lock on a bucket without it."""


class ObjectLockConfigurationNotFound(NotFound):
    """GetObjectLockConfiguration of a bucket created without Object Lock."""


class NoSuchObjectLockConfiguration(NotFound):
    """GetObjectRetention of a version that has no retention."""


class NoSuchUpload(NotFound):
    pass


class NoSuchAccessKey(NotFound):
    pass


class NoSuchPolicy(NotFound):
    """An admin named a policy that does not exist."""


class NoSuchTenant(NotFound):
    pass


class UnknownPolicy(SatelliteError):
    """A bucket was created with a LocationConstraint naming no policy (S3 InvalidLocationConstraint);
    ``name`` is the constraint given (empty: none given and no tenant default)."""

    def __init__(self, message: str, *, name: str = "") -> None:
        super().__init__(message)
        self.name = name


class AccessDenied(SatelliteError):
    """The tenant does not own what it asked to touch."""


class BucketAlreadyExists(SatelliteError):
    pass


class BucketAlreadyOwnedByYou(SatelliteError):
    pass


class BucketNotEmpty(SatelliteError):
    pass


class PolicyInUse(SatelliteError):
    pass


class TenantExists(SatelliteError):
    pass


class PolicyExists(SatelliteError):
    pass


class InvalidToken(SatelliteError):
    """A segment token is forged, expired, or for another bucket, key or upload."""


class InvalidReceipt(SatelliteError):
    """A piece receipt does not verify or does not match what was ordered and computed."""


class TooFewPieces(SatelliteError):
    """Fewer than the scheme's success threshold of pieces landed."""


class InvalidPart(SatelliteError):
    pass


class InvalidPartOrder(SatelliteError):
    pass


class EntityTooSmall(SatelliteError):
    pass


class InvalidRange(SatelliteError):
    def __init__(self, message: str, *, size: int) -> None:
        super().__init__(message)
        self.size = size


class InvalidPartNumber(SatelliteError):
    """GET/HEAD ``partNumber`` beyond the object's parts (S3 answers 416)."""


class CopyNeedsReupload(SatelliteError):
    """The destination's policy does not allow every source piece: copy through the pipeline."""


class NotEnoughNodes(SatelliteError):
    """Placement failed: too few eligible nodes under the bucket's policy (503 at the gateway)."""

    def __init__(self, message: str, *, policy: str) -> None:
        super().__init__(message)
        self.policy = policy


class NodeRejected(SatelliteError):
    """A check-in was refused (bad signature, someone else's id)."""


class PreconditionFailed(SatelliteError):
    """A conditional write's condition did not hold at commit (``If-Match`` / ``If-None-Match``).

    ``missing`` says the object the condition named was not there at all (an ``If-Match`` on a
    key without an object), which S3 answers differently from a mismatch."""

    def __init__(self, message: str, *, condition: str, missing: bool = False) -> None:
        super().__init__(message)
        self.condition = condition
        self.missing = missing
