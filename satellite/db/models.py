"""Typed SQLAlchemy models of the satellite's metadata.

Portability rules (SQLite, PostgreSQL, CockroachDB): only generic column types; integer
surrogate keys are ``BIGINT`` except on SQLite, where only ``INTEGER PRIMARY KEY`` is a
rowid alias that auto-increments; object keys compare byte-wise (SQLite's default
``BINARY``, ``COLLATE "C"`` on PostgreSQL) because S3 lists keys in UTF-8 binary order;
timestamps are stored in UTC and always come back timezone-aware.

Objects carry a ``version``: a commit inserts ``max(version) + 1``, which orders a key's
versions newest first. Each row also has the S3 ``version_id`` clients see ("null" for
writes while the bucket is unversioned or suspended), a ``delete_marker`` flag and
``is_latest``, true on exactly the newest row of a key, so that listing the current objects
seeks ``(bucket_id, is_latest, key)`` and never walks older versions (docs/versioning.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from satellite.nodeselection.policy import policy_key

__all__ = [
    "AccessKey",
    "AuditResult",
    "BadPieceReport",
    "Base",
    "Bucket",
    "ExitStatus",
    "GracefulExit",
    "KeyStatus",
    "Node",
    "ObjectRow",
    "ObjectStatus",
    "OrderSerial",
    "PendingAudit",
    "PieceRow",
    "PlacementPolicyRow",
    "RepairJob",
    "Reputation",
    "RetainListSent",
    "SegmentRow",
    "Tenant",
    "UTCDateTime",
    "Upload",
    "UploadPart",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT surrogate keys everywhere but SQLite, where only INTEGER PRIMARY KEY auto-increments.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# S3 lists keys in UTF-8 byte order; PostgreSQL's default collation is the locale's.
ObjectKey = String(1024).with_variant(String(1024, collation="C"), "postgresql")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        bytes: LargeBinary(),
    }


class ObjectStatus:
    COMMITTED = "committed"


class KeyStatus:
    ACTIVE = "active"
    REVOKED = "revoked"


class Node(Base):
    """A storage node as last seen at check-in, plus what the satellite decided about it."""

    __tablename__ = "nodes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex Ed25519 public key
    address: Mapped[str] = mapped_column(String(255))
    last_ip: Mapped[str] = mapped_column(String(64), default="")
    last_net: Mapped[str] = mapped_column(String(64), default="", index=True)  # "a.b.c.0/24"
    country: Mapped[str] = mapped_column(String(2))  # as claimed at check-in
    region: Mapped[str] = mapped_column(String(64), default="")
    country_override: Mapped[str | None] = mapped_column(String(2))  # set by an admin; wins
    region_override: Mapped[str | None] = mapped_column(String(64))
    geoip_country: Mapped[str | None] = mapped_column(String(2))  # what a GeoIP database says
    capacity: Mapped[int] = mapped_column(BigInteger, default=0)
    free: Mapped[int] = mapped_column(BigInteger, default=0)
    used: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[str] = mapped_column(String(64), default="")
    wallet: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[dt.datetime]
    last_contact_at: Mapped[dt.datetime] = mapped_column(index=True)
    # Reputation and lifecycle: placeholders the audit, reputation and exit issues fill in.
    vetted_at: Mapped[dt.datetime | None]
    audit_success_count: Mapped[int] = mapped_column(Integer, default=0)
    audit_total_count: Mapped[int] = mapped_column(Integer, default=0)
    disqualified_at: Mapped[dt.datetime | None]
    disqualification_reason: Mapped[str | None] = mapped_column(String(255))
    suspended_at: Mapped[dt.datetime | None]
    suspension_reason: Mapped[str | None] = mapped_column(String(255))
    # Set while a timed-out audit waits to be retried (a PendingAudit row): no new pieces.
    contained_at: Mapped[dt.datetime | None]
    exit_initiated_at: Mapped[dt.datetime | None]
    exit_finished_at: Mapped[dt.datetime | None]

    @property
    def effective_country(self) -> str:
        return self.country_override or self.country

    @property
    def effective_region(self) -> str:
        return self.region_override if self.region_override is not None else self.region


class PlacementPolicyRow(Base):
    """A named residency policy and its redundancy scheme."""

    __tablename__ = "placement_policies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    allowed_countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    allowed_regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    excluded_countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_countries: Mapped[int] = mapped_column(Integer, default=1)
    k: Mapped[int] = mapped_column(Integer)
    repair: Mapped[int] = mapped_column(Integer)
    success: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]


def policy_named(name: str) -> Any:
    """The WHERE clause for the policy called ``name`` (names are case-insensitive)."""
    return PlacementPolicyRow.name == policy_key(name)


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    default_policy_id: Mapped[int | None] = mapped_column(ForeignKey("placement_policies.id"))
    created_at: Mapped[dt.datetime]


class AccessKey(Base):
    """An S3 access key; the secret is AES-GCM encrypted under the satellite's secrets key."""

    __tablename__ = "access_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the access key id
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    secret_ciphertext: Mapped[bytes]
    status: Mapped[str] = mapped_column(String(16), default=KeyStatus.ACTIVE)
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]


