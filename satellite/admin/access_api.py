"""The admin API's tenant-wide S3 Block Public Access (``/v1/tenants/{tenant}/public-access-block``).

AWS has an account-level block that applies on top of every bucket's own; a tenant is
Geoshard's account, so an admin sets it here (the tenant's keys cannot lift it). It takes
effect at once: every authorization reads it with the bucket's configuration.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from satellite.access.service import AccessService
from satellite.db.access import AccessRepository

from .api import ADMIN_SERVICES, _body

__all__ = ["ACCESS_ROUTES"]

_FLAGS = {"BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"}


def _service(request: web.Request) -> AccessService:
    return AccessService(AccessRepository(request.app[ADMIN_SERVICES].repo.db))


async def _answer(request: web.Request, tenant_id: str, name: str) -> web.Response:
    block = await _service(request).tenant_block(tenant_id)
    return web.json_response({"tenant": name, "tenant_id": tenant_id, "public_access_block": block})


async def show_block(request: web.Request) -> web.Response:
    ref = await request.app[ADMIN_SERVICES].repo.find_tenant(request.match_info["tenant"])
    return await _answer(request, ref.id, ref.name)


async def put_block(request: web.Request) -> web.Response:
    ref = await request.app[ADMIN_SERVICES].repo.find_tenant(request.match_info["tenant"])
    data = await _body(request, _FLAGS)
    await _service(request).put_tenant_block(ref.id, {name: data.get(name, False) for name in sorted(_FLAGS)})
    return await _answer(request, ref.id, ref.name)


async def delete_block(request: web.Request) -> web.Response:
    ref = await request.app[ADMIN_SERVICES].repo.find_tenant(request.match_info["tenant"])
    await _service(request).put_tenant_block(ref.id, None)
    return await _answer(request, ref.id, ref.name)


ACCESS_ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/v1/tenants/{tenant}/public-access-block", show_block),
    ("PUT", "/v1/tenants/{tenant}/public-access-block", put_block),
    ("DELETE", "/v1/tenants/{tenant}/public-access-block", delete_block),
]


def access_paths() -> dict[str, Any]:
    """The OpenAPI description of :data:`ACCESS_ROUTES` (satellite.admin.openapi)."""
    from .openapi import _op, _params

    flags = {"type": "object", "additionalProperties": False,
             "properties": {name: {"type": "boolean"} for name in sorted(_FLAGS)}}  # fmt: skip
    return {
        "/v1/tenants/{tenant}/public-access-block": {
            "parameters": _params("tenant"),
            "get": _op("the tenant's S3 Block Public Access (null: none)", errors=(404,)),
            "put": _op("set the tenant's Block Public Access; it applies on top of every bucket's own",
                       body=flags, errors=(400, 404)),
            "delete": _op("remove the tenant's Block Public Access", errors=(404,)),
        }
    }
