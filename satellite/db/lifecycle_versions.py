"""What the lifecycle chore's version pass reads and removes: every version of a bucket's keys in
``(key, newest first)`` order, and the permanent removal of the versions it condemns.

Removal goes through :func:`satellite.db.object_versions.delete_version`, the path of S3
``DeleteObject?versionId=``, so every protection on that path (Object Lock) applies to
lifecycle too. Each removal first checks, after the key's turn is taken, that the row the chore
read is still what it decided on (same row, still noncurrent; or still the key's only row, a
delete marker): a "null" version replaced meanwhile, or a key written again, survives. The
removals and the cursor move are one transaction, so a crash did all of a batch or none of it.
A refusal on purpose from ``delete_version`` (a :class:`common.errors.GeoshardError`, such as
Object Lock's) keeps that version and lets the batch go on: one protected version never stalls
a bucket's lifecycle; the next scan looks at it again. Such a refusal must come before
``delete_version`` writes anything, as a check does.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select

from common.errors import GeoshardError
from satellite.db.bucket_settings import upsert_setting
from satellite.db.engine import Database
from satellite.db.models import ObjectRow, ObjectStatus
from satellite.db.object_versions import Conn, delete_version, key_turn

__all__ = ["EXPIRED_MARKER", "NONCURRENT", "LifecycleVersion", "remove_versions", "versions_after"]

log = logging.getLogger(__name__)

NONCURRENT, EXPIRED_MARKER = "noncurrent", "expired-marker"  # why a version is removed


@dataclass(frozen=True)
class LifecycleVersion:
    id: int
    key: str
    version: int
    version_id: str
    is_latest: bool
    delete_marker: bool
    size: int
    tags: dict[str, Any]
    created_at: dt.datetime


async def versions_after(db: Database, bucket_id: int, after: tuple[str, int | None],
                         limit: int) -> list[LifecycleVersion]:  # fmt: skip
    """Up to ``limit`` committed versions after ``(key, version)`` in key order, each key's
    newest first (``version`` None: from the key's newest), as ListObjectVersions reads them."""
    key, version = after
    if version is None:
        where: Any = ObjectRow.key >= key
    else:
        where = or_(ObjectRow.key > key, and_(ObjectRow.key == key, ObjectRow.version < version))
    q = (
        select(ObjectRow.id, ObjectRow.key, ObjectRow.version, ObjectRow.version_id, ObjectRow.is_latest,
               ObjectRow.delete_marker, ObjectRow.size, ObjectRow.tags, ObjectRow.created_at)
        .where(ObjectRow.bucket_id == bucket_id, ObjectRow.status == ObjectStatus.COMMITTED, where)
        .order_by(ObjectRow.key, ObjectRow.version.desc())
        .limit(limit)
    )  # fmt: skip
    async with db.read() as s:
        rows = (await s.execute(q)).all()
    return [LifecycleVersion(r[0], r[1], int(r[2]), r[3], bool(r[4]), bool(r[5]), int(r[6] or 0), dict(r[7] or {}),
                             r[8]) for r in rows]  # fmt: skip


async def _still(s: Conn, bucket_id: int, v: LifecycleVersion, why: str) -> bool:
    """Whether ``v`` is still what the chore decided to remove (after the key's turn)."""
    row = (
        await s.execute(select(ObjectRow.id, ObjectRow.is_latest).where(
            ObjectRow.bucket_id == bucket_id, ObjectRow.key == v.key, ObjectRow.version_id == v.version_id))
    ).first()  # fmt: skip
    if row is None or row.id != v.id:
        return False
    if why == NONCURRENT:
        return not row.is_latest
    count = select(func.count()).where(ObjectRow.bucket_id == bucket_id, ObjectRow.key == v.key)
    return bool(row.is_latest) and (await s.execute(count)).scalar() == 1


async def remove_versions(db: Database, bucket_id: int, doomed: Sequence[tuple[LifecycleVersion, str]],
                          cursor_setting: str, cursor: dict[str, Any]) -> list[LifecycleVersion]:  # fmt: skip
    """Remove each ``(version, why)`` for good while it is still as read, and store ``cursor``,
    in one transaction; the versions removed."""
    removed = []
    async with db.transaction() as s:
        for v, why in doomed:
            await key_turn(s, bucket_id, v.key)
            if not await _still(s, bucket_id, v, why):
                continue
            try:
                gone = await delete_version(s, bucket_id, v.key, v.version_id)
            except GeoshardError as e:  # refused on purpose (Object Lock): kept, and the batch goes on
                log.info("lifecycle: bucket %d: %s version %s kept: %s", bucket_id, v.key, v.version_id, e)
                continue
            if gone is not None:
                removed.append(v)
        await upsert_setting(s, bucket_id, cursor_setting, cursor)
    return removed
