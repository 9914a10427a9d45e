"""CORS on the wire: preflight ``OPTIONS`` answered from the bucket's rules, and the
``Access-Control-*`` headers on every response to a request whose ``Origin`` a rule allows.

A preflight is unsigned (browsers send no credentials with it), so it is answered here,
before authentication, from the bucket's rules alone; it reveals no more than AWS's does. An
actual request is routed and authenticated as any other; the headers are added when its
response is prepared, so streamed GETs and error answers get them too. Rules are read
from the satellite and cached per bucket for ``credential_cache_ttl`` seconds (a change
made through this gateway, through any of its workers, takes effect at once: ``gateway.settings_cache``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.cors.cache import CACHE
from gateway.cors.rules import CorsRule, match, rules_from_json
from gateway.handlers.common import SERVICES, GatewayServices
from gateway.s3.errors import S3Error
from gateway.s3.router import Operation, route
from gateway.satellite_client import NoSuchBucket
from gateway.settings_cache import SettingCache

__all__ = ["install"]

_HEADERS: web.RequestKey[dict[str, str]] = web.RequestKey("gateway.cors.headers", dict)
_VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")


async def _rules(app: web.Application, services: GatewayServices, bucket: str) -> list[CorsRule]:
    async def fetch() -> list[CorsRule]:
        return rules_from_json(await services.satellite.get_setting(None, bucket, "cors"))

    return await app[CACHE].get(bucket, fetch)


def _allow(rule: CorsRule, origin: str) -> dict[str, str]:
    out = {"Access-Control-Allow-Methods": ", ".join(rule.methods), "Vary": _VARY}
    if "*" in rule.origins:
        out["Access-Control-Allow-Origin"] = "*"
    else:
        out.update({"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"})
    if rule.expose:
        out["Access-Control-Expose-Headers"] = ", ".join(rule.expose)
    return out


async def _preflight(request: web.Request, services: GatewayServices) -> web.Response:
    endpoint = route(request.method, request.raw_path, request.headers, services.router)
    if endpoint.operation is not Operation.PREFLIGHT or endpoint.bucket is None:
        raise S3Error("MethodNotAllowed", Method="OPTIONS", ResourceType="SERVICE")
    origin = request.headers.get("Origin")
    if not origin:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.")
    method = request.headers.get("Access-Control-Request-Method")
    if method not in _METHODS:
        raise S3Error("BadRequest", f"Invalid Access-Control-Request-Method: {method or 'null'}")
    asked = [h.strip() for h in request.headers.get("Access-Control-Request-Headers", "").split(",") if h.strip()]
    resource = "OBJECT" if endpoint.key is not None else "BUCKET"
    rules = await _rules(request.app, services, endpoint.bucket)
    if not rules:
        raise S3Error("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.", Method=method,
                      ResourceType=resource)  # fmt: skip
    rule = match(rules, origin, method, asked)
    if rule is None:
        raise S3Error("AccessForbidden", Method=method, ResourceType=resource)
    headers = _allow(rule, origin)
    if asked:
        headers["Access-Control-Allow-Headers"] = ", ".join(asked)
    if rule.max_age is not None:
        headers["Access-Control-Max-Age"] = str(rule.max_age)
    return web.Response(headers=headers)


@web.middleware
async def cors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    services = request.app[SERVICES]
    if request.method == "OPTIONS":
        return await _preflight(request, services)
    origin = request.headers.get("Origin")
    if origin:
        try:
            endpoint = route(request.method, request.raw_path, request.headers, services.router)
            rules = await _rules(request.app, services, endpoint.bucket) if endpoint.bucket else []
        except (S3Error, NoSuchBucket):
            rules = []  # the request itself will get its error
        rule = match(rules, origin, request.method)
        if rule is not None:
            request[_HEADERS] = _allow(rule, origin)
    return await handler(request)


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    extra = request.get(_HEADERS)
    if extra:
        response.headers.update(extra)


def install(app: web.Application) -> None:
    """Answer preflights and add CORS headers (after :func:`gateway.s3.errors.install`, so that
    preflight errors are S3 errors, and once the app holds its services)."""
    services = app[SERVICES]
    app[CACHE] = SettingCache(services.generations, services.config.credential_cache_ttl)
    app.middlewares.append(cors_middleware)
    app.on_response_prepare.append(_on_prepare)
