"""The gateway's Prometheus metrics, its ``/health``, and the request id it hands downstream.

Per S3 operation (``GetObject``, ``PutObject``… as the router names it) and HTTP status:
``geoshard_s3_requests_total``, ``geoshard_s3_request_duration_seconds`` (histogram),
``geoshard_s3_received_bytes_total`` and ``geoshard_s3_sent_bytes_total``. The outermost
middleware also puts the request's ``x-amz-request-id`` in the task's context, so the
satellite and node calls the request makes carry it (``common.observability.requestid``),
and answers ``GET /health`` on the S3 port when the request carries no S3 credentials (a
signed ``GET /health`` still lists a bucket named ``health``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry

from common.observability import health_response, http_metrics_middleware, metrics_response, set_request_id
from gateway.s3.errors import request_id

__all__ = ["OPERATION_KEY", "GatewayMetrics", "aggregate_app"]

OPERATION_KEY: web.RequestKey[str] = web.RequestKey("geoshard.s3_operation", str)
_CREDENTIAL_PARAMS = ("X-Amz-Credential", "X-Amz-Signature", "AWSAccessKeyId", "Signature")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _unsigned_health(request: web.Request) -> bool:
    return (
        request.path == "/health"
        and request.method in ("GET", "HEAD")
        and "Authorization" not in request.headers
        and not any(k in request.query for k in _CREDENTIAL_PARAMS)
    )


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.started = time.monotonic()
        measure = http_metrics_middleware(
            self.registry, "geoshard_s3", lambda r: r.get(OPERATION_KEY, "unrouted"), skip=("/health",)
        )

        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            set_request_id(request_id(request))
            if _unsigned_health(request):
                return health_response("gateway", self.started)
            return await measure(request, handler)

        self.middleware = middleware

    def app(self) -> web.Application:
        """The metrics port's app: ``/metrics`` and ``/health``."""
        return _metrics_app(self.registry, self.started)


def aggregate_app(directory: str) -> web.Application:
    """The metrics port of a gateway's parent process: ``/metrics`` summed over every worker
    that wrote to ``directory`` (prometheus_client's multiprocess mode, dead workers' counts
    included), and ``/health``."""
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return _metrics_app(registry, time.monotonic())


def _metrics_app(registry: CollectorRegistry, started: float) -> web.Application:
    async def metrics(_request: web.Request) -> web.Response:
        return await metrics_response(registry)

    async def health(_request: web.Request) -> web.Response:
        return health_response("gateway", started)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)
    return app
