"""Renewal of piece TTLs: which segments must be re-uploaded before their pieces expire.

Uploads sign a TTL (``segments.piece_expires``) only for objects a lifecycle rule expires
(``common/piece_ttl.py``), but S3 lets the rules change afterwards, a copy shares the pieces
in another bucket, and the lifecycle chore may be down. Each segment is judged by its *own*
object (a copy's segment by the copy), under its bucket's rules, versioning and Object Lock
*now* (:func:`common.piece_ttl.needs_renewal`). The checker queues those that need it
(reason ``renew``); the repairer judges again and re-uploads every piece without a TTL,
clearing ``piece_expires`` in the swap. A segment past its TTL is not judged at all: its
pieces are expected gone, and its object was expired by lifecycle before (the grace).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select

from common.lifecycle_rules import SETTING
from common.piece_ttl import PieceTtl, needs_renewal
from satellite.db.engine import Database
from satellite.db.models import Bucket, ObjectRow, SegmentRow
from satellite.db.surface_models import BucketSetting

__all__ = ["Renewals"]


class Renewals:
    def __init__(self, db: Database, ttl: PieceTtl | None = None) -> None:
        self.db = db
        self.ttl = ttl or PieceTtl()

    def horizon(self, now: float) -> float:
        """Segments whose TTL ends before this (unix seconds) are worth judging."""
        return now + 2 * self.ttl.grace

    async def needing(self, segment_ids: Sequence[int], now: float) -> set[int]:
        """The segments among ``segment_ids`` whose pieces must be renewed now."""
        if not segment_ids:
            return set()
        seg = SegmentRow
        q = (
            select(seg.id, seg.piece_expires, ObjectRow.key, ObjectRow.created_at, Bucket.id,
                   Bucket.versioning, Bucket.object_lock)
            .outerjoin(ObjectRow, ObjectRow.id == seg.object_id)
            .outerjoin(Bucket, Bucket.id == ObjectRow.bucket_id)
            .where(seg.id.in_(list(segment_ids)), seg.piece_expires.is_not(None))
        )  # fmt: skip
        async with self.db.read() as s:
            rows = (await s.execute(q)).all()
            buckets = {r[4] for r in rows if r[4] is not None}
            rules = {}
            if buckets:
                found = await s.execute(
                    select(BucketSetting.bucket_id, BucketSetting.value).where(
                        BucketSetting.bucket_id.in_(buckets), BucketSetting.name == SETTING
                    )
                )
                rules = {b: v for b, v in found.all()}
        out: set[int] = set()
        for sid, expires, key, created_at, bucket_id, versioning, lock in rows:
            when = int(_aware(expires).timestamp())
            if needs_renewal(when, now=now, versioning=versioning, locked=lock is not None,
                             lifecycle=rules.get(bucket_id), key=key, created_at=created_at, ttl=self.ttl):  # fmt: skip
                out.add(int(sid))
        return out


def _aware(t: dt.datetime) -> dt.datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)
