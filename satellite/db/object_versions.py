"""S3 versioning in the metabase: writes by the bucket's state, delete markers, deletes of one
version and ListObjectVersions (see docs/versioning.md).

Every row of ``objects`` is one version of a key: ``version`` (an integer, ``max + 1`` per
commit) orders a key's versions newest first, ``version_id`` is what S3 clients see ("null"
for writes while the bucket is unversioned or suspended), ``delete_marker`` marks a delete
marker and ``is_latest`` is true on exactly the newest row of a key. A write, by the
bucket's state:

- unversioned: the new row replaces every older one (their pieces go to GC);
- Enabled: the new row gets a fresh version id and the older rows stay, no longer latest;
- Suspended: the new "null" row replaces only the older "null" version.

All of it runs after the key's turn is taken (``key_turn``): an advisory lock on PostgreSQL,
SQLite's single writer, so racing commits of one key each see the one before them.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from common.objectlock import MISSING_LOCK_MESSAGE, LockConfiguration, VersionLock, lock_for_new_version
from satellite.db.conditions import check_condition
from satellite.db.models import Bucket, ObjectRow, ObjectStatus, SegmentRow
from satellite.db.object_lock import bucket_state, lock_values, refuse_protected
from satellite.db.residency_ledger import LedgerEvent, placements_of, record_segments
from satellite.errors import InvalidArgument, InvalidRequest
from satellite.metainfo.types import ObjectMeta, WriteCondition

__all__ = [
    "ENABLED",
    "NULL_VERSION",
    "SUSPENDED",
    "UNVERSIONED",
    "VERSION_ID_RE",
    "bucket_versioning",
    "delete_latest",
    "delete_version",
    "expire_current",
    "key_turn",
    "new_version_id",
    "replace_object",
]

UNVERSIONED, ENABLED, SUSPENDED = "unversioned", "Enabled", "Suspended"
NULL_VERSION = "null"
# 24 random bytes, URL-safe base64: 32 characters that need no escaping in a query string.
VERSION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")

Conn = AsyncSession | AsyncConnection

_objects = cast(Table, ObjectRow.__table__)
_buckets = cast(Table, Bucket.__table__)
_older = _objects.alias("older")
_INSERT_OBJECT = (
    insert(_objects)
    .values(
        version=select(func.coalesce(func.max(_older.c.version), 0) + 1)
        .where(_older.c.bucket_id == bindparam("v_bucket"), _older.c.key == bindparam("v_key"))
        .scalar_subquery()
    )
    .returning(_objects.c.id, _objects.c.version)
)
_OF_KEY = (_objects.c.bucket_id == bindparam("v_bucket"), _objects.c.key == bindparam("v_key"))
_OLDER = (*_OF_KEY, _objects.c.version < bindparam("v_version"))
_STATE = select(_buckets.c.versioning).where(_buckets.c.id == bindparam("v_bucket"))
_NOT_LATEST = update(_objects).where(*_OLDER, _objects.c.is_latest.is_(True)).values(is_latest=False)
# An overwrite in an unversioned bucket without Object Lock (the usual PUT of an existing key)
# drops the key's older versions with statements built once.
_segments = cast(Table, SegmentRow.__table__)
_OLDER_PLACEMENTS = placements_of(
    select(_segments.c.id).join(_objects, _objects.c.id == _segments.c.object_id).where(*_OLDER)
)
_DELETE_OLDER = delete(_objects).where(*_OLDER)
# On PostgreSQL, commits of one key take turns: a transaction-scoped advisory lock on the
# (bucket, key) pair, taken before the version is computed. Without it, READ COMMITTED and
# the INSERT's max(version) + 1 under concurrent DELETEs of older versions did not give
# every commit its own version (tests/integration/test_satellite_workers.py). SQLite's
# writers already take turns (BEGIN IMMEDIATE).
_KEY_TURN = select(
    func.pg_advisory_xact_lock(func.hashtextextended(bindparam("v_key"), bindparam("v_bucket")))
)


def new_version_id() -> str:
    """24 random bytes as 32 URL-safe characters, never starting with "-": command-line clients
    (the AWS CLI's ``--version-id -x…``) would read such an id as an option and refuse it."""
    while (vid := secrets.token_urlsafe(24)).startswith("-"):
        pass
    return vid


def _dialect(s: Conn) -> str:
    bind = s.bind if isinstance(s, AsyncSession) else s
    return bind.dialect.name


async def key_turn(s: Conn, bucket_id: int, key: str) -> bool:
    """Wait for the key's turn (PostgreSQL; SQLite's writers take turns anyway). True on PostgreSQL."""
    postgres = _dialect(s) == "postgresql"
    if postgres:
        await s.execute(_KEY_TURN, {"v_key": key, "v_bucket": bucket_id})
    return postgres


async def bucket_versioning(s: Conn, bucket_id: int) -> str:
    return str((await s.execute(_STATE, {"v_bucket": bucket_id})).scalar() or UNVERSIONED)


async def _drop(s: Conn, where: Any, *, bypass: bool = False, lock_bucket: bool = True) -> None:
    """Delete object rows (their segments and pieces cascade), recording the pieces' removal;
    first the Object Lock guard, which refuses the whole deletion if any row is protected.
    ``lock_bucket=False`` (the caller read the bucket: created without Object Lock, which never
    turns off) skips the guard's read: no version of such a bucket can carry a lock."""
    if lock_bucket:
        await refuse_protected(s, where, bypass=bypass)
    doomed = select(SegmentRow.id).join(ObjectRow, ObjectRow.id == SegmentRow.object_id).where(*where)
    await record_segments(s, LedgerEvent.DELETION, "remove", doomed)
    await s.execute(delete(ObjectRow).where(*where))


async def replace_object(
    s: Conn, bucket_id: int, key: str, meta: ObjectMeta, segment_count: int, condition: WriteCondition | None = None,
    *, delete_marker: bool = False, bucket_name: str | None = None,
) -> tuple[ObjectRow, str]:
    """Insert the next version of ``key`` (or a delete marker) as the bucket's versioning state
    says, and the state. The version is computed inside the INSERT (one round trip); should
    two commits still race for one version, the unique index rejects the second and the
    caller retries it. A ``condition`` is checked after the turn is taken. ``bucket_name``,
    when the caller has it, spares the ledger looking up whose replaced segments it records."""
    postgres = await key_turn(s, bucket_id, key)
    if condition is not None:
        await check_condition(s, bucket_id, key, condition, postgres=postgres)
    state, lock_config = await bucket_state(s, bucket_id)
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {
        "bucket_id": bucket_id,
        "key": key,
        "version_id": new_version_id() if state == ENABLED else NULL_VERSION,
        "is_latest": True,
        "delete_marker": delete_marker,
        "status": ObjectStatus.COMMITTED,
        "size": meta.size,
        "etag": meta.etag,
        "content_type": meta.content_type,
        "user_metadata": meta.user_metadata,
        "checksums": meta.checksums,
        "tags": meta.tags,
        "segment_count": segment_count,
        "created_at": now,
        **lock_values(None if delete_marker else _new_lock(lock_config, meta.lock, now)),
    }
    object_id, version = (await s.execute(_INSERT_OBJECT, {**values, "v_bucket": bucket_id, "v_key": key})).one()
    if version > 1:
        older = {"v_bucket": bucket_id, "v_key": key, "v_version": version}
        where = (ObjectRow.bucket_id == bucket_id, ObjectRow.key == key, ObjectRow.version < version)
        if state == UNVERSIONED and lock_config is None:  # no version of such a bucket can carry a lock
            owner = None if bucket_name is None else (bucket_name, key)
            await record_segments(s, LedgerEvent.DELETION, "remove", _OLDER_PLACEMENTS, older, owner=owner)
            await s.execute(_DELETE_OLDER, older)
        elif state == UNVERSIONED:
            await _drop(s, where)
        else:
            if state == SUSPENDED:
                await _drop(s, (*where, ObjectRow.version_id == NULL_VERSION), lock_bucket=lock_config is not None)
            await s.execute(_NOT_LATEST, older)
    return ObjectRow(id=object_id, version=version, **values), state


def _new_lock(config: dict[str, Any] | None, asked: VersionLock | None, now: dt.datetime) -> VersionLock | None:
    """A new version's lock: its write's own, else the bucket's default retention; a write that
    names a lock in a bucket without Object Lock is refused, as S3 refuses it."""
    if config is None:
        if asked is not None:
            raise InvalidRequest(MISSING_LOCK_MESSAGE)
        return None
    if asked is not None and asked.until is not None and asked.until <= now:
        raise InvalidArgument("The retain until date must be in the future!")
    return lock_for_new_version(LockConfiguration.from_dict(config), asked, now)


_MARKER = ObjectMeta(size=0, etag="")


async def delete_latest(s: Conn, bucket_id: int, key: str) -> tuple[str, ObjectRow | None]:
    """DeleteObject without a version id: in an unversioned bucket every version goes (the
    row returned is None; the state says whether any existed is not needed by S3); otherwise
    a delete marker becomes the latest version and is returned."""
    state = await bucket_versioning(s, bucket_id)
    if state == UNVERSIONED:
        await key_turn(s, bucket_id, key)
        await _drop(s, (ObjectRow.bucket_id == bucket_id, ObjectRow.key == key))
        return state, None
    row, state = await replace_object(s, bucket_id, key, _MARKER, 0, delete_marker=True)
    return state, row


async def delete_version(
    s: Conn, bucket_id: int, key: str, version_id: str, *, bypass: bool = False
) -> ObjectRow | None:
    """Remove one version (or delete marker) for good; when it was the latest, the next
    newest becomes latest. None when the key has no such version. A version under Object Lock
    raises ObjectLocked (``bypass``: a GOVERNANCE bypass the requester may use)."""
    await key_turn(s, bucket_id, key)
    row = (
        await s.execute(
            select(ObjectRow.id, ObjectRow.version, ObjectRow.is_latest, ObjectRow.delete_marker).where(
                ObjectRow.bucket_id == bucket_id, ObjectRow.key == key, ObjectRow.version_id == version_id
            )
        )
    ).first()
    if row is None:
        return None
    await _drop(s, (ObjectRow.id == row.id,), bypass=bypass)
    if row.is_latest:
        newest = (
            select(func.max(_older.c.version))
            .where(_older.c.bucket_id == bucket_id, _older.c.key == key)
            .scalar_subquery()
        )
        await s.execute(
            update(_objects)
            .where(_objects.c.bucket_id == bucket_id, _objects.c.key == key, _objects.c.version == newest)
            .values(is_latest=True)
        )
    return ObjectRow(id=row.id, version=row.version, version_id=version_id, delete_marker=row.delete_marker)


async def expire_current(s: Conn, bucket_id: int, key: str, object_id: int) -> bool:
    """Lifecycle expiry of the key's current object, only while it is still row ``object_id``:
    removed in an unversioned bucket, else a delete marker on top (AWS's Expiration on a
    versioned bucket). False when the key has moved on (a newer write, a marker, a delete)."""
    await key_turn(s, bucket_id, key)
    latest = (
        await s.execute(
            select(ObjectRow.id, ObjectRow.delete_marker).where(
                ObjectRow.bucket_id == bucket_id, ObjectRow.key == key, ObjectRow.is_latest.is_(True)
            )
        )
    ).first()
    if latest is None or latest.id != object_id or latest.delete_marker:
        return False
    if await bucket_versioning(s, bucket_id) == UNVERSIONED:
        await _drop(s, (ObjectRow.id == object_id,))
    else:
        await replace_object(s, bucket_id, key, _MARKER, 0, delete_marker=True)
    return True
