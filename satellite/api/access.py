"""The metainfo operations of access control: a bucket's ACL, ownership, Block Public Access
and policy, and an object's ACL. Only a bucket's owner reads or changes them (AWS lets
policies delegate that too; Geoshard does not). See docs/satellite.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from satellite.access.service import ACL_MARK
from satellite.errors import InvalidArgument, NoSuchKey
from satellite.metainfo import MetainfoService

__all__ = ["AccessEndpoint"]

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
_WHAT = ("ownership", "acl", "public_access_block", "policy")


def _s(body: dict[str, Any], name: str) -> str:
    v = body.get(name)
    if not isinstance(v, str):
        raise InvalidArgument(f"{name!r} must be a string")
    return v


def _what(body: dict[str, Any], allowed: tuple[str, ...] = _WHAT) -> str:
    what = body.get("what")
    if what not in allowed:
        raise InvalidArgument(f"'what' is one of {', '.join(allowed)}")
    return str(what)


class AccessEndpoint:
    def __init__(self, metainfo: MetainfoService) -> None:
        self.m = metainfo
        self.access = metainfo.access

    def ops(self) -> dict[str, Handler]:
        return {
            "bucket/access/get": self.get,
            "bucket/access/put": self.put,
            "bucket/access/delete": self.delete,
            "object/acl/get": self.object_acl_get,
            "object/acl/put": self.object_acl_put,
        }

    async def get(self, b: dict[str, Any]) -> dict[str, Any]:
        """The whole configuration, or (``what``) one part with S3's NoSuch… errors."""
        bucket = await self.m.bucket(_s(b, "tenant_id"), _s(b, "bucket"))
        what = b.get("what")
        if what == "policy":
            return {"policy": await self.access.policy(bucket)}
        if what == "public_access_block":
            return {"public_access_block": await self.access.public_access_block(bucket)}
        return {"owner": bucket.tenant_id, **await self.access.configuration(bucket)}

    async def put(self, b: dict[str, Any]) -> dict[str, Any]:
        bucket = await self.m.bucket(_s(b, "tenant_id"), _s(b, "bucket"))
        what, value = _what(b), b.get("value")
        if what == "ownership":
            await self.access.put_ownership(bucket, value)
        elif what == "acl":
            await self.access.put_bucket_acl(bucket, value)
        elif what == "public_access_block":
            await self.access.put_public_access_block(bucket, value)
        else:
            await self.access.put_policy(bucket, value)
        return {}

    async def delete(self, b: dict[str, Any]) -> dict[str, Any]:
        bucket = await self.m.bucket(_s(b, "tenant_id"), _s(b, "bucket"))
        if _what(b, ("public_access_block", "policy")) == "policy":
            await self.access.delete_policy(bucket)
        else:
            await self.access.delete_public_access_block(bucket)
        return {}

    async def object_acl_get(self, b: dict[str, Any]) -> dict[str, Any]:
        _, info = await self.m.object(_s(b, "tenant_id"), _s(b, "bucket"), _s(b, "key"), b.get("version_id"))
        return {"acl": str(info.user_metadata.get(ACL_MARK, "private")), "owner": _s(b, "tenant_id")}

    async def object_acl_put(self, b: dict[str, Any]) -> dict[str, Any]:
        asked = b.get("version_id")
        bucket, info = await self.m.object(_s(b, "tenant_id"), _s(b, "bucket"), _s(b, "key"), asked)
        if not await self.access.put_object_acl(bucket, _s(b, "key"), b.get("acl"), info.version_id if asked else None):
            raise NoSuchKey(f"no object {b['key']!r} in bucket {bucket.name!r}")
        return {"version_id": info.version_id} if bucket.versioning != "unversioned" else {}