class Bucket(Base):
    __tablename__ = "buckets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)  # S3 bucket names are global
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("placement_policies.id"), index=True)
    versioning: Mapped[str] = mapped_column(String(16), default="unversioned")
    # Object Lock: None for a bucket created without it; else its configuration (common.objectlock).
    object_lock: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime]


class ObjectRow(Base):
    """One committed version (or delete marker) of an object. ListObjects seeks on
    ``(bucket_id, is_latest, key)``, ListObjectVersions on ``(bucket_id, key, version)``."""

    __tablename__ = "objects"
    __table_args__ = (
        Index("ix_objects_current", "bucket_id", "is_latest", "key"),
        Index("ix_objects_version_id", "bucket_id", "key", "version_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id"))
    key: Mapped[str] = mapped_column(ObjectKey)
    version: Mapped[int] = mapped_column(BigInteger)
    version_id: Mapped[str] = mapped_column(String(32), default="null")  # S3's x-amz-version-id
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True)
    delete_marker: Mapped[bool] = mapped_column(Boolean, default=False)
    # Object Lock: the version's retention (mode and date, both or neither) and legal hold.
    lock_mode: Mapped[str | None] = mapped_column(String(16))
    lock_until: Mapped[dt.datetime | None]
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=ObjectStatus.COMMITTED)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(80))
    content_type: Mapped[str] = mapped_column(String(255), default="")
    user_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # headers and x-amz-meta-*
    checksums: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    segment_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime]


# A key's versions newest first, as ListObjectVersions pages them (key ascending, version
# descending): an index in that order lets a page read no more rows than it returns, however
# many versions a key has. Unique: racing commits of one key cannot take one version.
Index("uq_objects_bucket_id_key_version", ObjectRow.bucket_id, ObjectRow.key, ObjectRow.version.desc(), unique=True)


class Upload(Base):
    """A pending multipart upload; its parts' segments become the object's on Complete."""

    __tablename__ = "uploads"
    __table_args__ = (Index(None, "bucket_id", "key", "id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the S3 upload id
    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id"))
    key: Mapped[str] = mapped_column(ObjectKey)
    content_type: Mapped[str] = mapped_column(String(255), default="")
    user_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    checksum_algorithm: Mapped[str | None] = mapped_column(String(16))
    lock: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the version lock its initiation asked for
    created_at: Mapped[dt.datetime]


class UploadPart(Base):
    __tablename__ = "upload_parts"

    upload_id: Mapped[str] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), primary_key=True)
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(80))
    checksums: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime]


