"""S3 versioning for gateways: a bucket's versioning state, reads of a version, deletes that
leave delete markers or remove one version, and ListObjectVersions (docs/versioning.md)."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

from satellite.access.service import Requester
from satellite.errors import (
    AccessDenied,
    InvalidArgument,
    InvalidBucketState,
    MethodNotAllowed,
    NoSuchKey,
    NoSuchVersion,
    NotFound,
)
from satellite.metainfo.types import BucketInfo, DeleteOutcome, ListEntry, ObjectInfo
from satellite.metainfo.util import check_key, successor

if TYPE_CHECKING:
    from satellite.metainfo.service import MetainfoService

__all__ = ["VersioningService", "check_version_id", "missing", "present"]

_VERSION_ID = re.compile(r"^(null|[A-Za-z0-9_-]{32})$")
STATES = ("Enabled", "Suspended")
MAX_LIST = 1000


def check_version_id(version_id: Any) -> str | None:
    """A version id as a client may send it: "null" or one this satellite made, else S3's
    ``InvalidArgument`` ("Invalid version id specified")."""
    if version_id is None:
        return None
    if not isinstance(version_id, str) or not _VERSION_ID.match(version_id):
        raise InvalidArgument("Invalid version id specified")
    return version_id


def present(info: ObjectInfo, bucket: BucketInfo, version_id: str | None) -> ObjectInfo:
    """``info`` as a read answers it: a delete marker is NoSuchKey when it is the latest
    version, MethodNotAllowed when it was asked for by version id (S3 sends
    ``x-amz-delete-marker`` either way)."""
    if info.delete_marker:
        if version_id is None:
            raise NoSuchKey(f"the latest version of {info.key!r} is a delete marker", delete_marker=True,
                            version_id=info.version_id)  # fmt: skip
        raise MethodNotAllowed(f"version {version_id!r} of {info.key!r} is a delete marker", version_id=version_id)
    return dataclasses.replace(info, versioned=bucket.versioning != "unversioned")


def missing(key: str, bucket_name: str, version_id: str | None) -> NotFound:
    if version_id is None:
        return NoSuchKey(f"no object {key!r} in bucket {bucket_name!r}")
    return NoSuchVersion(f"no version {version_id!r} of {key!r} in bucket {bucket_name!r}")


class VersioningService:
    def __init__(self, metainfo: MetainfoService) -> None:
        self.m = metainfo
        self.store = metainfo.store

    async def get_versioning(self, tenant_id: str, bucket_name: str) -> str:
        """"Enabled", "Suspended", or "unversioned" for a bucket never versioned."""
        return (await self.m.bucket(tenant_id, bucket_name)).versioning

    async def put_versioning(self, tenant_id: Requester | str, bucket_name: str, status: Any) -> None:
        if status not in STATES:
            raise InvalidArgument("versioning status is Enabled or Suspended")
        bucket = await self.m.owned(tenant_id, bucket_name, "s3:PutBucketVersioning")
        if bucket.object_lock is not None and status != "Enabled":
            raise InvalidBucketState(
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
            )
        await self.store.set_versioning(bucket.id, status)

    async def delete_object(self, who: Requester | str, bucket_name: str, key: str,
                            version_id: Any = None, *, bypass: Any = False) -> DeleteOutcome:  # fmt: skip
        """``bypass``: the request carried ``x-amz-bypass-governance-retention: true``."""
        version_id = check_version_id(version_id)
        action = "s3:DeleteObject" if version_id is None else "s3:DeleteObjectVersion"  # as AWS authorizes them
        bucket = await self.m.owned(who, bucket_name, action, key)
        entries = [(check_key(key), version_id)]
        may_bypass = await self.may_bypass(who, bucket, key, bypass)
        return (await self._delete(bucket, entries, bypass=may_bypass, single=True))[0]

    async def may_bypass(self, who: Requester | str | None, bucket: BucketInfo, key: str | None, asked: Any) -> bool:
        """A GOVERNANCE bypass counts only when asked for and the requester may
        ``s3:BypassGovernanceRetention`` (the owner may, unless a policy denies it)."""
        if asked is not True:
            return False
        access = await self.m.access.load(bucket)
        return self.m.access.allows(access, Requester.of(who), "s3:BypassGovernanceRetention", bucket, key)

    async def delete_objects(self, who: Requester | str, bucket_name: str, entries: Any, *,
                             bypass: Any = False) -> list[DeleteOutcome]:  # fmt: skip
        """DeleteObjects: ``entries`` are keys or ``{key, version_id}``; every key is checked
        against the policy first (all or nothing, as before versioning)."""
        requester = Requester.of(who)
        bucket = await self.m.bucket(requester.tenant_id, bucket_name)
        if not isinstance(entries, list) or len(entries) > MAX_LIST:
            raise InvalidArgument("'keys' must be a list of at most 1000 keys")
        checked: list[tuple[str, str | None]] = []
        for e in entries:
            if isinstance(e, dict):
                checked.append((check_key(e.get("key")), check_version_id(e.get("version_id"))))
            else:
                checked.append((check_key(e), None))
        access = await self.m.access.load(bucket)
        if not all(self.m.access.allows(access, requester, "s3:DeleteObject" if v is None else "s3:DeleteObjectVersion",
                                        bucket, k) for k, v in checked):  # fmt: skip
            raise AccessDenied(f"s3:DeleteObject on {bucket_name!r} is denied for some of the keys")
        return await self._delete(bucket, checked, bypass=await self.may_bypass(who, bucket, None, bypass))

    async def _delete(self, bucket: BucketInfo, entries: list[tuple[str, str | None]], *, bypass: bool = False,
                      single: bool = False) -> list[DeleteOutcome]:  # fmt: skip
        if bucket.versioning == "unversioned" and all(v is None for _, v in entries):
            # Never versioned: one batch removes every key's only version, as before versioning.
            found = set(await self.store.delete_objects(bucket.id, [k for k, _ in entries]))
            return [DeleteOutcome(k, None, False, found=k in found) for k, _ in entries]
        return await self.store.delete_versions(bucket.id, entries, bypass=bypass, single=single)

    async def list_versions(
        self, who: Requester | str | None, bucket_name: str, *, prefix: Any = "", delimiter: Any = "",
        key_marker: Any = "", version_id_marker: Any = "", max_keys: Any = MAX_LIST,
    ) -> dict[str, Any]:  # fmt: skip
        """One page of ListObjectVersions: ``versions`` (objects and delete markers, each key's
        newest first), ``prefixes``, ``truncated`` and the markers of the next page."""
        if not all(isinstance(v, str) for v in (prefix, delimiter, key_marker, version_id_marker)):
            raise InvalidArgument("prefix, delimiter, key_marker and version_id_marker must be strings")
        keys = {"s3:prefix": prefix, "s3:delimiter": delimiter or None, "s3:max-keys": str(max_keys)}
        bucket = await self.m.bucket_for(who, bucket_name, "s3:ListBucketVersions", keys)
        if isinstance(max_keys, bool) or not isinstance(max_keys, int) or max_keys < 0:
            raise InvalidArgument("max_keys must be a non-negative integer")
        max_keys = min(max_keys, MAX_LIST)
        empty = {"versions": [], "prefixes": [], "truncated": False, "owner": bucket.tenant_id}
        if version_id_marker and not key_marker:
            raise InvalidArgument("A version-id marker cannot be specified without a key marker.")
        if max_keys == 0:
            return empty
        below = None
        start, inclusive = key_marker, False
        if version_id_marker:
            check_version_id(version_id_marker)
            below = await self.store.version_number(bucket.id, key_marker, version_id_marker)
            if below is None:
                raise InvalidArgument("Invalid version id specified")
        elif delimiter and key_marker.startswith(prefix):
            # A marker inside a common prefix resumes after that whole prefix (S3 never repeats it).
            cut = key_marker.find(delimiter, len(prefix))
            if cut >= 0:
                start, inclusive = key_marker[:cut] + (successor(delimiter) or delimiter), True
        entries = await self.store.list_versions(
            bucket.id, prefix=prefix, delimiter=delimiter, start=start, start_inclusive=inclusive,
            below_version=below, limit=max_keys + 1,
        )  # fmt: skip
        truncated = len(entries) > max_keys
        page: list[ListEntry] = entries[:max_keys]
        out: dict[str, Any] = {
            "versions": [_version_json(e.info) for e in page if e.info is not None],
            "prefixes": [e.key for e in page if e.info is None],
            "truncated": truncated,
            "owner": bucket.tenant_id,
        }
        if truncated and page:
            last = page[-1]
            out["next_key_marker"] = last.key
            if last.info is not None:
                out["next_version_id_marker"] = last.info.version_id
        return out


def _version_json(info: ObjectInfo) -> dict[str, Any]:
    return {**dataclasses.replace(info, versioned=True).to_json(), "is_latest": info.is_latest,
            "delete_marker": info.delete_marker}  # fmt: skip
