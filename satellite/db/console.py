"""The admin console's reads across the network, and its audit log.

Each read is one or two indexed queries that the console polls: recent audit failures (with
the node's location), the repair queue in summary, graceful exits with their nodes, and the
admin audit log. Node rows themselves come through ``AuditRepository.standings`` (with
scores); the network's economics are computed from them in ``satellite.console.economics``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from satellite.db.console_models import AdminAuditEntry
from satellite.db.engine import Database
from satellite.db.models import AuditResult, GracefulExit, Node, RepairJob

__all__ = ["ConsoleRepository"]


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class ConsoleRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- the admin audit log -------------------------------------------------------------

    async def record(self, *, remote: str, method: str, route: str, path: str, status: int, body: str,
                     result: str) -> None:
        async with self.db.transaction() as s:
            s.add(AdminAuditEntry(at=dt.datetime.now(dt.UTC), remote=remote[:64], method=method[:8],
                                  route=route[:128], path=path[:512], status=status, body=body[:2000],
                                  result=result[:500]))

    async def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self.db.read() as s:
            rows = (await s.execute(
                select(AdminAuditEntry).order_by(AdminAuditEntry.id.desc()).limit(limit)
            )).scalars()
            return [
                {"id": e.id, "at": _iso(e.at), "remote": e.remote, "method": e.method, "route": e.route,
                 "path": e.path, "status": e.status, "body": e.body, "result": e.result}
                for e in rows
            ]

    # --- audits, repair, exits -------------------------------------------------------------

    async def audit_failures(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest audits that did not pass, newest first, with the node's place."""
        async with self.db.read() as s:
            rows = (await s.execute(
                select(AuditResult, Node.country, Node.region, Node.address)
                .outerjoin(Node, Node.id == AuditResult.node_id)
                .where(AuditResult.outcome != "success")
                .order_by(AuditResult.audited_at.desc(), AuditResult.id.desc())
                .limit(limit)
            )).all()
        return [
            {"at": _iso(r.audited_at), "node_id": r.node_id, "country": c, "region": g, "address": a,
             "outcome": r.outcome, "reason": r.reason, "piece_id": r.piece_id, "segment_id": r.segment_id}
            for r, c, g, a in rows
        ]

    async def repair_summary(self, listed: int = 50) -> dict[str, Any]:
        """Queue length by reason, the oldest job, how many are claimed, and the most urgent jobs."""
        async with self.db.read() as s:
            by_reason = (await s.execute(
                select(RepairJob.reason, func.count(), func.min(RepairJob.inserted_at), func.min(RepairJob.margin))
                .group_by(RepairJob.reason)
            )).all()
            claimed = (await s.execute(
                select(func.count()).select_from(RepairJob).where(RepairJob.claimed_at.is_not(None))
            )).scalar_one()
            jobs = (await s.execute(
                select(RepairJob).order_by(RepairJob.margin, RepairJob.healthy, RepairJob.inserted_at).limit(listed)
            )).scalars().all()
        oldest = min((r[2] for r in by_reason), default=None)
        return {
            "length": sum(r[1] for r in by_reason),
            "claimed": int(claimed),
            "oldest_at": _iso(oldest),
            "by_reason": [{"reason": r, "jobs": n, "oldest_at": _iso(o), "min_margin": m} for r, n, o, m in by_reason],
            "jobs": [
                {"segment_id": j.segment_id, "reason": j.reason, "healthy": j.healthy, "margin": j.margin,
                 "attempts": j.attempts, "claimed_at": _iso(j.claimed_at), "last_error": j.last_error,
                 "inserted_at": _iso(j.inserted_at)}
                for j in jobs
            ],
        }

    async def exits(self) -> list[dict[str, Any]]:
        async with self.db.read() as s:
            rows = (await s.execute(
                select(GracefulExit, Node.country, Node.region)
                .join(Node, Node.id == GracefulExit.node_id)
                .order_by(GracefulExit.initiated_at.desc())
            )).all()
        out = []
        for e, country, region in rows:
            start = e.pieces_at_start or 0
            done = e.pieces_transferred
            out.append({
                "node_id": e.node_id, "country": country, "region": region, "status": e.status,
                "initiated_at": _iso(e.initiated_at), "finished_at": _iso(e.finished_at), "reason": e.reason,
                "pieces_at_start": start, "pieces_transferred": done, "pieces_failed": e.pieces_failed,
                "bytes_transferred": e.bytes_transferred, "last_progress_at": _iso(e.last_progress_at),
                "progress": 1.0 if e.status == "exited" else (done / start if start else 0.0),
            })
        return out
