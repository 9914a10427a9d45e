"""The storage node's Prometheus metrics and ``/health``, on its piece-store port and its dashboard port.

Gauges read at scrape time from the piece store's own counters (the same numbers
``node status`` and check-ins report, which equal the bytes on disk):
``geoshard_node_pieces``, ``geoshard_node_piece_bytes``, ``geoshard_node_trash_bytes``,
``geoshard_node_capacity_bytes``, ``geoshard_node_free_bytes``; the counters
``geoshard_node_gc_freed_bytes_total`` (trash emptied after its grace period) and
``geoshard_node_retain_trashed_pieces_total`` with the gauge ``geoshard_node_retain_pass_progress``
(garbage collection's retain passes); and, per
piece-store route and status, ``geoshard_node_http_requests_total``, its latency histogram
and the bytes in and out (uploads and downloads of pieces).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from common.observability import health_response, http_metrics_middleware, metrics_response
from storage_node.pieces.store import PieceStore

__all__ = ["NodeMetrics"]


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource
    return f"{request.method} {info.canonical}" if info is not None else f"{request.method} unrouted"


class _StoreCollector(Collector):
    def __init__(self, store: PieceStore, trash: Any, retain: Any) -> None:
        self.store, self.trash, self.retain = store, trash, retain

    def collect(self) -> Iterator[Any]:
        u = self.store.usage()
        yield GaugeMetricFamily("geoshard_node_pieces", "Pieces stored", value=u.piece_count)
        yield GaugeMetricFamily("geoshard_node_piece_bytes", "Bytes of stored pieces on disk", value=u.pieces)
        yield GaugeMetricFamily("geoshard_node_trash_bytes", "Bytes in the trash, awaiting deletion", value=u.trash)
        yield GaugeMetricFamily("geoshard_node_capacity_bytes", "Capacity offered", value=self.store.capacity)
        yield GaugeMetricFamily("geoshard_node_free_bytes", "Capacity not used", value=self.store.free)
        yield CounterMetricFamily("geoshard_node_gc_freed_bytes", "Bytes freed by emptying the trash",
                                  value=getattr(self.trash, "freed_bytes", 0))  # fmt: skip
        if self.retain is not None:
            p = self.retain.progress
            yield GaugeMetricFamily("geoshard_node_retain_pass_progress",
                                    "Share of the current (or last) retain pass done, 0-1",
                                    value=p.progress if p is not None else 0.0)  # fmt: skip
            yield CounterMetricFamily("geoshard_node_retain_trashed_pieces",
                                      "Pieces moved to the trash by retain lists", value=self.retain.trashed_total)


class NodeMetrics:
    def __init__(self, store: PieceStore, trash: Any, retain: Any = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_StoreCollector(store, trash, retain))
        self.started = time.monotonic()
        self.middleware = http_metrics_middleware(self.registry, "geoshard_node_http", _route,
                                                  skip=("/metrics", "/health"))  # fmt: skip

    def install(self, app: web.Application, *, node_id: str) -> None:
        """On the piece-store app: the routes, and the middleware that counts its requests."""
        app.middlewares.insert(0, self.middleware)
        self.install_routes(app, node_id=node_id)

    def install_routes(self, app: web.Application, *, node_id: str) -> None:
        """``/metrics`` and ``/health`` only (the dashboard's port: one registry, both ports)."""

        async def metrics(_request: web.Request) -> web.Response:
            return await metrics_response(self.registry)

        async def health(_request: web.Request) -> web.Response:
            return health_response("storage-node", self.started, node_id=node_id)

        app.router.add_get("/metrics", metrics)
        app.router.add_get("/health", health)
