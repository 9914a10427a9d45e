"""Pending multipart uploads and their parts (the multipart half of ``MetabaseStore``).

Parts' segments are stored as segments of the upload (``upload_id`` set) from the moment
the part is committed. Complete re-points the listed parts' segments at the new object in
one ``UPDATE`` and deletes the upload, whose cascade drops what was not listed; nothing is
copied, whatever the object's size.

Retries and races. Part commits and Complete of one upload take turns on the upload's row
(``FOR UPDATE`` on PostgreSQL; SQLite's writers take turns anyway), so a part re-sent while
its first copy commits replaces it cleanly, and of two racing Completes one completes and
the other finds the upload gone. Complete leaves a ``completed_uploads`` row (kept a day):
a Complete of an upload that is gone but was completed with the same parts answers the
same object and ETag, as AWS does, instead of ``NoSuchUpload``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update

from common.objectlock import VersionLock
from satellite.db.engine import Database
from satellite.db.models import SegmentRow, Upload, UploadPart
from satellite.db.residency_ledger import LedgerEvent, record_segments
from satellite.db.surface_models import CompletedUpload
from satellite.errors import EntityTooSmall, InvalidArgument, InvalidPart, InvalidPartOrder, NoSuchUpload
from satellite.metainfo.types import ObjectInfo, ObjectMeta, PartInfo, SegmentIn, UploadInfo, WriteCondition
from satellite.metainfo.util import successor

__all__ = ["MultipartRepository", "multipart_etag"]


def _norm_etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


def multipart_etag(part_etags: Sequence[str]) -> str:
    """S3's ETag of a multipart object: MD5 of the concatenated binary part MD5s, then ``-N``."""
    digest = hashlib.md5(usedforsecurity=False)
    for e in part_etags:
        try:
            digest.update(bytes.fromhex(_norm_etag(e)))
        except ValueError:
            digest.update(_norm_etag(e).encode())
    return f"{digest.hexdigest()}-{len(part_etags)}"


# How long a completed upload answers a retried Complete (AWS does not document its window;
# SDK retries come within minutes).
COMPLETED_UPLOAD_TTL = dt.timedelta(days=1)


def _locked_upload(upload_id: str):  # type: ignore[no-untyped-def]
    return select(Upload).where(Upload.id == upload_id).with_for_update()


def _upload(u: Upload) -> UploadInfo:
    return UploadInfo(
        u.id, u.bucket_id, u.key, u.content_type, u.user_metadata, u.tags, u.checksum_algorithm, u.created_at, u.lock
    )


def _part(p: UploadPart) -> PartInfo:
    return PartInfo(p.part_number, p.size, p.etag, p.checksums, p.created_at)


