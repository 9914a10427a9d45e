"""Conditional writes checked where they can be atomic: in the commit's own transaction.

S3's ``If-None-Match: *`` and ``If-Match: ETAG`` are only worth something if no other
commit of the key can land between the check and the write. The commit paths
(``replace_object`` in :mod:`satellite.db.object_versions`) take the key's turn first — a
transaction-scoped advisory lock on PostgreSQL, the single ``BEGIN IMMEDIATE`` writer on
SQLite — and then call :func:`check_condition`, so of racing ``If-None-Match: *`` writers
exactly one finds the key free. On PostgreSQL the current row is also locked
(``FOR UPDATE``) so that a DELETE of the key, which takes no turn, waits for the commit or
is waited for. A key whose latest version is a delete marker has no object: ``If-None-Match: *``
succeeds on it and ``If-Match`` fails, as on AWS.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from satellite.db.models import ObjectRow, ObjectStatus
from satellite.errors import PreconditionFailed
from satellite.metainfo.types import WriteCondition

__all__ = ["check_condition"]

_objects = cast(Table, ObjectRow.__table__)
_CURRENT_ETAG = (
    select(_objects.c.etag, _objects.c.delete_marker)
    .where(
        _objects.c.bucket_id == bindparam("v_bucket"),
        _objects.c.key == bindparam("v_key"),
        _objects.c.status == ObjectStatus.COMMITTED,
    )
    .order_by(_objects.c.version.desc())
    .limit(1)
)


async def check_condition(
    s: AsyncSession | AsyncConnection, bucket_id: int, key: str, condition: WriteCondition, *, postgres: bool
) -> None:
    """Raise ``PreconditionFailed`` unless ``condition`` holds for the key's current object
    (call it in the commit's transaction, after the key's turn is taken)."""
    q = _CURRENT_ETAG.with_for_update() if postgres else _CURRENT_ETAG
    row = (await s.execute(q, {"v_bucket": bucket_id, "v_key": key})).first()
    etag = None if row is None or row.delete_marker else row.etag
    if condition.if_none_match and etag is not None:
        raise PreconditionFailed(f"an object already exists under {key!r}", condition="If-None-Match")
    if condition.if_match is not None:
        if etag is None:
            raise PreconditionFailed(f"no object under {key!r} to match", condition="If-Match", missing=True)
        if condition.if_match != "*" and etag.strip('"') != condition.if_match:
            raise PreconditionFailed(f"the object under {key!r} has another ETag", condition="If-Match")
