"""What the dashboard's charts draw: samples of space, bandwidth and scores over time.

A chore (:meth:`storage_node.dashboard.service.DashboardService.run`) appends one row every
``history_interval`` seconds to a small table in the node's own ``node.db``. Bandwidth is
stored as running totals (bytes moved since the node's first sample), so a chart of any
resolution takes differences and a lost sample loses no bytes. Rows older than
:data:`KEEP_SECONDS` are pruned; a read returns at most ``points`` rows, evenly thinned,
so a year of samples still draws in one small response.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["KEEP_SECONDS", "NodeHistory", "Sample"]

KEEP_SECONDS = 400 * 86400

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dashboard_history (
    at REAL PRIMARY KEY,
    used INTEGER NOT NULL,
    trash INTEGER NOT NULL,
    free INTEGER NOT NULL,
    ingress INTEGER NOT NULL,
    egress INTEGER NOT NULL,
    audit REAL,
    unknown REAL,
    online REAL
);
"""


@dataclass(frozen=True)
class Sample:
    """One point: stored and trash bytes, free space, bandwidth totals and (if known) scores."""

    at: float
    used: int
    trash: int
    free: int
    ingress: int
    egress: int
    audit: float | None = None
    unknown: float | None = None
    online: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class NodeHistory:
    """The ``dashboard_history`` table of ``node.db``."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(_SCHEMA)

    def add(self, s: Sample) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO dashboard_history"
            " (at, used, trash, free, ingress, egress, audit, unknown, online) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s.at, s.used, s.trash, s.free, s.ingress, s.egress, s.audit, s.unknown, s.online),
        )
        self.conn.execute("DELETE FROM dashboard_history WHERE at < ?", (s.at - KEEP_SECONDS,))

    def last(self) -> Sample | None:
        row = self.conn.execute("SELECT * FROM dashboard_history ORDER BY at DESC LIMIT 1").fetchone()
        return Sample(*row) if row else None

    def read(self, since: float = 0.0, points: int = 500) -> list[Sample]:
        """Samples from ``since`` on, thinned to at most ``points`` (the newest is always kept)."""
        (count,) = self.conn.execute("SELECT COUNT(*) FROM dashboard_history WHERE at >= ?", (since,)).fetchone()
        step = max(1, -(-count // max(1, points)))
        rows = self.conn.execute(
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY at DESC) - 1 AS n"
            " FROM dashboard_history WHERE at >= ?) WHERE n % ? = 0 ORDER BY at",
            (since, step),
        ).fetchall()
        return [Sample(*r[:9]) for r in rows]
