"""Object Lock in the metabase: the guard every deletion of object rows passes, the lock a new
version gets, and the retention and legal hold of stored versions (common/objectlock.py has
the rules; docs/object-lock.md the whole picture).

**The guard.** Object rows leave the database in two functions only —
``object_versions._drop`` (overwrites, DeleteObject, DELETE ?versionId, lifecycle) and
``deletion.delete_keys`` (DeleteObjects and lifecycle in unversioned buckets) — and both call
:func:`refuse_protected` first, in the same transaction, with the rows they are about to
delete (but an overwrite in an unversioned bucket created without Object Lock, where no
version can carry a lock, is ``replace_object``'s own two statements, which skip the guard's
read as ``_drop`` does for such a bucket). A protected row (legal hold, or a retention date in
the future) stops the whole deletion with :class:`~common.objectlock.ObjectLocked` unless the
rules allow it (GOVERNANCE with a bypass). Deleting a bucket needs it empty, and a tenant's buckets stop
its deletion, so those routes never reach a locked version; garbage collection only sends
nodes retain lists built from the pieces of rows that exist, so a version that cannot be
deleted keeps its pieces on every disk.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from common.objectlock import LockMode, VersionLock, check_delete, check_retention_change
from satellite.db.engine import Database
from satellite.db.models import Bucket, ObjectRow
from satellite.errors import InvalidArgument, MethodNotAllowed

__all__ = ["ObjectLockRepository", "bucket_state", "lock_values", "refuse_protected"]

Conn = AsyncSession | AsyncConnection

_objects = cast(Table, ObjectRow.__table__)
_buckets = cast(Table, Bucket.__table__)
_STATE = select(_buckets.c.versioning, _buckets.c.object_lock).where(_buckets.c.id == bindparam("v_bucket"))


async def bucket_state(s: Conn, bucket_id: int) -> tuple[str, dict[str, Any] | None]:
    """The bucket's versioning state and Object Lock configuration (None: created without it)."""
    row = (await s.execute(_STATE, {"v_bucket": bucket_id})).first()
    if row is None:
        return "unversioned", None
    return str(row[0] or "unversioned"), row[1]


def lock_values(lock: VersionLock | None) -> dict[str, Any]:
    lock = lock or VersionLock()
    return {"lock_mode": lock.mode.value if lock.mode else None, "lock_until": lock.until,
            "legal_hold": lock.legal_hold}  # fmt: skip


async def refuse_protected(s: Conn, where: Any, *, bypass: bool = False, now: dt.datetime | None = None) -> None:
    """Raise ObjectLocked if any row matching ``where`` may not be deleted now (one indexed read)."""
    now = now or dt.datetime.now(dt.UTC)
    rows = await s.execute(
        select(_objects.c.lock_mode, _objects.c.lock_until, _objects.c.legal_hold)
        .where(*where)
        .where(or_(_objects.c.legal_hold.is_(True), _objects.c.lock_until > now))
    )
    for mode, until, hold in rows:
        check_delete(VersionLock.of_row(mode, until, hold), bypass=bypass, now=now)


class ObjectLockRepository:
    """The Object Lock half of ``MetabaseStore``: bucket configuration and version locks."""

    db: Database

    async def set_object_lock(self, bucket_id: int, config: dict[str, Any]) -> None:
        async with self.db.write_conn() as c:
            await c.execute(update(_buckets).where(_buckets.c.id == bucket_id).values(object_lock=config))

    async def version_lock(
        self, bucket_id: int, key: str, version_id: str | None
    ) -> tuple[str, VersionLock] | None:
        """The version's id and lock (the latest version when ``version_id`` is None); None when
        there is no such version. A delete marker has no lock to read: MethodNotAllowed."""
        async with self.db.read_conn() as c:
            row = (await c.execute(self._version(bucket_id, key, version_id))).first()
        return None if row is None else _lock_of(row, version_id)

    async def put_retention(
        self, bucket_id: int, key: str, version_id: str | None, mode: LockMode | None, until: dt.datetime | None,
        *, bypass: bool, now: dt.datetime,
    ) -> str | None:  # fmt: skip
        """Set (or with ``None, None`` remove) a version's retention as the rules allow; its id."""
        from satellite.db.object_versions import key_turn  # the key's turn, as every write of it takes

        async with self.db.write_conn() as c:
            await key_turn(c, bucket_id, key)
            row = (await c.execute(self._version(bucket_id, key, version_id))).first()
            if row is None:
                return None
            vid, current = _lock_of(row, version_id)
            try:
                check_retention_change(current, mode, until, bypass=bypass, now=now)
            except ValueError as e:
                raise InvalidArgument(str(e)) from None
            await c.execute(update(_objects).where(_objects.c.id == row.id).values(
                lock_mode=mode.value if mode else None, lock_until=until))  # fmt: skip
            return vid

    async def put_legal_hold(self, bucket_id: int, key: str, version_id: str | None, on: bool) -> str | None:
        from satellite.db.object_versions import key_turn

        async with self.db.write_conn() as c:
            await key_turn(c, bucket_id, key)
            row = (await c.execute(self._version(bucket_id, key, version_id))).first()
            if row is None:
                return None
            vid, _ = _lock_of(row, version_id)
            await c.execute(update(_objects).where(_objects.c.id == row.id).values(legal_hold=on))
            return vid

    @staticmethod
    def _version(bucket_id: int, key: str, version_id: str | None) -> Any:
        q = select(_objects.c.id, _objects.c.version_id, _objects.c.delete_marker, _objects.c.lock_mode,
                   _objects.c.lock_until, _objects.c.legal_hold).where(
            _objects.c.bucket_id == bucket_id, _objects.c.key == key)  # fmt: skip
        if version_id is None:
            return q.where(_objects.c.is_latest.is_(True))
        return q.where(_objects.c.version_id == version_id)


def _lock_of(row: Any, asked: str | None) -> tuple[str, VersionLock]:
    if row.delete_marker:
        raise MethodNotAllowed(f"version {row.version_id!r} is a delete marker", version_id=row.version_id)
    return str(row.version_id), VersionLock.of_row(row.lock_mode, row.lock_until, row.legal_hold)
