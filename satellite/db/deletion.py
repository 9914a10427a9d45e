"""Deleting objects by key: the one path S3 DeleteObject, DeleteObjects and lifecycle expiry take.

Deleting only removes rows (their pieces go to garbage collection through the nodes' retain
lists) and records the removal in the residency ledger. ``only_ids`` deletes a key only while
its current version is still the row the caller looked at: lifecycle expiry decides on an
object it read, and a newer write to the same key in between must survive.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from satellite.db.models import ObjectRow, SegmentRow
from satellite.db.object_lock import refuse_protected
from satellite.db.residency_ledger import LedgerEvent, record_segments

__all__ = ["delete_keys"]

_CHUNK = 500


async def delete_keys(s: AsyncSession, bucket_id: int, keys: Sequence[str], *,
                      only_ids: Collection[int] | None = None) -> list[str]:  # fmt: skip
    """Delete each key's versions in the caller's transaction; the keys that existed (and,
    with ``only_ids``, whose row was one of those ids)."""
    found: list[str] = []
    for i in range(0, len(keys), _CHUNK):
        chunk = list(keys[i : i + _CHUNK])
        which = [ObjectRow.bucket_id == bucket_id, ObjectRow.key.in_(chunk)]
        if only_ids is not None:
            which.append(ObjectRow.id.in_(list(only_ids)))
        existing = await s.execute(select(ObjectRow.key).where(*which))
        found.extend(set(existing.scalars()))
        await refuse_protected(s, which)  # no bypass: nothing unversioned is locked, and lifecycle never bypasses
        doomed = select(SegmentRow.id).join(ObjectRow, ObjectRow.id == SegmentRow.object_id).where(*which)
        await record_segments(s, LedgerEvent.DELETION, "remove", doomed)
        await s.execute(delete(ObjectRow).where(*which))
    return found
