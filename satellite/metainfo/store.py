"""The storage the metainfo service needs, declared here and implemented by ``satellite.db``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from common.objectlock import LockMode, VersionLock
from satellite.metainfo.types import (
    BucketInfo,
    DeleteOutcome,
    ListEntry,
    ObjectInfo,
    ObjectMeta,
    PartInfo,
    SegmentIn,
    SegmentOut,
    UploadInfo,
    WriteCondition,
)

__all__ = ["MetabaseStore"]


class MetabaseStore(Protocol):
    # buckets
    async def get_bucket(self, name: str) -> BucketInfo | None: ...
    async def create_bucket(self, tenant_id: str, name: str, policy: str | None, *,
                            object_lock: bool = ...) -> BucketInfo: ...  # fmt: skip
    async def list_buckets(self, tenant_id: str) -> list[BucketInfo]: ...
    async def delete_bucket(self, bucket: BucketInfo) -> None: ...
    # objects
    async def commit_object(
        self,
        bucket_id: int,
        key: str,
        meta: ObjectMeta,
        segments: Sequence[SegmentIn],
        condition: WriteCondition | None = None,
        *,
        bucket_name: str | None = None,  # the bucket's name, when the caller has it: the ledger needs it
    ) -> ObjectInfo: ...
    async def get_object(self, bucket_id: int, key: str, version_id: str | None = None) -> ObjectInfo | None: ...
    async def get_bucket_object(
        self, name: str, key: str, version_id: str | None = None
    ) -> tuple[BucketInfo | None, ObjectInfo | None]: ...
    async def get_segments(
        self, object_id: int, plain_range: tuple[int, int] | None, *, with_pieces: bool = True
    ) -> list[SegmentOut]: ...
    async def list_objects(
        self,
        bucket_id: int,
        *,
        prefix: str,
        delimiter: str,
        start: str,
        start_inclusive: bool,
        limit: int,
    ) -> list[ListEntry]: ...
    async def delete_objects(self, bucket_id: int, keys: Sequence[str]) -> list[str]: ...
    async def set_tags(self, bucket_id: int, key: str, tags: dict[str, Any], version_id: str | None = None) -> bool: ...
    # versioning
    async def set_versioning(self, bucket_id: int, status: str) -> None: ...
    async def delete_versions(
        self, bucket_id: int, entries: Sequence[tuple[str, str | None]], *, bypass: bool = ..., single: bool = ...
    ) -> list[DeleteOutcome]: ...
    async def version_number(self, bucket_id: int, key: str, version_id: str) -> int | None: ...
    async def list_versions(
        self, bucket_id: int, *, prefix: str, delimiter: str, start: str, start_inclusive: bool,
        below_version: int | None, limit: int,
    ) -> list[ListEntry]: ...
    async def copy_object(
        self,
        source: ObjectInfo,
        bucket_id: int,
        key: str,
        meta: ObjectMeta,
        wrapped_keys: Sequence[bytes] | None,
        condition: WriteCondition | None = None,
    ) -> ObjectInfo: ...
    async def record_bad_piece(
        self, node_id: str, piece_id: str, segment_id: int | None, number: int | None, reason: str
    ) -> None: ...
    # multipart
    async def create_upload(
        self, upload_id: str, bucket_id: int, key: str, meta: ObjectMeta, checksum_algorithm: str | None
    ) -> UploadInfo: ...
    async def get_upload(self, upload_id: str) -> UploadInfo | None: ...
    async def commit_part(self, upload_id: str, part: PartInfo, segments: Sequence[SegmentIn]) -> None: ...
    async def list_parts(self, upload_id: str, marker: int, limit: int) -> list[PartInfo]: ...
    async def list_uploads(
        self, bucket_id: int, prefix: str, key_marker: str, upload_id_marker: str, limit: int
    ) -> list[UploadInfo]: ...
    async def complete_upload(
        self,
        upload: UploadInfo,
        parts: Sequence[tuple[int, str]],
        meta_checksums: dict[str, Any],
        min_part_size: int,
        condition: WriteCondition | None = None,
    ) -> ObjectInfo: ...
    async def completed_upload(
        self, upload_id: str, bucket_id: int, key: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo | None: ...
    async def abort_upload(self, upload_id: str) -> bool: ...
    # bucket settings (S3 configuration documents, opaque here)
    async def get_setting(self, bucket_id: int, name: str) -> dict[str, Any] | None: ...
    async def put_setting(self, bucket_id: int, name: str, value: dict[str, Any]) -> None: ...
    async def delete_setting(self, bucket_id: int, name: str) -> bool: ...
    # Object Lock (satellite/db/object_lock.py)
    async def set_object_lock(self, bucket_id: int, config: dict[str, Any]) -> None: ...
    async def version_lock(
        self, bucket_id: int, key: str, version_id: str | None
    ) -> tuple[str, VersionLock] | None: ...
    async def put_retention(
        self, bucket_id: int, key: str, version_id: str | None, mode: LockMode | None, until: dt.datetime | None,
        *, bypass: bool, now: dt.datetime,
    ) -> str | None: ...  # fmt: skip
    async def put_legal_hold(self, bucket_id: int, key: str, version_id: str | None, on: bool) -> str | None: ...
