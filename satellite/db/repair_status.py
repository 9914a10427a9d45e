"""Read-only views of the repair queue for admins: what waits, since when, and what fails.

The queue belongs to ``satellite.repair.queue`` (writes, claims, swaps); this module only
reads ``repair_queue`` with a few grouped queries, so ``admin repair status`` and the
metrics exporter cost one round trip each and never take a lock a repairer needs. A job's
policy is its bucket's, through the object (or, for a pending multipart part, the upload)
that owns the segment; a job whose segment is already gone counts under ``(deleted)``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.sql import Select

from satellite.db.engine import Database
from satellite.db.models import Bucket, ObjectRow, PlacementPolicyRow, RepairJob, SegmentRow, Upload

__all__ = ["RepairFailure", "RepairQueueStatus", "repair_queue_status"]

DELETED = "(deleted)"


@dataclass(frozen=True)
class RepairFailure:
    segment_id: int
    reason: str
    attempts: int
    last_error: str
    updated_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_id,
            "reason": self.reason,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "updated_at": _iso(self.updated_at),
        }


@dataclass
class RepairQueueStatus:
    queued: int = 0
    claimed: int = 0
    failing: int = 0  # jobs whose last attempt failed (they are retried after the claim timeout)
    by_reason: dict[str, int] = field(default_factory=dict)
    by_policy: dict[str, int] = field(default_factory=dict)
    oldest_inserted_at: dt.datetime | None = None
    min_margin: int | None = None  # the job closest to loss: healthy pieces minus k
    failures: list[RepairFailure] = field(default_factory=list)

    def to_json(self, now: dt.datetime | None = None) -> dict[str, Any]:
        t = now or dt.datetime.now(dt.UTC)
        oldest = self.oldest_inserted_at
        return {
            "queued": self.queued,
            "claimed": self.claimed,
            "failing": self.failing,
            "by_reason": self.by_reason,
            "by_policy": self.by_policy,
            "oldest_job_at": _iso(oldest),
            "oldest_job_age_seconds": round((t - oldest).total_seconds(), 1) if oldest else None,
            "min_margin": self.min_margin,
            "failures": [f.to_json() for f in self.failures],
        }


def _policy_of_job() -> Select[Any]:
    bucket_id = func.coalesce(ObjectRow.bucket_id, Upload.bucket_id)
    return (
        # Grouped by the name itself (NULL: the segment is gone), mapped to DELETED in Python:
        # PostgreSQL does not see two ``coalesce(name, $n)`` with their own parameters as one.
        select(PlacementPolicyRow.name, func.count())
        .select_from(RepairJob)
        .outerjoin(SegmentRow, SegmentRow.id == RepairJob.segment_id)
        .outerjoin(ObjectRow, ObjectRow.id == SegmentRow.object_id)
        .outerjoin(Upload, Upload.id == SegmentRow.upload_id)
        .outerjoin(Bucket, Bucket.id == bucket_id)
        .outerjoin(PlacementPolicyRow, PlacementPolicyRow.id == Bucket.policy_id)
        .group_by(PlacementPolicyRow.name)
    )


async def repair_queue_status(db: Database, *, failures: int = 10) -> RepairQueueStatus:
    """The queue now; ``failures``: how many of the most recently failed jobs to list."""
    st = RepairQueueStatus()
    async with db.read() as s:
        total, claimed, failing, oldest, margin = (
            await s.execute(
                select(
                    func.count(),
                    func.count(RepairJob.claimed_by),
                    func.count().filter(RepairJob.last_error != ""),
                    func.min(RepairJob.inserted_at),
                    func.min(RepairJob.margin),
                )
            )
        ).one()
        st.queued, st.claimed, st.failing, st.min_margin = int(total), int(claimed), int(failing), margin
        st.oldest_inserted_at = _utc(oldest)
        rows = await s.execute(select(RepairJob.reason, func.count()).group_by(RepairJob.reason))
        st.by_reason = {str(reason): int(n) for reason, n in rows}
        st.by_policy = {str(name or DELETED): int(n) for name, n in await s.execute(_policy_of_job())}
        failed = await s.execute(
            select(RepairJob)
            .where(RepairJob.last_error != "")
            .order_by(RepairJob.updated_at.desc(), RepairJob.segment_id)
            .limit(failures)
        )
        st.failures = [
            RepairFailure(j.segment_id, j.reason, j.attempts, j.last_error, _utc(j.updated_at) or j.updated_at)
            for j in failed.scalars()
        ]
    return st


def _utc(t: dt.datetime | None) -> dt.datetime | None:
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _iso(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if t is not None else None
