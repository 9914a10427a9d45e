"""The metainfo operations of Object Lock: a bucket's lock configuration, and a version's
retention and legal hold (docs/object-lock.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from satellite.access.service import Requester
from satellite.errors import InvalidArgument
from satellite.metainfo import MetainfoService
from satellite.metainfo.object_lock import ObjectLockService

__all__ = ["ObjectLockEndpoint"]

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def _s(body: dict[str, Any], name: str) -> str:
    v = body.get(name)
    if not isinstance(v, str):
        raise InvalidArgument(f"{name!r} must be a string")
    return v


def _who(body: dict[str, Any]) -> Requester:
    return Requester.from_json(body.get("tenant_id"), body.get("context"))


class ObjectLockEndpoint:
    def __init__(self, metainfo: MetainfoService) -> None:
        self.lock = ObjectLockService(metainfo)

    def ops(self) -> dict[str, Handler]:
        return {
            "bucket/object-lock/get": self.configuration_get,
            "bucket/object-lock/put": self.configuration_put,
            "object/retention/get": self.retention_get,
            "object/retention/put": self.retention_put,
            "object/legal-hold/get": self.legal_hold_get,
            "object/legal-hold/put": self.legal_hold_put,
        }

    async def configuration_get(self, b: dict[str, Any]) -> dict[str, Any]:
        return {"config": await self.lock.get_configuration(_who(b), _s(b, "bucket"))}

    async def configuration_put(self, b: dict[str, Any]) -> dict[str, Any]:
        await self.lock.put_configuration(_who(b), _s(b, "bucket"), b.get("config"))
        return {}

    async def retention_get(self, b: dict[str, Any]) -> dict[str, Any]:
        return await self.lock.get_retention(_who(b), _s(b, "bucket"), b.get("key"), b.get("version_id"))

    async def retention_put(self, b: dict[str, Any]) -> dict[str, Any]:
        vid = await self.lock.put_retention(_who(b), _s(b, "bucket"), b.get("key"), b.get("retention"),
                                            b.get("version_id"), bypass=b.get("bypass_governance") is True)  # fmt: skip
        return {"version_id": vid}

    async def legal_hold_get(self, b: dict[str, Any]) -> dict[str, Any]:
        return await self.lock.get_legal_hold(_who(b), _s(b, "bucket"), b.get("key"), b.get("version_id"))

    async def legal_hold_put(self, b: dict[str, Any]) -> dict[str, Any]:
        vid = await self.lock.put_legal_hold(_who(b), _s(b, "bucket"), b.get("key"), b.get("legal_hold"),
                                             b.get("version_id"))  # fmt: skip
        return {"version_id": vid}
