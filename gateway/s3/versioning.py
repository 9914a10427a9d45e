"""The XML of S3 versioning: the VersioningConfiguration document and ListVersionsResult
(docs/versioning.md), kept out of :mod:`gateway.s3.xml`, which is at its size limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.s3.errors import S3Error
from gateway.s3.xml import Owner, _add, _bool, _bytes, _enc, _parse, _prefixes, _root, _text

__all__ = [
    "VersionInfo",
    "list_versions_result",
    "parse_versioning_configuration",
    "versioning_configuration",
]

def parse_versioning_configuration(body: bytes) -> str:
    """PutBucketVersioning's ``Status`` (Enabled or Suspended); ``MfaDelete`` Enabled is
    refused as not implemented (no MFA devices here); anything else is ``MalformedXML``."""
    root = _parse(body, "VersioningConfiguration")
    if any(el.tag.rsplit("}", 1)[-1] not in ("Status", "MfaDelete") for el in root):
        raise S3Error("MalformedXML")
    status = _text(root, "Status", required=False)
    mfa = _text(root, "MfaDelete", required=False)
    if mfa is not None and mfa not in ("Enabled", "Disabled"):
        raise S3Error("MalformedXML")
    if mfa == "Enabled":
        raise S3Error("NotImplemented", "MFA Delete is not supported by this service", Header="MfaDelete")
    if status not in ("Enabled", "Suspended"):
        raise S3Error("MalformedXML")
    return status


def versioning_configuration(status: str) -> bytes:
    """GetBucketVersioning: no Status for a bucket never versioned, as AWS answers."""
    root = _root("VersioningConfiguration")
    if status in ("Enabled", "Suspended"):
        _add(root, "Status", status)
    return _bytes(root)


@dataclass(frozen=True, slots=True)
class VersionInfo:
    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime
    delete_marker: bool
    etag: str = ""
    size: int = 0


def list_versions_result(
    bucket: str, *, prefix: str, delimiter: str | None, key_marker: str, version_id_marker: str, max_keys: int,
    url: bool, versions: Sequence[VersionInfo], prefixes: Sequence[str], owner: Owner, truncated: bool,
    next_key_marker: str | None, next_version_id_marker: str | None,
) -> bytes:  # fmt: skip
    root = _root("ListVersionsResult")
    _add(root, "Name", bucket)
    _add(root, "Prefix", _enc(prefix, url))
    _add(root, "KeyMarker", _enc(key_marker, url))
    _add(root, "VersionIdMarker", version_id_marker)
    if truncated and next_key_marker is not None:
        _add(root, "NextKeyMarker", _enc(next_key_marker, url))
        if next_version_id_marker is not None:
            _add(root, "NextVersionIdMarker", next_version_id_marker)
    _add(root, "MaxKeys", max_keys)
    if delimiter is not None:
        _add(root, "Delimiter", _enc(delimiter, url))
    if url:
        _add(root, "EncodingType", "url")
    _add(root, "IsTruncated", _bool(truncated))
    for v in versions:
        el = _add(root, "DeleteMarker" if v.delete_marker else "Version")
        _add(el, "Key", _enc(v.key, url))
        _add(el, "VersionId", v.version_id)
        _add(el, "IsLatest", _bool(v.is_latest))
        _add(el, "LastModified", v.last_modified)
        if not v.delete_marker:
            _add(el, "ETag", v.etag)
            _add(el, "Size", v.size)
            _add(el, "StorageClass", "STANDARD")
        o = _add(el, "Owner")
        _add(o, "ID", owner.id)
        _add(o, "DisplayName", owner.display_name)
    _prefixes(root, prefixes, url)
    return _bytes(root)
