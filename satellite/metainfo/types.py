"""Plain values passed between the metainfo service, its store and the API."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from common.objectlock import VersionLock
from satellite.errors import InvalidArgument
from satellite.nodeselection import PlacementPolicy

__all__ = [
    "BucketInfo",
    "DeleteOutcome",
    "ListEntry",
    "ObjectInfo",
    "ObjectMeta",
    "PartInfo",
    "PieceIn",
    "PieceOut",
    "SegmentIn",
    "SegmentOut",
    "UploadInfo",
    "WriteCondition",
    "b64",
]


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class BucketInfo:
    id: int
    name: str
    tenant_id: str
    policy: PlacementPolicy
    created_at: dt.datetime
    versioning: str = "unversioned"  # or "Enabled", "Suspended" (S3's Status; never back to unversioned)
    object_lock: dict[str, Any] | None = None  # None: created without Object Lock; else its configuration
    # The bucket's access settings read in the same statement as the bucket (names covered, settings by
    # name, the tenant's Block Public Access), so one request's authorization needs no second read.
    access_rows: tuple[tuple[str, ...], dict[str, dict[str, Any]], dict[str, Any] | None] | None = field(
        default=None, compare=False, repr=False
    )

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "policy": self.policy.name, "created": iso(self.created_at),
                "versioning": self.versioning, "object_lock": self.object_lock is not None}  # fmt: skip


@dataclass(frozen=True)
class ObjectMeta:
    """What the gateway tells the satellite about an object; stored, never interpreted."""

    size: int
    etag: str
    content_type: str = ""
    user_metadata: dict[str, Any] = field(default_factory=dict)
    checksums: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    lock: VersionLock | None = None  # the write's own Object Lock headers (None: it named none)


@dataclass(frozen=True)
class WriteCondition:
    """S3's conditional write, checked in the commit's transaction: ``if_none_match`` is
    ``If-None-Match: *`` (no object may exist under the key), ``if_match`` an ETag the current
    object must have (compared without quotes)."""

    if_match: str | None = None
    if_none_match: bool = False

    @classmethod
    def from_json(cls, raw: Any) -> WriteCondition | None:
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise InvalidArgument("'condition' must be a JSON object")
        if_match, if_none_match = raw.get("if_match"), raw.get("if_none_match", False)
        if (if_match is not None and not isinstance(if_match, str)) or not isinstance(if_none_match, bool):
            raise InvalidArgument("condition.if_match is a string and condition.if_none_match a boolean")
        if not if_match and not if_none_match:
            return None
        return cls(if_match.strip().strip('"') if if_match else None, if_none_match)


@dataclass(frozen=True)
class ObjectInfo:
    id: int
    key: str
    version: int
    size: int
    etag: str
    content_type: str
    user_metadata: dict[str, Any]
    checksums: dict[str, Any]
    tags: dict[str, Any]
    segment_count: int
    created_at: dt.datetime
    version_id: str = "null"  # S3's version id: "null" for writes while unversioned or suspended
    is_latest: bool = True
    delete_marker: bool = False
    versioned: bool = False  # the bucket is or was versioned: S3 then names the version in answers
    lock: VersionLock | None = None  # read only where answers show it (GET, HEAD): None elsewhere

    def to_json(self) -> dict[str, Any]:
        out = self._json()
        if self.versioned or self.version_id != "null":
            out["version_id"] = self.version_id
        if self.delete_marker:
            out["delete_marker"] = True
        if self.lock is not None and (self.lock.mode is not None or self.lock.legal_hold):
            out["lock"] = self.lock.to_json()
        return out

    def _json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version": self.version,
            "size": self.size,
            "etag": self.etag,
            "content_type": self.content_type,
            "metadata": self.user_metadata,
            "checksums": self.checksums,
            "tags": self.tags,
            "segment_count": self.segment_count,
            "created": iso(self.created_at),
        }


@dataclass(frozen=True)
class DeleteOutcome:
    """What one delete did: ``version_id`` is the version removed or the delete marker
    created (``created_marker``); ``delete_marker`` says the version named is a marker;
    ``versioned``: the bucket is or was versioned (S3 then names versions in its answer)."""

    key: str
    version_id: str | None
    delete_marker: bool
    created_marker: bool = False
    versioned: bool = False
    found: bool = True
    error: str | None = None  # "AccessDenied": Object Lock kept this version (DeleteObjects reports it)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "delete_marker": self.delete_marker,
                               "created_marker": self.created_marker, "found": self.found}  # fmt: skip
        if self.versioned and self.version_id is not None:
            out["version_id"] = self.version_id
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass(frozen=True)
class PieceIn:
    number: int
    node_id: str
    piece_id: str
    root: bytes
    size: int


@dataclass(frozen=True)
class SegmentIn:
    """A verified segment ready to store: inline bytes, or a layout with accepted pieces."""

    part_number: int
    index: int
    plain_size: int
    encrypted_size: int
    layout: dict[str, Any] | None
    wrapped_key: bytes
    nonce: bytes
    inline_data: bytes | None
    root_piece_id: str | None = None
    scheme: tuple[int, int, int, int] = (0, 0, 0, 0)
    piece_size: int = 0
    pieces: tuple[PieceIn, ...] = ()
    piece_expires: int = 0  # unix seconds its pieces' TTL ends on the nodes (0: none)


@dataclass(frozen=True)
class PieceOut:
    number: int
    node_id: str
    piece_id: str
    root: bytes
    size: int
    address: str
    last_contact: dt.datetime
    disqualified: bool


@dataclass
class SegmentOut:
    id: int
    part_number: int
    index: int
    plain_offset: int
    plain_size: int
    encrypted_size: int
    layout: dict[str, Any] | None
    wrapped_key: bytes
    nonce: bytes
    inline_data: bytes | None
    root_piece_id: str | None
    scheme: tuple[int, int, int, int]
    piece_size: int
    pieces: list[PieceOut] = field(default_factory=list)
    piece_expires: int = 0  # unix seconds its pieces' TTL ends on the nodes (0: none)


@dataclass(frozen=True)
class ListEntry:
    """One LIST result: an object, or a common prefix (``info`` is None)."""

    key: str
    info: ObjectInfo | None

    @property
    def is_prefix(self) -> bool:
        return self.info is None


@dataclass(frozen=True)
class UploadInfo:
    upload_id: str
    bucket_id: int
    key: str
    content_type: str
    user_metadata: dict[str, Any]
    tags: dict[str, Any]
    checksum_algorithm: str | None
    created_at: dt.datetime
    lock: dict[str, Any] | None = None  # the version lock CreateMultipartUpload asked for

    def to_json(self) -> dict[str, Any]:
        return {
            "upload_id": self.upload_id,
            "key": self.key,
            "content_type": self.content_type,
            "metadata": self.user_metadata,
            "tags": self.tags,
            "checksum_algorithm": self.checksum_algorithm,
            "created": iso(self.created_at),
        }


@dataclass(frozen=True)
class PartInfo:
    part_number: int
    size: int
    etag: str
    checksums: dict[str, Any]
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "part_number": self.part_number,
            "size": self.size,
            "etag": self.etag,
            "checksums": self.checksums,
            "created": iso(self.created_at),
        }