class MultipartRepository:
    db: Database

    async def create_upload(
        self, upload_id: str, bucket_id: int, key: str, meta: ObjectMeta, checksum_algorithm: str | None
    ) -> UploadInfo:
        row = Upload(
            id=upload_id,
            bucket_id=bucket_id,
            key=key,
            content_type=meta.content_type,
            user_metadata=meta.user_metadata,
            tags=meta.tags,
            checksum_algorithm=checksum_algorithm,
            lock=None if meta.lock is None else meta.lock.to_json(),
            created_at=dt.datetime.now(dt.UTC),
        )
        async with self.db.transaction() as s:
            s.add(row)
        return _upload(row)

    async def get_upload(self, upload_id: str) -> UploadInfo | None:
        async with self.db.read() as s:
            row = await s.get(Upload, upload_id)
        return None if row is None else _upload(row)

    async def commit_part(self, upload_id: str, part: PartInfo, segments: Sequence[SegmentIn]) -> None:
        from satellite.db.metabase import insert_segments

        async with self.db.transaction() as s:
            if (await s.execute(_locked_upload(upload_id))).scalar() is None:
                raise NoSuchUpload(f"no multipart upload {upload_id!r} (completed or aborted?)")
            # Re-uploading a part replaces it; the old part's pieces are left for GC.
            old = select(SegmentRow.id).where(
                SegmentRow.upload_id == upload_id, SegmentRow.part_number == part.part_number
            )
            await record_segments(s, LedgerEvent.DELETION, "remove", old)
            await s.execute(
                delete(SegmentRow).where(SegmentRow.upload_id == upload_id, SegmentRow.part_number == part.part_number)
            )
            await s.execute(
                delete(UploadPart).where(UploadPart.upload_id == upload_id, UploadPart.part_number == part.part_number)
            )
            s.add(
                UploadPart(
                    upload_id=upload_id,
                    part_number=part.part_number,
                    size=part.size,
                    etag=part.etag,
                    checksums=part.checksums,
                    created_at=part.created_at,
                )
            )
            await insert_segments(s, segments, object_id=None, upload_id=upload_id)

    async def list_parts(self, upload_id: str, marker: int, limit: int) -> list[PartInfo]:
        async with self.db.read() as s:
            rows = await s.execute(
                select(UploadPart)
                .where(UploadPart.upload_id == upload_id, UploadPart.part_number > marker)
                .order_by(UploadPart.part_number)
                .limit(limit)
            )
            return [_part(p) for p in rows.scalars()]

    async def list_uploads(
        self, bucket_id: int, prefix: str, key_marker: str, upload_id_marker: str, limit: int
    ) -> list[UploadInfo]:
        q = select(Upload).where(Upload.bucket_id == bucket_id)
        if prefix:
            q = q.where(Upload.key >= prefix)
            upper = successor(prefix)
            if upper is not None:
                q = q.where(Upload.key < upper)
        if key_marker:
            if upload_id_marker:
                q = q.where(tuple_(Upload.key, Upload.id) > tuple_(key_marker, upload_id_marker))
            else:
                q = q.where(Upload.key > key_marker)
        async with self.db.read() as s:
            rows = await s.execute(q.order_by(Upload.key, Upload.id).limit(limit))
            return [_upload(u) for u in rows.scalars()]

    async def complete_upload(
        self,
        upload: UploadInfo,
        parts: Sequence[tuple[int, str]],
        meta_checksums: dict[str, Any],
        min_part_size: int,
        condition: WriteCondition | None = None,
    ) -> ObjectInfo:
        from satellite.db.metabase import object_info
        from satellite.db.object_versions import replace_object

        if not parts:
            raise InvalidArgument("a multipart upload is completed with at least one part")
        numbers = [n for n, _ in parts]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise InvalidPartOrder("the list of parts was not in ascending order")
        async with self.db.transaction() as s:
            if (await s.execute(_locked_upload(upload.upload_id))).scalar() is None:
                raise NoSuchUpload(f"no multipart upload {upload.upload_id!r} (completed or aborted?)")
            stored = {
                p.part_number: p
                for p in (await s.execute(select(UploadPart).where(UploadPart.upload_id == upload.upload_id))).scalars()
            }
            for n, etag in parts:
                p = stored.get(n)
                if p is None or _norm_etag(p.etag) != _norm_etag(etag):
                    raise InvalidPart(f"part {n} was not uploaded or its ETag does not match; upload it again")
            for n, _ in parts[:-1]:
                if stored[n].size < min_part_size:
                    raise EntityTooSmall(
                        f"part {n} is {stored[n].size} bytes; every part but the last must be at least "
                        f"{min_part_size} bytes"
                    )
            count = (
                await s.execute(
                    select(func.count())
                    .select_from(SegmentRow)
                    .where(SegmentRow.upload_id == upload.upload_id, SegmentRow.part_number.in_(numbers))
                )
            ).scalar_one()
            meta = ObjectMeta(
                size=sum(stored[n].size for n in numbers),
                etag=multipart_etag([stored[n].etag for n in numbers]),
                content_type=upload.content_type,
                user_metadata=upload.user_metadata,
                checksums=meta_checksums,
                tags=upload.tags,
                lock=None if upload.lock is None else VersionLock.from_json(upload.lock),
            )
            row, state = await replace_object(s, upload.bucket_id, upload.key, meta, int(count), condition)
            await s.execute(
                update(SegmentRow)
                .where(SegmentRow.upload_id == upload.upload_id, SegmentRow.part_number.in_(numbers))
                .values(object_id=row.id, upload_id=None)
            )
            # Parts uploaded but not listed go with the upload (cascade): out of the ledger too.
            left = select(SegmentRow.id).where(SegmentRow.upload_id == upload.upload_id)
            await record_segments(s, LedgerEvent.DELETION, "remove", left)
            await s.execute(delete(Upload).where(Upload.id == upload.upload_id))
            now = dt.datetime.now(dt.UTC)
            await s.execute(delete(CompletedUpload).where(CompletedUpload.completed_at < now - COMPLETED_UPLOAD_TTL))
            s.add(
                CompletedUpload(
                    upload_id=upload.upload_id, bucket_id=upload.bucket_id, key=upload.key, etag=meta.etag,
                    size=meta.size, checksums=meta.checksums, segment_count=int(count),
                    object_created_at=row.created_at, completed_at=now,
                )
            )  # fmt: skip
            return object_info(row, state)

    async def completed_upload(
        self, upload_id: str, bucket_id: int, key: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo | None:
        """The object a completed upload made, if it was completed with these very parts
        (their ETags give the multipart ETag) within the last day; else None."""
        async with self.db.read() as s:
            done = await s.get(CompletedUpload, upload_id)
        if (
            done is None
            or done.bucket_id != bucket_id
            or done.key != key
            or done.completed_at < dt.datetime.now(dt.UTC) - COMPLETED_UPLOAD_TTL
            or not parts
            or multipart_etag([e for _, e in parts]) != done.etag
        ):
            return None
        return ObjectInfo(
            id=0, key=key, version=0, size=done.size, etag=done.etag, content_type="", user_metadata={},
            checksums=done.checksums, tags={}, segment_count=done.segment_count, created_at=done.object_created_at,
        )  # fmt: skip

    async def abort_upload(self, upload_id: str) -> bool:
        async with self.db.transaction() as s:
            parts = select(SegmentRow.id).where(SegmentRow.upload_id == upload_id)
            await record_segments(s, LedgerEvent.DELETION, "remove", parts)
            res = await s.execute(delete(Upload).where(Upload.id == upload_id))
            return bool(res.rowcount)
