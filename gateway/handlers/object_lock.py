"""Object Lock is not served yet (issue #13): refuse every request that would rely on it.

A bucket created with ``x-amz-bucket-object-lock-enabled: true`` that silently had no lock
would let a compliance user believe records are immutable when anyone can delete them. So,
until Object Lock is built, such a CreateBucket fails with ``501 NotImplemented`` and creates
nothing, and a write that asks for retention or a legal hold gets what AWS answers for a
bucket without Object Lock: ``400 InvalidRequest`` ("Bucket is missing Object Lock
Configuration"), storing nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.s3.errors import S3Error

__all__ = ["refuse_bucket_lock", "refuse_object_lock"]

_OBJECT_HEADERS = ("x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold")


def refuse_bucket_lock(headers: Mapping[str, str]) -> None:
    """CreateBucket: a lock-enabled bucket is refused rather than created without a lock."""
    if headers.get("x-amz-bucket-object-lock-enabled", "").strip().lower() == "true":
        raise S3Error(
            "NotImplemented",
            "Object Lock is not supported by this service yet; the bucket was not created",
            Header="x-amz-bucket-object-lock-enabled",
        )


def refuse_object_lock(headers: Mapping[str, str]) -> None:
    """PutObject, CopyObject, CreateMultipartUpload: no bucket has an Object Lock configuration."""
    if any(h in headers for h in _OBJECT_HEADERS):
        raise S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration")
