"""Multipart uploads: create, parts (each part is segments begun and committed like an object's),
list parts and uploads, complete (S3's ordering, ETag and size rules), abort."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from common.objectlock import MISSING_LOCK_MESSAGE
from satellite.access.service import Requester
from satellite.errors import InvalidArgument, InvalidRequest, NoSuchUpload
from satellite.metainfo.service import MetainfoService, check_key, parse_meta
from satellite.metainfo.store import MetabaseStore
from satellite.metainfo.types import BucketInfo, ObjectInfo, PartInfo, UploadInfo, WriteCondition

__all__ = ["MIN_PART_SIZE", "MultipartService"]

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000


def _part_number(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_PART_NUMBER:
        raise InvalidArgument(f"part numbers are integers from 1 to {MAX_PART_NUMBER}")
    return n


class MultipartService:
    def __init__(self, metainfo: MetainfoService, store: MetabaseStore, *, min_part_size: int = MIN_PART_SIZE):
        self.metainfo = metainfo
        self.store = store
        self.min_part_size = min_part_size

    async def _upload(
        self, tenant_id: str, bucket_name: str, key: str, upload_id: Any
    ) -> tuple[BucketInfo, UploadInfo]:
        bucket = await self.metainfo.bucket(tenant_id, bucket_name)
        if not isinstance(upload_id, str):
            raise NoSuchUpload("no such upload")
        upload = await self.store.get_upload(upload_id)
        if upload is None or upload.bucket_id != bucket.id or upload.key != key:
            raise NoSuchUpload(f"no multipart upload {upload_id!r} for {key!r} (completed or aborted?)")
        return bucket, upload

    async def authorize_part(
        self, tenant_id: Requester | str, bucket_name: str, key: str, upload_id: Any, size: Any, *,
        placed: Any = True,
    ) -> dict[str, Any]:
        """:meth:`MetainfoService.authorize_write` for an UploadPart: the upload exists too."""
        await self._upload(Requester.of(tenant_id).tenant_id or "", bucket_name, key, upload_id)
        return await self.metainfo.authorize_write(tenant_id, bucket_name, key, size, placed=placed)

    async def create(
        self, tenant_id: Requester | str, bucket_name: str, key: str, meta: Any, checksum_algorithm: Any = None
    ) -> UploadInfo:
        bucket = await self.metainfo.owned(tenant_id, bucket_name, "s3:PutObject", key)
        parsed = await self.metainfo.with_checked_acl(bucket, parse_meta({**(meta or {}), "size": 0},
                                                                         size_required=False))  # fmt: skip
        if parsed.lock is not None and bucket.object_lock is None:
            raise InvalidRequest(MISSING_LOCK_MESSAGE)
        algo = checksum_algorithm if isinstance(checksum_algorithm, str) and checksum_algorithm else None
        return await self.store.create_upload(secrets.token_hex(24), bucket.id, check_key(key), parsed, algo)

    async def begin_segment(
        self, tenant_id: str, bucket_name: str, key: str, upload_id: str, part_number: Any, piece_size: int
    ) -> dict[str, Any]:
        await self._upload(tenant_id, bucket_name, key, upload_id)
        return await self.metainfo.begin_segment(
            tenant_id, bucket_name, key, piece_size, upload_id=upload_id, part_number=_part_number(part_number)
        )

    async def commit_part(
        self,
        tenant_id: str,
        bucket_name: str,
        key: str,
        upload_id: str,
        part_number: Any,
        *,
        size: Any,
        etag: Any,
        checksums: Any = None,
        segments: Any,
    ) -> PartInfo:
        bucket, upload = await self._upload(tenant_id, bucket_name, key, upload_id)
        n = _part_number(part_number)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0 or not isinstance(etag, str):
            raise InvalidArgument("a part needs a non-negative integer size and a string etag")
        checked = self.metainfo.check_segments(
            segments, bucket=bucket, key=key, upload_id=upload.upload_id, part_number=n
        )
        if sum(s.plain_size for s in checked) != size:
            raise InvalidArgument(f"segments of part {n} do not add up to its size {size}")
        part = PartInfo(n, size, etag, checksums if isinstance(checksums, dict) else {}, dt.datetime.now(dt.UTC))
        await self.store.commit_part(upload.upload_id, part, checked)
        return part

    async def list_parts(
        self, tenant_id: str, bucket_name: str, key: str, upload_id: str, *, marker: int = 0, max_parts: int = 1000
    ) -> dict[str, Any]:
        _, upload = await self._upload(tenant_id, bucket_name, key, upload_id)
        max_parts = max(0, min(int(max_parts), 1000))
        parts = await self.store.list_parts(upload.upload_id, int(marker), max_parts + 1)
        page = parts[:max_parts]
        return {
            "upload": upload.to_json(),
            "parts": [p.to_json() for p in page],
            "truncated": len(parts) > max_parts,
            "next_marker": page[-1].part_number if len(parts) > max_parts and page else None,
        }

    async def list_uploads(
        self,
        tenant_id: str,
        bucket_name: str,
        *,
        prefix: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        max_uploads: int = 1000,
    ) -> dict[str, Any]:
        bucket = await self.metainfo.bucket(tenant_id, bucket_name)
        max_uploads = max(0, min(int(max_uploads), 1000))
        ups = await self.store.list_uploads(bucket.id, prefix, key_marker, upload_id_marker, max_uploads + 1)
        page = ups[:max_uploads]
        truncated = len(ups) > max_uploads
        return {
            "uploads": [u.to_json() for u in page],
            "truncated": truncated,
            "next_key_marker": page[-1].key if truncated and page else None,
            "next_upload_id_marker": page[-1].upload_id if truncated and page else None,
        }

    async def complete(
        self,
        tenant_id: str,
        bucket_name: str,
        key: str,
        upload_id: str,
        parts: Any,
        checksums: Any = None,
        condition: Any = None,
    ) -> ObjectInfo:
        """Complete the upload; a retry of a Complete that succeeded (same upload, same
        parts) answers the same object, as AWS does, before any condition is looked at."""
        bucket = await self.metainfo.bucket(tenant_id, bucket_name)
        if not isinstance(parts, list):
            raise InvalidArgument("'parts' must be a list of {part_number, etag}")
        pairs = []
        for p in parts:
            if not isinstance(p, dict) or not isinstance(p.get("etag"), str):
                raise InvalidArgument("each part is {part_number, etag}")
            pairs.append((_part_number(p.get("part_number")), p["etag"]))
        cond = WriteCondition.from_json(condition)
        try:
            _, upload = await self._upload(tenant_id, bucket_name, key, upload_id)
            return await self.store.complete_upload(
                upload, pairs, checksums if isinstance(checksums, dict) else {}, self.min_part_size, cond
            )
        except NoSuchUpload:
            done = await self.store.completed_upload(upload_id, bucket.id, key, pairs)
            if done is None:
                raise
            return done

    async def abort(self, tenant_id: str, bucket_name: str, key: str, upload_id: str) -> None:
        _, upload = await self._upload(tenant_id, bucket_name, key, upload_id)
        if not await self.store.abort_upload(upload.upload_id):
            raise NoSuchUpload(f"no multipart upload {upload_id!r}")
