"""Access control's domain errors; each names the S3 error it is (``satellite.api.errors`` maps them)."""

from __future__ import annotations

from satellite.errors import AccessDenied, InvalidArgument, NotFound

__all__ = [
    "AccessControlListNotSupported",
    "InvalidBucketAclWithObjectOwnership",
    "MalformedAccessControlPolicy",
    "MalformedPolicyDocument",
    "NoSuchBucketPolicy",
    "NoSuchPublicAccessBlockConfiguration",
    "PublicAccessBlocked",
    "UnsupportedAcl",
]


class NoSuchBucketPolicy(NotFound):
    """The bucket has no policy (GetBucketPolicy)."""


class NoSuchPublicAccessBlockConfiguration(NotFound):
    """The bucket has no public access block (GetPublicAccessBlock)."""


class MalformedPolicyDocument(InvalidArgument):
    """A bucket policy AWS would refuse; the message is AWS's."""


class AccessControlListNotSupported(InvalidArgument):
    """An ACL that grants something, on a bucket whose ownership is BucketOwnerEnforced."""


class InvalidBucketAclWithObjectOwnership(InvalidArgument):
    """CreateBucket with an ACL and BucketOwnerEnforced ownership."""


class MalformedAccessControlPolicy(InvalidArgument):
    """An ACL or ownership value Geoshard does not know."""


class PublicAccessBlocked(AccessDenied):
    """A public ACL or policy refused by Block Public Access (AWS answers 403 AccessDenied)."""


class UnsupportedAcl(InvalidArgument):
    """Explicit grants (``x-amz-grant-*``, a grant list that is no canned ACL): not implemented."""