class SegmentRow(Base):
    """A segment of an object (or of a pending upload's part): inline bytes or a piece layout.

    Exactly one of ``object_id`` / ``upload_id`` is set. Order within the object is
    ``(part_number, index)``; a simple PUT has ``part_number`` 0.
    """

    __tablename__ = "segments"
    __table_args__ = (
        Index(None, "object_id", "part_number", "index"),
        Index(None, "upload_id", "part_number", "index"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    object_id: Mapped[int | None] = mapped_column(ForeignKey("objects.id", ondelete="CASCADE"))
    upload_id: Mapped[str | None] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    part_number: Mapped[int] = mapped_column(Integer, default=0)
    index: Mapped[int] = mapped_column(Integer, default=0)
    plain_size: Mapped[int] = mapped_column(BigInteger)
    encrypted_size: Mapped[int] = mapped_column(BigInteger)
    layout: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # erasure SegmentLayout.to_dict()
    wrapped_key: Mapped[bytes]
    nonce: Mapped[bytes]  # the segment id the gateway derives block nonces from
    inline_data: Mapped[bytes | None]
    root_piece_id: Mapped[str | None] = mapped_column(String(64))
    k: Mapped[int] = mapped_column(Integer, default=0)  # the scheme it was placed with; 0 = inline
    repair_threshold: Mapped[int] = mapped_column(Integer, default=0)
    success_threshold: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    piece_size: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime]
    # When the nodes delete its pieces by themselves (the PUT orders' TTL); None: never.
    piece_expires: Mapped[dt.datetime | None] = mapped_column(default=None)


class PieceRow(Base):
    """One erasure share of a segment held by one node; the root is what audits check."""

    __tablename__ = "pieces"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id"), index=True)
    piece_id: Mapped[str] = mapped_column(String(64))
    merkle_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    size: Mapped[int] = mapped_column(BigInteger)


class OrderSerial(Base):
    """Order serials the satellite issued, for nodes to settle (the orders issue fills this)."""

    __tablename__ = "order_serials"

    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(16))
    bucket_id: Mapped[int | None] = mapped_column(BigInteger)
    max_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[dt.datetime] = mapped_column(index=True)
    settled_at: Mapped[dt.datetime | None] = mapped_column(index=True)  # accounting sums egress by this
    settled_bytes: Mapped[int | None] = mapped_column(BigInteger)


class BadPieceReport(Base):
    """A gateway saw a share fail its Merkle check: evidence for the audit issue to act on."""

    __tablename__ = "bad_piece_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    piece_id: Mapped[str] = mapped_column(String(64))
    segment_id: Mapped[int | None] = mapped_column(BigInteger)  # no FK: the object may be gone
    piece_number: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(255), default="")
    reported_at: Mapped[dt.datetime]

    @classmethod
    def now(
        cls, node_id: str, piece_id: str, segment_id: int | None, number: int | None, reason: str
    ) -> BadPieceReport:
        """A report stamped now, its reason cut to the column's 255 characters."""
        return cls(
            node_id=node_id,
            piece_id=piece_id,
            segment_id=segment_id,
            piece_number=number,
            reason=reason[:255],
            reported_at=dt.datetime.now(dt.UTC),
        )


class RetainListSent(Base):
    """The last retain list garbage collection built for a node: when, how big, whether it arrived."""

    __tablename__ = "gc_retain_lists"

    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    attempted_at: Mapped[dt.datetime] = mapped_column(index=True)  # the chore visits the oldest first
    sent_at: Mapped[dt.datetime | None]  # last list the node accepted (202)
    created_before: Mapped[dt.datetime | None]  # of that list
    piece_count: Mapped[int] = mapped_column(BigInteger, default=0)
    filter_bytes: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(255), default="")


class ExitStatus:
    EXITING = "exiting"
    EXITED = "exited"
    FAILED = "failed"


