"""The metainfo operations of S3 versioning: a bucket's versioning state, ListObjectVersions
and deletes of one version or leaving a delete marker. See docs/versioning.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from satellite.access.service import Requester
from satellite.errors import InvalidArgument
from satellite.metainfo import MetainfoService
from satellite.metainfo.versions import VersioningService

__all__ = ["VersioningEndpoint"]

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def _s(body: dict[str, Any], name: str, default: str | None = None) -> str:
    v = body.get(name, default)
    if not isinstance(v, str):
        raise InvalidArgument(f"{name!r} must be a string")
    return v


def _who(body: dict[str, Any]) -> Requester:
    return Requester.from_json(body.get("tenant_id"), body.get("context"))


class VersioningEndpoint:
    def __init__(self, metainfo: MetainfoService) -> None:
        self.v = VersioningService(metainfo)

    def ops(self) -> dict[str, Handler]:
        return {
            "bucket/versioning/get": self.versioning_get,
            "bucket/versioning/put": self.versioning_put,
            "object/versions": self.list_versions,
            "object/delete": self.delete,
            "object/delete-many": self.delete_many,
        }

    async def versioning_get(self, b: dict[str, Any]) -> dict[str, Any]:
        return {"status": await self.v.get_versioning(_s(b, "tenant_id"), _s(b, "bucket"))}

    async def versioning_put(self, b: dict[str, Any]) -> dict[str, Any]:
        await self.v.put_versioning(_who(b), _s(b, "bucket"), b.get("status"))
        return {}

    async def list_versions(self, b: dict[str, Any]) -> dict[str, Any]:
        return await self.v.list_versions(
            _who(b), _s(b, "bucket"), prefix=b.get("prefix", ""), delimiter=b.get("delimiter", ""),
            key_marker=b.get("key_marker", ""), version_id_marker=b.get("version_id_marker", ""),
            max_keys=b.get("max_keys", 1000),
        )  # fmt: skip

    async def delete(self, b: dict[str, Any]) -> dict[str, Any]:
        """``deleted``: whether a version existed (unversioned buckets), with what was done."""
        out = await self.v.delete_object(_who(b), _s(b, "bucket"), _s(b, "key"), b.get("version_id"),
                                         bypass=b.get("bypass_governance") is True)
        return {"deleted": out.found, **out.to_json()}

    async def delete_many(self, b: dict[str, Any]) -> dict[str, Any]:
        """``deleted``: the keys that existed; ``results``: one outcome per entry, in order."""
        outs = await self.v.delete_objects(_who(b), _s(b, "bucket"), b.get("keys"),
                                           bypass=b.get("bypass_governance") is True)
        return {"deleted": [o.key for o in outs if o.found], "results": [o.to_json() for o in outs]}
