"""``/metrics`` and ``/health`` for an aiohttp app, and a middleware that measures requests.

Each process builds its own :class:`prometheus_client.CollectorRegistry` (never the global
one): tests run a gateway, a satellite and several nodes in one interpreter, and each must
report only its own work. ``/metrics`` may run async *refreshers* first — gauges read from a
database, such as the repair queue length — so a scrape sees the state at scrape time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from common.observability.requestid import current_request_id

__all__ = ["LATENCY_BUCKETS", "health_response", "http_metrics_middleware", "metrics_response"]

# Seconds: from a cached metadata call to a multi-GiB transfer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

Refresher = Callable[[], Awaitable[None]]


async def metrics_response(registry: CollectorRegistry, refreshers: Sequence[Refresher] = ()) -> web.Response:
    for refresh in refreshers:
        await refresh()
    body = generate_latest(registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def health_response(process: str, started: float, **details: Any) -> web.Response:
    """``{"status": "ok", …}``: no authentication, no secrets — for load balancers and compose."""
    body = {"status": "ok", "process": process, "uptime_seconds": round(time.monotonic() - started, 1), **details}
    return web.json_response(body, headers={"Cache-Control": "no-store"})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def http_metrics_middleware(
    registry: CollectorRegistry, prefix: str, operation: Callable[[web.Request], str], *, skip: Sequence[str] = ()
) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Counts requests by operation and status, their latency, and the bytes in and out.

    ``operation(request)`` names the request after the handler ran (the gateway's router
    stores the S3 operation on the request); paths in ``skip`` (``/metrics``) are not counted.
    Each request is also logged at DEBUG on the ``{prefix}.access`` logger, with its request
    id, so one S3 request can be followed through every process's log.
    """
    access = logging.getLogger(f"{prefix}.access")
    requests = Counter(f"{prefix}_requests", "Requests by operation and HTTP status",
                       ["operation", "status"], registry=registry)  # fmt: skip
    latency = Histogram(f"{prefix}_request_duration_seconds", "Time in the handler (streamed bodies included)",
                        ["operation"], buckets=LATENCY_BUCKETS, registry=registry)  # fmt: skip
    received = Counter(f"{prefix}_received_bytes", "Request body bytes read", ["operation"], registry=registry)
    sent = Counter(f"{prefix}_sent_bytes", "Response body bytes written", ["operation"], registry=registry)
    skipped = frozenset(skip)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in skipped:
            return await handler(request)
        began = time.perf_counter()
        status = 500
        response: web.StreamResponse | None = None
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            op = operation(request)
            took = time.perf_counter() - began
            requests.labels(op, str(status)).inc()
            latency.labels(op).observe(took)
            if access.isEnabledFor(logging.DEBUG):
                access.debug("%s %s -> %d in %.1f ms", request.method, request.path, status, took * 1000,
                             extra={"request_id": current_request_id()})  # fmt: skip
            received.labels(op).inc(request.content.total_bytes)
            if response is not None:
                out = response.body_length if response.prepared else (response.content_length or 0)
                sent.labels(op).inc(out or 0)

    return middleware
