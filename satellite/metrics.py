"""The satellite's Prometheus metrics and ``/health``.

``/metrics`` and ``/health`` answer on the admin port without the admin token (metrics hold
no secrets; Prometheus and compose health checks need no credentials), and ``/health`` on
the public API port too. What is exported, each from its owner's own state:

* ``geoshard_audits_total{outcome}`` — the audit chore's outcomes since start;
* ``geoshard_repair_queue_length{reason}``, ``geoshard_repair_queue_oldest_seconds``,
  ``geoshard_repair_queue_failing`` — read from the database at scrape time;
* ``geoshard_repair_jobs_total{outcome}``, ``geoshard_repair_repaired_bytes_total`` — this
  process's repairers (throughput: ``rate()`` of them);
* ``geoshard_db_query_duration_seconds{statement}`` — every SQL statement, by its verb;
* ``geoshard_lifecycle_expired_objects_total{rule}``, ``geoshard_lifecycle_expired_versions_total{rule}``,
  ``geoshard_lifecycle_aborted_uploads_total``,
  ``geoshard_lifecycle_passes_total`` — this process's lifecycle chore (expiries by rule id);
* ``geoshard_chore_lease_held{chore}`` — 1 for each leased chore this process runs now
  (``satellite.leases``), 0 while it waits as a standby;
* ``geoshard_satellite_http_requests_total{operation,status}`` with latency and bytes — the
  public API (metainfo, check-ins, audits answered).

Payout states (``planned/signed/sent/confirmed``) belong here once ``satellite/payouts``
keeps them in the database: add a refresher (see :meth:`SatelliteMetrics.refresh`) that
counts payouts per state into a ``geoshard_payouts{state}`` gauge.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event

from common.observability import health_response, http_metrics_middleware, metrics_response
from satellite.db.engine import Database
from satellite.db.repair_status import repair_queue_status

__all__ = ["PUBLIC_PATHS", "SatelliteMetrics"]

PUBLIC_PATHS = frozenset({"/health", "/metrics"})  # served on the admin port without the token
_DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource
    return f"{request.method} {info.canonical}" if info is not None else f"{request.method} unrouted"


class _WorkCollector(Collector):
    """Counters the chores keep in memory, read at scrape time."""

    def __init__(self, satellite: Any) -> None:
        self.sat = satellite

    def collect(self) -> Iterator[Any]:
        audits = CounterMetricFamily("geoshard_audits", "Audits by outcome", labels=["outcome"])
        for outcome, n in sorted(self.sat.audit_chore.state.outcomes.items()):
            audits.add_metric([outcome], n)
        yield audits
        jobs = CounterMetricFamily("geoshard_repair_jobs", "Repair jobs finished by outcome", labels=["outcome"])
        repaired_bytes = 0
        by: dict[str, int] = {}
        for r in self.sat.repair.repairers:
            repaired_bytes += r.state.segment_bytes
            for outcome, n in r.state.by_outcome.items():
                by[str(outcome)] = by.get(str(outcome), 0) + n
        for outcome, n in sorted(by.items()):
            jobs.add_metric([outcome], n)
        yield jobs
        yield CounterMetricFamily("geoshard_repair_repaired_bytes", "Encrypted bytes of segments repaired",
                                  value=repaired_bytes)  # fmt: skip
        yield from _lifecycle(self.sat.lifecycle.stats)
        held = GaugeMetricFamily("geoshard_chore_lease_held", "1 while this process holds (runs) the chore",
                                 labels=["chore"])  # fmt: skip
        for leased in self.sat.leased:
            held.add_metric([leased.name], 1.0 if leased.held else 0.0)
        yield held


def _lifecycle(stats: Any) -> Iterator[Any]:
    by_rule = CounterMetricFamily("geoshard_lifecycle_expired_objects",
                                  "Current objects expired by lifecycle rules, by rule id",
                                  labels=["rule"])  # fmt: skip
    for rule, n in sorted(stats.by_rule.items()):
        by_rule.add_metric([rule], n)
    yield by_rule
    versions = CounterMetricFamily("geoshard_lifecycle_expired_versions",
                                   "Noncurrent versions and expired delete markers removed for good by lifecycle rules,"
                                   " by rule id", labels=["rule"])  # fmt: skip
    for rule, n in sorted(stats.versions_by_rule.items()):
        versions.add_metric([rule], n)
    yield versions
    yield CounterMetricFamily("geoshard_lifecycle_aborted_uploads", "Multipart uploads aborted by lifecycle rules",
                              value=stats.aborted_uploads)  # fmt: skip
    yield CounterMetricFamily("geoshard_lifecycle_passes", "Passes (batches) of the lifecycle chore",
                              value=stats.passes)  # fmt: skip


_STATEMENTS_KEPT = 2048  # distinct statement texts whose histogram child is remembered


class SatelliteMetrics:
    def __init__(self, satellite: Any) -> None:
        self.sat = satellite
        self.registry = CollectorRegistry(auto_describe=True)
        self.started = time.monotonic()
        self.registry.register(_WorkCollector(satellite))
        self.queue_length = Gauge("geoshard_repair_queue_length", "Segments waiting for repair, by reason",
                                  ["reason"], registry=self.registry)  # fmt: skip
        self.queue_oldest = Gauge("geoshard_repair_queue_oldest_seconds", "Age of the oldest repair job",
                                  registry=self.registry)  # fmt: skip
        self.queue_failing = Gauge("geoshard_repair_queue_failing", "Repair jobs whose last attempt failed",
                                   registry=self.registry)  # fmt: skip
        self.db_latency = Histogram("geoshard_db_query_duration_seconds", "SQL statement latency, by verb",
                                    ["statement"], buckets=_DB_BUCKETS, registry=self.registry)  # fmt: skip
        self.api_middleware = http_metrics_middleware(self.registry, "geoshard_satellite_http", _route,
                                                      skip=tuple(PUBLIC_PATHS))  # fmt: skip
        self._by_statement: dict[str, Any] = {}
        self._instrument(satellite.db)

    def _instrument(self, db: Database) -> None:
        # ``read_engine`` is ``engine`` with execution options: it runs the listeners of ``engine`` already.
        engines = {id(e.sync_engine): e.sync_engine for e in (db.engine, db.write_engine)}
        for engine in engines.values():
            event.listen(engine, "before_cursor_execute", self._before)
            event.listen(engine, "after_cursor_execute", self._after)

    @staticmethod
    def _before(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        conn.info.setdefault("geoshard_query_started", []).append(time.perf_counter())

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        stack = conn.info.get("geoshard_query_started")
        if not stack:
            return
        # Every statement passes here: its histogram child by statement text (the compiled cache's
        # texts repeat), so a hot path's statement costs one dict lookup, not a parse and a labels().
        child = self._by_statement.get(statement)
        if child is None:
            verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "OTHER"
            if verb not in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH"):
                verb = "OTHER"
            child = self.db_latency.labels(verb)
            if len(self._by_statement) < _STATEMENTS_KEPT:
                self._by_statement[statement] = child
        child.observe(time.perf_counter() - stack.pop())

    async def refresh(self) -> None:
        """Gauges from the database, at scrape time."""
        q = await repair_queue_status(self.sat.db, failures=0)
        self.queue_length.clear()
        for reason, n in q.by_reason.items():
            self.queue_length.labels(reason).set(n)
        oldest = q.oldest_inserted_at
        self.queue_oldest.set((dt.datetime.now(dt.UTC) - oldest).total_seconds() if oldest else 0)
        self.queue_failing.set(q.failing)

    async def metrics(self, _request: web.Request) -> web.Response:
        return await metrics_response(self.registry, [self.refresh])

    async def health(self, _request: web.Request) -> web.Response:
        return health_response("satellite", self.started, satellite_id=self.sat.identity.id,
                               role=str(self.sat.role))  # fmt: skip
