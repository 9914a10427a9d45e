"""Access decisions where reads and writes are authorized: the satellite, not the gateway.

The gateway verifies signatures, but what a request may touch is decided here, in the same
call that hands out orders or listings: a gateway that says "anonymous" (or names a tenant)
gets the pieces of a bucket only if that bucket's configuration lets that requester in. A
gateway cannot talk its way past a private bucket by leaving the requester out.

:class:`Requester` is who asks and what the gateway saw of the request (source address,
TLS): the condition keys of bucket policies. :class:`AccessService` loads a bucket's
configuration (one query over ``bucket_settings``, plus the tenant's Block Public Access),
answers :meth:`AccessService.allows` with :func:`satellite.access.decision.decide`, and
stores configuration changes after the checks S3 makes (Block Public Access, ACLs
disabled, malformed policies, unknown principals).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from satellite.access.decision import (
    CANNED_ACLS,
    OWNERSHIPS,
    BucketAccess,
    PublicAccessBlock,
    check_acl_allowed,
    check_policy_allowed,
    decide,
)
from satellite.access.errors import (
    InvalidBucketAclWithObjectOwnership,
    MalformedAccessControlPolicy,
    MalformedPolicyDocument,
    NoSuchBucketPolicy,
    NoSuchPublicAccessBlockConfiguration,
    UnsupportedAcl,
)
from satellite.access.policy import AccessRequest, MalformedPolicy, Policy, context_keys, is_public, parse_policy
from satellite.errors import AccessDenied, InvalidArgument

__all__ = ["ACL_MARK", "GRANTS", "AccessService", "AccessStore", "Requester", "check_canned_acl"]

ACL_MARK = "x-geoshard-acl"  # an object's canned ACL, in its stored metadata (absent: private)
_NAMES = ("ownership", "acl", "public_access_block", "policy")


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks (``tenant_id`` None: an anonymous request) and the request's condition keys."""

    tenant_id: str | None
    source_ip: str | None = None
    secure_transport: bool | None = None

    @classmethod
    def of(cls, who: Requester | str | None) -> Requester:
        if isinstance(who, Requester):
            return who
        return cls(who or None)

    @classmethod
    def from_json(cls, tenant_id: Any, context: Any) -> Requester:
        if tenant_id is not None and not isinstance(tenant_id, str):
            raise InvalidArgument("'tenant_id' must be a string or null")
        ctx = context if isinstance(context, dict) else {}
        ip, secure = ctx.get("source_ip"), ctx.get("secure_transport")
        return cls(tenant_id or None, ip if isinstance(ip, str) and ip else None,
                   secure if isinstance(secure, bool) else None)  # fmt: skip

    def context(self, extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
        values: dict[str, str | None] = {
            "aws:SourceIp": self.source_ip,
            "aws:SecureTransport": None if self.secure_transport is None else str(self.secure_transport).lower(),
            "aws:PrincipalType": "Anonymous" if self.tenant_id is None else "Account",
            "aws:userid": self.tenant_id or "anonymous",
            **(extra or {}),
        }
        return context_keys(values)


class BucketInfo(Protocol):
    """What access needs of a bucket (``satellite.metainfo.types.BucketInfo`` has it)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...


class AccessStore(Protocol):
    async def get_settings(self, bucket_id: int, names: Iterable[str]) -> dict[str, dict[str, Any]]: ...
    async def access_rows(self, bucket_id: int, tenant_id: str,
                          names: Iterable[str]) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]: ...
    async def put_setting(self, bucket_id: int, name: str, value: dict[str, Any]) -> None: ...
    async def delete_setting(self, bucket_id: int, name: str) -> bool: ...
    async def set_object_metadata_entry(self, bucket_id: int, key: str, name: str, value: str | None,
                                        version_id: str | None = None) -> bool: ...  # fmt: skip
    async def tenants_exist(self, tenant_ids: Iterable[str]) -> set[str]: ...
    async def get_tenant_block(self, tenant_id: str) -> dict[str, Any] | None: ...
    async def put_tenant_block(self, tenant_id: str, block: dict[str, Any] | None) -> None: ...


def _block(d: Any) -> PublicAccessBlock:
    if not isinstance(d, dict):
        raise InvalidArgument("a public access block is a JSON object of four booleans")
    for name, v in d.items():
        if name not in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"):
            raise InvalidArgument(f"unknown public access block setting {name!r}")
        if not isinstance(v, bool):
            raise InvalidArgument(f"{name} must be true or false")
    return PublicAccessBlock.from_json(d)


@lru_cache(maxsize=1024)
def _parsed(text: str, bucket: str) -> Policy:
    """A stored policy, parsed once per process (it was checked when it was put; parsing
    costs more than a decision, and every authorization of the bucket needs it)."""
    return parse_policy(text, bucket)


def check_canned_acl(acl: Any, access: BucketAccess) -> str:
    """``acl`` if Geoshard stores it on this bucket; ``GRANTS`` stands for explicit
    ``x-amz-grant-*`` grants or a grant list that is not a canned ACL."""
    if acl not in CANNED_ACLS:
        if not access.acls_enabled:
            check_acl_allowed(access, "grants")  # AccessControlListNotSupported, as AWS
        raise UnsupportedAcl("only canned ACLs (private, public-read, authenticated-read) are supported")
    return str(acl)


GRANTS = "grants"
_PRIVATE = ("private", "bucket-owner-full-control", "bucket-owner-read")


class AccessService:
    def __init__(self, store: AccessStore) -> None:
        self.store = store

    # --- decisions -----------------------------------------------------------------------

    async def load(self, bucket: BucketInfo) -> BucketAccess:
        """The bucket's access configuration: as read with the bucket (one statement per request),
        else read now."""
        pre = getattr(bucket, "access_rows", None)
        if pre is not None and set(_NAMES) <= set(pre[0]):
            rows, tenant_block = pre[1], pre[2]
        else:
            rows, tenant_block = await self.store.access_rows(bucket.id, bucket.tenant_id, _NAMES)
        policy = _parsed(str(rows["policy"]["text"]), bucket.name) if "policy" in rows else None
        return BucketAccess(
            owner=bucket.tenant_id,
            ownership=str(rows.get("ownership", {}).get("value", "BucketOwnerEnforced")),
            acl=str(rows.get("acl", {}).get("value", "private")),
            block=PublicAccessBlock.from_json(rows["public_access_block"]) if "public_access_block" in rows else None,
            tenant_block=PublicAccessBlock.from_json(tenant_block) if tenant_block is not None else None,
            policy=policy,
        )

    @staticmethod
    def request(who: Requester, action: str, bucket: BucketInfo, key: str | None = None,
                extra: Mapping[str, str | None] | None = None) -> AccessRequest:  # fmt: skip
        resource = bucket.name if key is None else f"{bucket.name}/{key}"
        return AccessRequest(who.tenant_id, action, resource, who.context(extra))

    def allows(self, access: BucketAccess, who: Requester, action: str, bucket: BucketInfo, key: str | None = None,
               *, object_acl: str | None = None, extra: Mapping[str, str | None] | None = None) -> bool:  # fmt: skip
        return decide(access, self.request(who, action, bucket, key, extra), object_acl)

    async def authorize(self, who: Requester, bucket: BucketInfo, action: str, key: str | None = None,
                        extra: Mapping[str, str | None] | None = None) -> BucketAccess:  # fmt: skip
        """The bucket's access configuration if ``who`` may do ``action``; else AccessDenied."""
        access = await self.load(bucket)
        if not self.allows(access, who, action, bucket, key, extra=extra):
            raise AccessDenied(f"{action} on {bucket.name!r} is not allowed for this requester")
        return access

    async def authorize_owner(self, who: Requester, bucket: BucketInfo, action: str, key: str | None = None) -> None:
        """Writes stay the owner's (objects are encrypted under the owner's bucket key), and
        even the owner is refused what the bucket policy explicitly denies."""
        if who.tenant_id != bucket.tenant_id:
            raise AccessDenied(f"bucket {bucket.name!r} belongs to another tenant")
        await self.authorize(who, bucket, action, key)

    # --- configuration (the caller has checked the requester owns the bucket) ----------------

    async def configuration(self, bucket: BucketInfo) -> dict[str, Any]:
        """``{ownership, acl, public_access_block, policy}`` as GET answers them (None: not set)."""
        rows = await self.store.get_settings(bucket.id, _NAMES)
        return {
            "ownership": rows.get("ownership", {}).get("value", "BucketOwnerEnforced"),
            "acl": rows.get("acl", {}).get("value", "private"),
            "public_access_block": rows.get("public_access_block"),
            "policy": rows["policy"]["text"] if "policy" in rows else None,
            "policy_is_public": is_public(_parsed(str(rows["policy"]["text"]), bucket.name))
            if "policy" in rows else False,
            "tenant_public_access_block": await self.store.get_tenant_block(bucket.tenant_id),
        }

    async def check_new_bucket(self, tenant_id: str, ownership: Any, acl: Any) -> None:
        """What CreateBucket refuses before the bucket exists: an unknown Object Ownership,
        an ACL with ``BucketOwnerEnforced`` (InvalidBucketAclWithObjectOwnership), a public
        ACL under the tenant's BlockPublicAcls."""
        if ownership is not None and ownership not in OWNERSHIPS:
            raise MalformedAccessControlPolicy(f"object ownership is one of {', '.join(OWNERSHIPS)}")
        if acl is None:
            return
        probe = BucketAccess(owner=tenant_id, ownership=str(ownership or "BucketOwnerEnforced"))
        if not probe.acls_enabled and acl not in _PRIVATE:
            raise InvalidBucketAclWithObjectOwnership(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            )
        raw = await self.store.get_tenant_block(tenant_id)
        block = PublicAccessBlock.from_json(raw) if raw else None
        probe = BucketAccess(owner=tenant_id, ownership=probe.ownership, tenant_block=block)
        check_acl_allowed(probe, check_canned_acl(acl, probe))

    async def configure_new_bucket(self, bucket: BucketInfo, ownership: Any, acl: Any) -> None:
        if ownership is not None and ownership != "BucketOwnerEnforced":
            await self.store.put_setting(bucket.id, "ownership", {"value": ownership})
        if acl is not None and acl not in _PRIVATE:
            await self.store.put_setting(bucket.id, "acl", {"value": acl})

    async def put_ownership(self, bucket: BucketInfo, ownership: Any) -> None:
        if ownership not in OWNERSHIPS:
            raise MalformedAccessControlPolicy(f"object ownership is one of {', '.join(OWNERSHIPS)}")
        access = await self.load(bucket)
        if ownership == "BucketOwnerEnforced" and access.acl != "private":
            # AWS: ACLs must be reset before they can be disabled.
            raise InvalidBucketAclWithObjectOwnership(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            )
        await self.store.put_setting(bucket.id, "ownership", {"value": ownership})

    async def put_bucket_acl(self, bucket: BucketInfo, acl: Any) -> None:
        access = await self.load(bucket)
        acl = check_canned_acl(acl, access)
        check_acl_allowed(access, acl)
        if acl in _PRIVATE:
            await self.store.delete_setting(bucket.id, "acl")
        else:
            await self.store.put_setting(bucket.id, "acl", {"value": acl})

    async def check_object_acl(self, bucket: BucketInfo, acl: Any) -> str | None:
        """The ACL entry to store with a new object (None: private), after S3's checks."""
        if acl is None:
            return None
        access = await self.load(bucket)
        acl = check_canned_acl(acl, access)
        check_acl_allowed(access, acl)
        return None if acl in _PRIVATE else acl

    async def put_object_acl(self, bucket: BucketInfo, key: str, acl: Any, version_id: str | None = None) -> bool:
        """The canned ACL of the key's latest version, or of version ``version_id``."""
        stored = await self.check_object_acl(bucket, acl)
        return await self.store.set_object_metadata_entry(bucket.id, key, ACL_MARK, stored, version_id)

    async def put_public_access_block(self, bucket: BucketInfo, block: Any) -> None:
        await self.store.put_setting(bucket.id, "public_access_block", _block(block).to_json())

    async def delete_public_access_block(self, bucket: BucketInfo) -> None:
        await self.store.delete_setting(bucket.id, "public_access_block")

    async def public_access_block(self, bucket: BucketInfo) -> dict[str, bool]:
        rows = await self.store.get_settings(bucket.id, ("public_access_block",))
        if "public_access_block" not in rows:
            raise NoSuchPublicAccessBlockConfiguration("The public access block configuration was not found")
        return {k: bool(v) for k, v in rows["public_access_block"].items()}

    async def put_policy(self, bucket: BucketInfo, text: Any) -> None:
        if not isinstance(text, str):
            raise InvalidArgument("'policy' must be the policy document as a string")
        try:
            policy = parse_policy(text, bucket.name)
        except MalformedPolicy as e:
            raise MalformedPolicyDocument(str(e)) from None
        await self._check_principals(policy)
        check_policy_allowed(await self.load(bucket), policy)
        await self.store.put_setting(bucket.id, "policy", {"text": text})

    async def _check_principals(self, policy: Policy) -> None:
        named = policy.principals
        if named - await self.store.tenants_exist(named):
            raise MalformedPolicyDocument("Invalid principal in policy")

    async def policy(self, bucket: BucketInfo) -> str:
        rows = await self.store.get_settings(bucket.id, ("policy",))
        if "policy" not in rows:
            raise NoSuchBucketPolicy("The bucket policy does not exist")
        return str(rows["policy"]["text"])

    async def delete_policy(self, bucket: BucketInfo) -> None:
        await self.store.delete_setting(bucket.id, "policy")

    # --- tenants (admin) -------------------------------------------------------------------

    async def tenant_block(self, tenant_id: str) -> dict[str, Any] | None:
        return await self.store.get_tenant_block(tenant_id)

    async def put_tenant_block(self, tenant_id: str, block: Any) -> dict[str, bool] | None:
        value = None if block is None else _block(block).to_json()
        await self.store.put_tenant_block(tenant_id, value)
        return value