class GracefulExit(Base):
    """A node's graceful exit: requested by the node, finished when it holds no piece we reference."""

    __tablename__ = "graceful_exits"

    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    initiated_at: Mapped[dt.datetime]
    finished_at: Mapped[dt.datetime | None]
    reason: Mapped[str] = mapped_column(String(255), default="")  # why it failed
    pieces_at_start: Mapped[int] = mapped_column(BigInteger, default=0)
    pieces_transferred: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_transferred: Mapped[int] = mapped_column(BigInteger, default=0)
    pieces_failed: Mapped[int] = mapped_column(BigInteger, default=0)  # the exiting node's fault
    last_progress_at: Mapped[dt.datetime | None]


class Reputation(Base):
    """A node's beta-model scores (``satellite.reputation``); no row yet = the initial values."""

    __tablename__ = "reputations"

    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    audit_alpha: Mapped[float]
    audit_beta: Mapped[float]
    unknown_alpha: Mapped[float]
    unknown_beta: Mapped[float]
    online_score: Mapped[float] = mapped_column(default=1.0)
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    offline_count: Mapped[int] = mapped_column(Integer, default=0)
    unknown_count: Mapped[int] = mapped_column(Integer, default=0)
    timeout_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime]


class AuditResult(Base):
    """One audit's outcome, kept for operators and admins to see why a score moved."""

    __tablename__ = "audit_results"
    __table_args__ = (Index(None, "node_id", "audited_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    node_id: Mapped[str] = mapped_column(String(64))
    segment_id: Mapped[int | None] = mapped_column(BigInteger)  # no FK: the object may be gone
    piece_number: Mapped[int | None] = mapped_column(Integer)
    piece_id: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(500), default="")
    audited_at: Mapped[dt.datetime] = mapped_column(index=True)


class PendingAudit(Base):
    """Containment: a challenge that timed out, retried as-is until answered or missed 3 times."""

    __tablename__ = "pending_audits"

    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    segment_id: Mapped[int] = mapped_column(BigInteger)
    piece_number: Mapped[int] = mapped_column(Integer)
    piece_id: Mapped[str] = mapped_column(String(64))
    merkle_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    piece_size: Mapped[int] = mapped_column(BigInteger)
    share_size: Mapped[int] = mapped_column(Integer)
    leaf_indexes: Mapped[list[int]] = mapped_column(JSON)
    misses: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime]
    last_attempt_at: Mapped[dt.datetime]


class RepairJob(Base):
    """A segment the repair checker found at risk (or out of policy), waiting for a repairer.

    ``margin`` is healthy pieces minus ``k``: how many more losses the segment survives.
    Workers take the smallest margin first. A claim (``claimed_at``/``claimed_by``) older
    than the repairer's claim timeout is taken again, so a crashed worker's job is retried.
    """

    __tablename__ = "repair_queue"
    __table_args__ = (Index(None, "margin", "healthy", "inserted_at"),)

    segment_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # no FK: a deleted object ends the job
    healthy: Mapped[int] = mapped_column(Integer)
    margin: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[dt.datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str] = mapped_column(String(500), default="")
    inserted_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
from satellite.db import access_models as _access_models  # noqa: E402, F401  (tenant Block Public Access)
from satellite.db import console_models as _console_models  # noqa: E402, F401  (admin audit log)
from satellite.db import durability_models as _durability_models  # noqa: E402, F401
from satellite.db import lease_models as _lease_models  # noqa: E402, F401  (chore leases of the satellite's roles)
from satellite.db import payout_models as _payout_models  # noqa: E402, F401  (settlement's tables)
from satellite.db import security_models as _security_models  # noqa: E402,F401 - issue 16's index
from satellite.db import surface_models as _surface_models  # noqa: E402,F401  (S3-surface tables)

from . import accounting_models as _accounting_models  # noqa: E402, F401  (the economy's tables)
from . import residency_models as _residency_models  # noqa: E402, F401  (the residency ledger)
