"""Object Lock for gateways: a lock bucket's default retention, and each version's retention
and legal hold (common/objectlock.py has the rules; docs/object-lock.md the whole picture)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from common.objectlock import MISSING_LOCK_MESSAGE, LockConfiguration, VersionLock
from satellite.access.service import Requester
from satellite.errors import (
    InvalidArgument,
    InvalidBucketState,
    InvalidRequest,
    NoSuchObjectLockConfiguration,
    ObjectLockConfigurationNotFound,
)
from satellite.metainfo.types import BucketInfo
from satellite.metainfo.util import check_key
from satellite.metainfo.versions import VersioningService, check_version_id, missing

if TYPE_CHECKING:
    from satellite.metainfo.service import MetainfoService

__all__ = ["ObjectLockService"]



class ObjectLockService:
    def __init__(self, metainfo: MetainfoService) -> None:
        self.m = metainfo
        self.store = metainfo.store
        self.versions = VersioningService(metainfo)

    async def get_configuration(self, who: Requester | str, bucket_name: str) -> dict[str, Any]:
        bucket = await self.m.owned(who, bucket_name, "s3:GetBucketObjectLockConfiguration")
        if bucket.object_lock is None:
            raise ObjectLockConfigurationNotFound("Object Lock configuration does not exist for this bucket")
        return LockConfiguration.from_dict(bucket.object_lock).to_dict()

    async def put_configuration(self, who: Requester | str, bucket_name: str, config: Any) -> None:
        try:
            parsed = LockConfiguration.from_dict(config if isinstance(config, dict) else None)
        except (ValueError, TypeError) as e:
            raise InvalidArgument(f"invalid Object Lock configuration: {e}") from None
        bucket = await self.m.owned(who, bucket_name, "s3:PutBucketObjectLockConfiguration")
        # As AWS does today: an existing bucket may turn Object Lock on, once its versioning is Enabled.
        if bucket.object_lock is None and bucket.versioning != "Enabled":
            raise InvalidBucketState("Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
        await self.store.set_object_lock(bucket.id, parsed.to_dict())

    async def _lock_bucket(self, who: Requester | str, bucket_name: str, action: str, key: str) -> BucketInfo:
        """The requester's bucket, which must have Object Lock (else S3's InvalidRequest)."""
        bucket = await self.m.owned(who, bucket_name, action, key)
        if bucket.object_lock is None:
            raise InvalidRequest(MISSING_LOCK_MESSAGE)
        return bucket

    async def _read(self, who: Requester | str, bucket_name: str, key: Any, version_id: Any,
                    action: str) -> tuple[str, VersionLock]:  # fmt: skip
        """The version's id and lock (the latest when ``version_id`` is None), or NoSuchKey / NoSuchVersion."""
        key, version_id = check_key(key), check_version_id(version_id)
        bucket = await self._lock_bucket(who, bucket_name, action, key)
        found = await self.store.version_lock(bucket.id, key, version_id)
        if found is None:
            raise missing(key, bucket.name, version_id)
        return found

    async def get_retention(self, who: Requester | str, bucket_name: str, key: Any, version_id: Any = None
                            ) -> dict[str, Any]:  # fmt: skip
        vid, lock = await self._read(who, bucket_name, key, version_id, "s3:GetObjectRetention")
        if lock.mode is None:
            raise NoSuchObjectLockConfiguration("The specified object does not have a ObjectLock configuration")
        return {**lock.to_json(), "version_id": vid}

    async def put_retention(self, who: Requester | str, bucket_name: str, key: Any, retention: Any,
                            version_id: Any = None, *, bypass: Any = False) -> str:  # fmt: skip
        """Set a version's retention (``{"mode", "until"}``; both null: remove it); its version id."""
        key, version_id = check_key(key), check_version_id(version_id)
        if not isinstance(retention, dict):
            raise InvalidArgument("'retention' must be an object with mode and until")
        try:
            asked = VersionLock.from_json({"mode": retention.get("mode"), "until": retention.get("until")})
        except ValueError as e:
            raise InvalidArgument(f"invalid retention: {e}") from None
        bucket = await self._lock_bucket(who, bucket_name, "s3:PutObjectRetention", key)
        may = await self.versions.may_bypass(who, bucket, key, bypass)
        vid = await self.store.put_retention(bucket.id, key, version_id, asked.mode, asked.until, bypass=may,
                                             now=dt.datetime.now(dt.UTC))  # fmt: skip
        if vid is None:
            raise missing(key, bucket.name, version_id)
        return vid

    async def get_legal_hold(self, who: Requester | str, bucket_name: str, key: Any, version_id: Any = None
                             ) -> dict[str, Any]:  # fmt: skip
        vid, lock = await self._read(who, bucket_name, key, version_id, "s3:GetObjectLegalHold")
        return {"legal_hold": lock.legal_hold, "version_id": vid}

    async def put_legal_hold(self, who: Requester | str, bucket_name: str, key: Any, on: Any,
                             version_id: Any = None) -> str:  # fmt: skip
        key, version_id = check_key(key), check_version_id(version_id)
        if not isinstance(on, bool):
            raise InvalidArgument("'legal_hold' must be true or false")
        bucket = await self._lock_bucket(who, bucket_name, "s3:PutObjectLegalHold", key)
        vid = await self.store.put_legal_hold(bucket.id, key, version_id, on)
        if vid is None:
            raise missing(key, bucket.name, version_id)
        return vid
