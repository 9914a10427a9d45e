"""Tables of the S3 surface beyond objects themselves: what a retried request must find again.

``completed_uploads`` remembers each multipart upload's completion for a day, so that a
client that lost Complete's answer and retries it gets the same 200 and ETag (as AWS
answers) instead of ``NoSuchUpload``: SDKs retry Complete on timeouts. ``policy_aliases``
lets an admin give a residency policy other names — AWS region names such as
``eu-west-1`` — so that a client that sends its region as ``LocationConstraint`` lands in
that policy. ``bucket_settings`` holds a bucket's S3 configuration documents by name
(``cors`` today), as the gateway parsed and checked them; the satellite stores them opaque.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from satellite.db.models import Base, ObjectKey

__all__ = ["BucketSetting", "CompletedUpload", "PolicyAlias"]


class CompletedUpload(Base):
    """A multipart upload that was completed: its ETag and the object it made, kept briefly."""

    __tablename__ = "completed_uploads"
    __table_args__ = (Index(None, "completed_at"),)

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(ObjectKey)
    etag: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(BigInteger)
    checksums: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    segment_count: Mapped[int] = mapped_column(Integer)
    object_created_at: Mapped[dt.datetime]
    completed_at: Mapped[dt.datetime]


class PolicyAlias(Base):
    """Another name of a placement policy for ``LocationConstraint`` (lower case, like names)."""

    __tablename__ = "policy_aliases"

    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("placement_policies.id", ondelete="CASCADE"), index=True)


class BucketSetting(Base):
    """One S3 configuration of a bucket (``name`` e.g. ``cors``), as a JSON document."""

    __tablename__ = "bucket_settings"

    bucket_id: Mapped[int] = mapped_column(ForeignKey("buckets.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime]
