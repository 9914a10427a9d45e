"""S3 version ids as clients send them, and the version headers of answers (docs/versioning.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gateway.s3.errors import S3Error

__all__ = ["COPY_FROM_MARKER", "parse_version_id", "version_headers"]

# AWS's answer to a copy source that names a delete marker by version id (400 InvalidRequest).
COPY_FROM_MARKER = "The source of a copy request may not specifically refer to a delete marker by version id."

# "null", or an id the satellite made: 32 URL-safe base64 characters.
_VERSION_ID = re.compile(r"^(null|[A-Za-z0-9_-]{32})$")


def parse_version_id(raw: str | None, argument: str = "versionId") -> str | None:
    """A ``versionId`` as sent, or AWS's ``InvalidArgument`` for one no version can have."""
    if raw is None:
        return None
    if not _VERSION_ID.match(raw):
        raise S3Error("InvalidArgument", "Invalid version id specified", ArgumentName=argument, ArgumentValue=raw)
    return raw


def version_headers(obj: Mapping[str, Any]) -> dict[str, str]:
    """``x-amz-version-id`` (only when the bucket is or was versioned: the satellite then names
    the version) and ``x-amz-delete-marker`` for a marker."""
    headers: dict[str, str] = {}
    if obj.get("version_id") is not None:
        headers["x-amz-version-id"] = str(obj["version_id"])
    if obj.get("delete_marker"):
        headers["x-amz-delete-marker"] = "true"
    return headers
