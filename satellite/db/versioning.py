"""The versioning half of ``MetabaseStore``: a bucket's versioning state, deletes that leave
delete markers or remove one version, and ListObjectVersions (docs/versioning.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from common.objectlock import ObjectLocked
from satellite.db.engine import Database
from satellite.db.models import Bucket, ObjectRow, ObjectStatus
from satellite.db.object_rows import LIST_COLUMNS, listed_info
from satellite.db.object_versions import UNVERSIONED, delete_latest, delete_version
from satellite.metainfo.types import DeleteOutcome, ListEntry, ObjectInfo
from satellite.metainfo.util import successor

__all__ = ["VersioningRepository"]

class VersioningRepository:
    db: Database

    async def _skip_scan(  # implemented by MetabaseRepository
        self, s: AsyncConnection, bucket_id: int, prefix: str, delimiter: str, lo: str, lo_incl: bool,
        upper: str | None, limit: int, *, current_only: bool = True,
    ) -> list[str]: ...  # fmt: skip

    async def set_versioning(self, bucket_id: int, status: str) -> None:
        async with self.db.write_conn() as c:
            await c.execute(update(Bucket).where(Bucket.id == bucket_id).values(versioning=status))

    async def delete_versions(
        self, bucket_id: int, entries: Sequence[tuple[str, str | None]], *, bypass: bool = False, single: bool = False
    ) -> list[DeleteOutcome]:
        """Delete each ``(key, version_id)``: without a version id the latest (a delete marker
        where the bucket is versioned), with one that version for good. One transaction per
        entry, each after its key's turn. A version Object Lock keeps raises ObjectLocked when
        ``single`` (DeleteObject), else is reported as that entry's ``AccessDenied``."""
        out: list[DeleteOutcome] = []
        for key, version_id in entries:
            try:
                out.append(await self._delete_one(bucket_id, key, version_id, bypass))
            except ObjectLocked:
                if single:
                    raise
                out.append(DeleteOutcome(key, version_id, False, versioned=True, error="AccessDenied"))
        return out

    async def _delete_one(self, bucket_id: int, key: str, version_id: str | None, bypass: bool) -> DeleteOutcome:
        async with self.db.write_conn() as c:
            if version_id is None:
                state, marker = await delete_latest(c, bucket_id, key)
                if marker is None:
                    return DeleteOutcome(key, None, False, versioned=state != UNVERSIONED)
                return DeleteOutcome(key, marker.version_id, True, created_marker=True, versioned=True)
            gone = await delete_version(c, bucket_id, key, version_id, bypass=bypass)
            state = str((await c.execute(select(Bucket.versioning).where(Bucket.id == bucket_id))).scalar())
            return DeleteOutcome(key, version_id, bool(gone is not None and gone.delete_marker),
                                 versioned=state != UNVERSIONED, found=gone is not None)  # fmt: skip

    async def version_number(self, bucket_id: int, key: str, version_id: str) -> int | None:
        async with self.db.read_conn() as c:
            v = await c.execute(
                select(ObjectRow.version).where(
                    ObjectRow.bucket_id == bucket_id, ObjectRow.key == key, ObjectRow.version_id == version_id
                )
            )
            return v.scalar()

    async def list_versions(
        self, bucket_id: int, *, prefix: str, delimiter: str, start: str, start_inclusive: bool,
        below_version: int | None, limit: int,
    ) -> list[ListEntry]:
        """Up to ``limit`` versions, delete markers and common prefixes in key order, each
        key's versions newest first. ``below_version``: the listing resumes inside key
        ``start`` at the versions older than this one (a version-id-marker)."""
        upper = successor(prefix) if prefix else None
        out: list[ListEntry] = []
        async with self.db.snapshot_conn() as c:  # one snapshot, as list_objects (metabase.py)
            if below_version is not None:
                rows = await c.execute(
                    self._versions(bucket_id)
                    .where(ObjectRow.key == start, ObjectRow.version < below_version)
                    .order_by(ObjectRow.version.desc())
                    .limit(limit)
                )
                out.extend(ListEntry(r[1], listed_info(r)) for r in rows)
                start_inclusive = False
            lo, lo_incl = (start, start_inclusive) if start > prefix else (prefix, True)
            left = limit - len(out)
            if left <= 0:
                return out
            if not delimiter:
                q = self._versions(bucket_id).where(ObjectRow.key >= lo if lo_incl else ObjectRow.key > lo)
                if upper is not None:
                    q = q.where(ObjectRow.key < upper)
                rows = await c.execute(q.order_by(ObjectRow.key, ObjectRow.version.desc()).limit(left))
                return out + [ListEntry(r[1], listed_info(r)) for r in rows]
            keys = await self._skip_scan(c, bucket_id, prefix, delimiter, lo, lo_incl, upper, left,
                                         current_only=False)  # fmt: skip
            plain = [k for k in keys if delimiter not in k[len(prefix) :]]
            versions: dict[str, list[ObjectInfo]] = {}
            for i in range(0, len(plain), 500):
                rows = await c.execute(
                    self._versions(bucket_id)
                    .where(ObjectRow.key.in_(plain[i : i + 500]))
                    .order_by(ObjectRow.key, ObjectRow.version.desc())
                    .limit(left)
                )
                for r in rows:
                    versions.setdefault(r[1], []).append(listed_info(r))
        for k in keys:
            rest = k[len(prefix) :]
            cut = rest.find(delimiter)
            if cut >= 0:
                out.append(ListEntry(prefix + rest[: cut + len(delimiter)], None))
            else:
                out.extend(ListEntry(k, info) for info in versions.get(k, []))
            if len(out) >= limit:
                break
        return out[:limit]

    @staticmethod
    def _versions(bucket_id: int) -> Any:
        return select(*LIST_COLUMNS).where(ObjectRow.bucket_id == bucket_id, ObjectRow.status == ObjectStatus.COMMITTED)
