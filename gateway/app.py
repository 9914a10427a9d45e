"""The S3 HTTP application: route, authenticate, authorize, dispatch — for every request, in that order.

One catch-all aiohttp route receives every request. The protocol layer parses it into a
typed :class:`~gateway.s3.router.Endpoint` (``route``), verifies its signature
(``authenticate``: SigV4/SigV2, header or presigned; no credentials at all only for the reads
a bucket can open to everyone, decided by the satellite), an upload is authorized on its
headers (``authorize_body``: bucket, upload, placement, before any body byte), and
:func:`gateway.handlers.dispatch` hands it to the handler of its operation. Errors of every layer go through the one S3
error table installed by :func:`gateway.s3.errors.install`, which also stamps
``x-amz-request-id`` on every response. ``Expect: 100-continue`` is deferred until a handler
starts reading the body, so a request refused by authentication never sends it.
"""

from __future__ import annotations

from aiohttp import web

from gateway.cors import middleware as cors
from gateway.handlers import dispatch, domain_errors, lifecycle, post_object
from gateway.handlers.access import ANONYMOUS_OPERATIONS
from gateway.handlers.common import SERVICES, Call, GatewayServices
from gateway.handlers.preflight import authorize_body
from gateway.metrics import OPERATION_KEY
from gateway.s3.auth import authenticate
from gateway.s3.body import defer_continue
from gateway.s3.errors import install
from gateway.s3.router import route
from gateway.satellite_client import REQUEST_CONTEXT
from gateway.settings_cache import SettingCache

__all__ = ["create_app"]

# Bodies are streamed by handlers; this bounds only what aiohttp itself would buffer.
_CLIENT_MAX_SIZE = 1024**2


async def handle(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    endpoint = route(request.method, request.raw_path, request.headers, services.router)
    request[OPERATION_KEY] = endpoint.operation.value
    # Every metainfo call of this request tells the satellite what a bucket policy may ask of it.
    REQUEST_CONTEXT.set({"source_ip": request.remote, "secure_transport": request.secure})
    auth = await authenticate(request, endpoint, services.credentials, services.auth,
                              anonymous=endpoint.operation in ANONYMOUS_OPERATIONS)  # fmt: skip
    call = Call(request, endpoint, auth.tenant_id, services)
    await authorize_body(call)
    return await dispatch(call, auth)


def create_app(services: GatewayServices) -> web.Application:
    domain_errors.register()
    app = web.Application(client_max_size=_CLIENT_MAX_SIZE)
    app[SERVICES] = services
    install(app)
    cors.install(app)  # preflights are answered before routing and authentication
    post_object.install(app)  # browser forms authenticate with their signed policy, not a header
    # Buckets' lifecycle rules, for x-amz-expiration; shared generations keep workers in step.
    app[lifecycle.CACHE] = SettingCache(services.generations, services.config.credential_cache_ttl)
    app.router.add_route("*", "/{tail:.*}", handle, expect_handler=defer_continue)
    return app
