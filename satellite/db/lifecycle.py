"""What the lifecycle chore reads and writes: buckets with rules, their objects and uploads in
key order, and a cursor per bucket (``satellite/lifecycle``).

The cursor is the bucket's ``lifecycle-cursor`` setting (``bucket_settings``, dropped with the
bucket); an expiry batch deletes its objects and moves the cursor in one transaction, so a
crash either did both or neither.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select

from common.lifecycle_rules import SETTING
from satellite.db.bucket_settings import upsert_setting
from satellite.db.deletion import delete_keys
from satellite.db.engine import Database
from satellite.db.lifecycle_versions import LifecycleVersion, remove_versions, versions_after
from satellite.db.models import Bucket, ObjectRow, ObjectStatus, Upload
from satellite.db.multipart import MultipartRepository
from satellite.db.object_versions import UNVERSIONED, bucket_versioning, expire_current
from satellite.db.surface_models import BucketSetting

__all__ = ["CURSOR_SETTING", "LifecycleBucket", "LifecycleObject", "LifecycleRepository", "LifecycleUpload"]

CURSOR_SETTING = "lifecycle-cursor"


@dataclass(frozen=True)
class LifecycleBucket:
    bucket_id: int
    name: str
    rules: dict[str, Any]  # the stored ``lifecycle`` setting
    rules_updated_at: dt.datetime
    cursor: dict[str, Any] | None


@dataclass(frozen=True)
class LifecycleObject:
    id: int
    key: str
    size: int
    tags: dict[str, Any]
    created_at: dt.datetime


@dataclass(frozen=True)
class LifecycleUpload:
    id: str
    key: str
    created_at: dt.datetime


class LifecycleRepository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.uploads = MultipartRepository()
        self.uploads.db = db

    async def buckets(self) -> list[LifecycleBucket]:
        """Every bucket with a lifecycle configuration, with its cursor (None before its first pass)."""
        cursor = select(BucketSetting.bucket_id, BucketSetting.value).where(BucketSetting.name == CURSOR_SETTING)
        cursors = cursor.subquery()
        q = (
            select(Bucket.id, Bucket.name, BucketSetting.value, BucketSetting.updated_at, cursors.c.value)
            .join(BucketSetting, and_(BucketSetting.bucket_id == Bucket.id, BucketSetting.name == SETTING))
            .outerjoin(cursors, cursors.c.bucket_id == Bucket.id)
            .order_by(Bucket.id)
        )
        async with self.db.read() as s:
            rows = (await s.execute(q)).all()
        return [LifecycleBucket(r[0], r[1], dict(r[2]), r[3], None if r[4] is None else dict(r[4])) for r in rows]

    async def objects_after(self, bucket_id: int, after: str, limit: int) -> tuple[list[LifecycleObject], bool]:
        """Current objects with keys after ``after``, in key order, from at most ``limit`` rows; and
        whether rows may follow (the read was cut at ``limit``)."""
        # The latest row of each key, as ListObjects reads them (docs/versioning.md): a key whose
        # latest version is a delete marker has no current object.
        q = (
            select(ObjectRow.id, ObjectRow.key, ObjectRow.size, ObjectRow.tags, ObjectRow.created_at,
                   ObjectRow.delete_marker)
            .where(ObjectRow.bucket_id == bucket_id, ObjectRow.is_latest == True,  # noqa: E712
                   ObjectRow.key > after, ObjectRow.status == ObjectStatus.COMMITTED)
            .order_by(ObjectRow.key)
            .limit(limit)
        )  # fmt: skip
        async with self.db.read() as s:
            rows = (await s.execute(q)).all()
        out = [LifecycleObject(r[0], r[1], int(r[2]), dict(r[3] or {}), r[4]) for r in rows if not r[5]]
        return out, len(rows) == limit

    async def uploads_after(self, bucket_id: int, after: tuple[str, str], limit: int) -> list[LifecycleUpload]:
        """Pending multipart uploads after ``(key, upload id)``, in that order."""
        key, upload_id = after
        q = (
            select(Upload.id, Upload.key, Upload.created_at)
            .where(Upload.bucket_id == bucket_id, or_(Upload.key > key, and_(Upload.key == key, Upload.id > upload_id)))
            .order_by(Upload.key, Upload.id)
            .limit(limit)
        )
        async with self.db.read() as s:
            rows = (await s.execute(q)).all()
        return [LifecycleUpload(r[0], r[1], r[2]) for r in rows]

    async def expire(self, bucket_id: int, doomed: Sequence[LifecycleObject], cursor: dict[str, Any]) -> list[str]:
        """Delete ``doomed`` (each only while it is still its key's current version) and store
        ``cursor``, in one transaction; the keys deleted. The deletion is S3 DeleteObject's."""
        async with self.db.transaction() as s:
            if await bucket_versioning(s, bucket_id) == UNVERSIONED:
                deleted = await delete_keys(s, bucket_id, [o.key for o in doomed], only_ids={o.id for o in doomed})
            else:  # a delete marker on each, as DeleteObject leaves one (docs/versioning.md)
                deleted = [o.key for o in doomed if await expire_current(s, bucket_id, o.key, o.id)]
            await upsert_setting(s, bucket_id, CURSOR_SETTING, cursor)
        return deleted

    async def versions_after(self, bucket_id: int, after: tuple[str, int | None],
                             limit: int) -> list[LifecycleVersion]:  # fmt: skip
        """Every version (and delete marker) after ``(key, version)``, each key's newest first."""
        return await versions_after(self.db, bucket_id, after, limit)

    async def remove_versions(self, bucket_id: int, doomed: Sequence[tuple[LifecycleVersion, str]],
                              cursor: dict[str, Any]) -> list[LifecycleVersion]:  # fmt: skip
        """Remove ``doomed`` for good (as ``DeleteObject?versionId=``) and store ``cursor``, in one transaction."""
        return await remove_versions(self.db, bucket_id, doomed, CURSOR_SETTING, cursor)

    async def abort(self, upload_id: str) -> bool:
        """Abort an upload as S3 AbortMultipartUpload does (its parts' pieces go to GC)."""
        return await self.uploads.abort_upload(upload_id)

    async def save_cursor(self, bucket_id: int, cursor: dict[str, Any]) -> None:
        async with self.db.transaction() as s:
            await upsert_setting(s, bucket_id, CURSOR_SETTING, cursor)

