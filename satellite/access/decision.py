"""Who may do what to a bucket: ownership, canned ACLs, Block Public Access and the policy, combined.

S3 decides a request in a fixed order, and so does :func:`decide`, a pure function:

1. An explicit ``Deny`` in the bucket policy refuses the request, whoever asks — the
   owner too.
2. The bucket's owner (the tenant that created it) may do everything else.
3. A policy ``Allow`` grants the request, unless the bucket's (or its tenant's) Block
   Public Access says ``RestrictPublicBuckets`` and the policy is public: then only the
   owner gets through, as AWS restricts a public bucket to its own account.
4. An ACL grants the request when ACLs are enabled (Object Ownership ``BucketOwnerPreferred``
   or ``ObjectWriter``; with ``BucketOwnerEnforced``, AWS's default, ACLs are ignored) and
   ``IgnorePublicAcls`` is off: ``public-read`` on a bucket lets everyone list it
   (``s3:ListBucket``), on an object lets everyone read it (``s3:GetObject``);
   ``authenticated-read`` does the same for any signed request. A bucket's ACL gives no
   access to its objects, as in S3.
5. Anything else is refused: anonymous requests and other tenants get ``AccessDenied``.

The other half of Block Public Access — refusing to *store* a public ACL or policy
(``BlockPublicAcls``, ``BlockPublicPolicy``) — is :func:`check_acl_allowed` and
:func:`check_policy_allowed`, called when one is put.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from satellite.access.errors import AccessControlListNotSupported, PublicAccessBlocked
from satellite.access.policy import AccessRequest, Effect, Policy, evaluate, is_public

__all__ = [
    "CANNED_ACLS",
    "OWNERSHIPS",
    "PUBLIC_ACLS",
    "BucketAccess",
    "PublicAccessBlock",
    "acl_grants",
    "check_acl_allowed",
    "check_policy_allowed",
    "decide",
]

OWNERSHIPS = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
# Canned ACLs Geoshard stores. bucket-owner-* name the bucket owner, who owns every object
# here, so they are private; public-read-write and the AWS-service ones are not offered.
CANNED_ACLS = ("private", "public-read", "authenticated-read", "bucket-owner-read", "bucket-owner-full-control")
PUBLIC_ACLS = frozenset({"public-read", "authenticated-read"})
_READ_BY_ACL = {"bucket": frozenset({"s3:listbucket", "s3:listbucketversions"}),
                "object": frozenset({"s3:getobject", "s3:getobjectversion"})}


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    def to_json(self) -> dict[str, bool]:
        return {"BlockPublicAcls": self.block_public_acls, "IgnorePublicAcls": self.ignore_public_acls,
                "BlockPublicPolicy": self.block_public_policy,
                "RestrictPublicBuckets": self.restrict_public_buckets}  # fmt: skip

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PublicAccessBlock:
        return cls(bool(d.get("BlockPublicAcls")), bool(d.get("IgnorePublicAcls")),
                   bool(d.get("BlockPublicPolicy")), bool(d.get("RestrictPublicBuckets")))  # fmt: skip

    def union(self, other: PublicAccessBlock | None) -> PublicAccessBlock:
        """The stricter of two blocks (a tenant's applies on top of each bucket's)."""
        if other is None:
            return self
        return PublicAccessBlock(*(a or b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[bool, bool, bool, bool]:
        return (self.block_public_acls, self.ignore_public_acls, self.block_public_policy,
                self.restrict_public_buckets)  # fmt: skip


@dataclass(frozen=True, slots=True)
class BucketAccess:
    """Everything about a bucket that access depends on, as stored."""

    owner: str
    ownership: str = "BucketOwnerEnforced"
    acl: str = "private"
    block: PublicAccessBlock | None = None  # the bucket's own configuration, as GetPublicAccessBlock shows it
    tenant_block: PublicAccessBlock | None = None  # the tenant's, set by an admin
    policy: Policy | None = None

    @property
    def acls_enabled(self) -> bool:
        return self.ownership != "BucketOwnerEnforced"

    @property
    def effective_block(self) -> PublicAccessBlock:
        return (self.block or PublicAccessBlock()).union(self.tenant_block)


def acl_grants(acl: str, principal: str | None, kind: str, action: str) -> bool:
    """Whether canned ``acl`` on a ``kind`` ("bucket"/"object") grants ``action`` to ``principal``."""
    if action.lower() not in _READ_BY_ACL[kind]:
        return False
    return acl == "public-read" or (acl == "authenticated-read" and principal is not None)


def decide(access: BucketAccess, request: AccessRequest, object_acl: str | None = None) -> bool:
    """Whether ``request`` may proceed; ``object_acl`` is the object's canned ACL when the
    request names an existing object (None: a bucket request, or the object is not known yet)."""
    verdict = evaluate(access.policy, request)
    if verdict is Effect.DENY:
        return False
    if request.principal is not None and request.principal == access.owner:
        return True
    block = access.effective_block
    if verdict is Effect.ALLOW and not (block.restrict_public_buckets and is_public(access.policy)):
        return True
    if not access.acls_enabled or block.ignore_public_acls:
        return False  # every ACL that grants a non-owner here is a public one
    if object_acl is not None:
        return acl_grants(object_acl, request.principal, "object", request.action)
    return acl_grants(access.acl, request.principal, "bucket", request.action)


def check_acl_allowed(access: BucketAccess, acl: str) -> None:
    """Raise what AWS answers for storing ``acl`` on this bucket or one of its objects."""
    if acl not in ("private", "bucket-owner-full-control", "bucket-owner-read") and not access.acls_enabled:
        raise AccessControlListNotSupported("The bucket does not allow ACLs")
    if acl in PUBLIC_ACLS and access.effective_block.block_public_acls:
        raise PublicAccessBlocked("Access Denied")


def check_policy_allowed(access: BucketAccess, policy: Policy) -> None:
    if access.effective_block.block_public_policy and is_public(policy):
        raise PublicAccessBlocked("Access Denied")
