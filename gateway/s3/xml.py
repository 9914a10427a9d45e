"""One typed builder or parser per S3 XML document.

Responses are built from dataclasses into bytes, in the element order of AWS's
documentation, with S3's namespace ``http://s3.amazonaws.com/doc/2006-03-01/`` and
timestamps as ``2009-10-12T17:50:30.000Z``. Listings honour ``encoding-type=url`` by
percent-encoding keys, prefixes, delimiters and markers (a space is ``%20``, ``+`` is
``%2B``, control characters ``%0A`` …, ``/`` kept), as the S3 conformance tests expect of
AWS; boto3 decodes either form.

Request documents (CompleteMultipartUpload, Delete, Tagging, CreateBucketConfiguration)
are parsed with the standard library's ElementTree after refusing any DTD: a body that
declares a ``<!DOCTYPE`` or ``<!ENTITY`` is ``MalformedXML`` before the parser sees it, so
entity-expansion and external-entity tricks never run. Namespaces are accepted with or
without S3's URI (clients differ). Every structural problem is ``MalformedXML`` with AWS's
message; the semantic checks that need state (``InvalidPart``, ``InvalidPartOrder``,
``EntityTooSmall``) belong to the handlers.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

from gateway.s3.errors import S3Error
from gateway.s3.router import ListQuery

__all__ = [
    "NS",
    "BucketInfo",
    "CompletedPart",
    "DeleteError",
    "DeleteRequest",
    "ObjectInfo",
    "ObjectParts",
    "Owner",
    "PartInfo",
    "UploadInfo",
    "complete_multipart_upload_result",
    "copy_object_result",
    "copy_part_result",
    "delete_result",
    "encryption_configuration",
    "initiate_multipart_upload_result",
    "iso8601",
    "list_buckets_result",
    "list_multipart_uploads_result",
    "list_objects_result",
    "list_objects_v2_result",
    "list_parts_result",
    "location_constraint",
    "object_attributes",
    "parse_complete_multipart_upload",
    "parse_create_bucket_configuration",
    "parse_delete",
    "parse_document",
    "parse_encryption_configuration",
    "parse_tagging",
    "parse_tagging_header",
    "tagging",
]

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_DELETE_KEYS = 1000
MAX_OBJECT_TAGS = 10


def iso8601(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Owner:
    id: str
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class BucketInfo:
    name: str
    creation_date: datetime


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    last_modified: datetime
    etag: str
    size: int
    storage_class: str = "STANDARD"
    owner: Owner | None = None
    checksum: tuple[str, str] | None = None  # (ChecksumAlgorithm, ChecksumType)


@dataclass(frozen=True, slots=True)
class PartInfo:
    part_number: int
    last_modified: datetime
    etag: str
    size: int
    checksums: dict[str, str] = field(default_factory=dict)  # e.g. {"ChecksumCRC32": "..."}


@dataclass(frozen=True, slots=True)
class UploadInfo:
    key: str
    upload_id: str
    initiated: datetime
    owner: Owner | None = None
    storage_class: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class CompletedPart:
    part_number: int
    etag: str
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeleteRequest:
    keys: list[str]
    quiet: bool = False
    version_ids: list[str | None] = field(default_factory=list)  # one per key: its VersionId, if given


@dataclass(frozen=True, slots=True)
class DeleteError:
    key: str
    code: str
    message: str
    version_id: str | None = None


# --- building -------------------------------------------------------------------------


def _root(tag: str) -> ET.Element:
    return ET.Element(tag, {"xmlns": NS})


def _add(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = text if isinstance(text, str) else iso8601(text) if isinstance(text, datetime) else str(text)
    return el


def _bool(v: bool) -> str:
    return "true" if v else "false"


def _bytes(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def _owner(parent: ET.Element, tag: str, owner: Owner) -> None:
    el = _add(parent, tag)
    _add(el, "ID", owner.id)
    _add(el, "DisplayName", owner.display_name)


def list_buckets_result(
    owner: Owner, buckets: Sequence[BucketInfo], prefix: str | None = None, continuation: str | None = None
) -> bytes:
    root = _root("ListAllMyBucketsResult")
    _owner(root, "Owner", owner)
    container = _add(root, "Buckets")
    for b in buckets:
        el = _add(container, "Bucket")
        _add(el, "Name", b.name)
        _add(el, "CreationDate", b.creation_date)
    for tag, value in (("ContinuationToken", continuation), ("Prefix", prefix)):  # a token: more follow
        if value is not None:
            _add(root, tag, value)
    return _bytes(root)


def _enc(value: str | None, url: bool) -> str | None:
    return None if value is None else quote(value, safe="/") if url else value


def _contents(root: ET.Element, objects: Sequence[ObjectInfo], url: bool, fetch_owner: bool) -> None:
    for o in objects:
        el = _add(root, "Contents")
        _add(el, "Key", _enc(o.key, url))
        _add(el, "LastModified", o.last_modified)
        _add(el, "ETag", o.etag)
        if o.checksum is not None:
            _add(el, "ChecksumAlgorithm", o.checksum[0])
            _add(el, "ChecksumType", o.checksum[1])
        _add(el, "Size", o.size)
        if fetch_owner and o.owner is not None:
            _owner(el, "Owner", o.owner)
        _add(el, "StorageClass", o.storage_class)


def _prefixes(root: ET.Element, prefixes: Sequence[str], url: bool) -> None:
    for p in prefixes:
        _add(_add(root, "CommonPrefixes"), "Prefix", _enc(p, url))


def list_objects_result(
    bucket: str,
    query: ListQuery,
    objects: Sequence[ObjectInfo],
    common_prefixes: Sequence[str],
    *,
    is_truncated: bool,
    next_marker: str | None = None,
) -> bytes:
    """ListBucketResult of ListObjects (v1). ``next_marker`` is sent when truncated and a
    delimiter was given (without one, clients use the last key, as AWS documents)."""
    url = query.encoding_type == "url"
    root = _root("ListBucketResult")
    _add(root, "Name", bucket)
    _add(root, "Prefix", _enc(query.prefix, url))
    _add(root, "Marker", _enc(query.marker or "", url))
    if is_truncated and next_marker is not None:
        _add(root, "NextMarker", _enc(next_marker, url))
    _add(root, "MaxKeys", query.max_keys)
    if query.delimiter is not None:
        _add(root, "Delimiter", _enc(query.delimiter, url))
    if url:
        _add(root, "EncodingType", "url")
    _add(root, "IsTruncated", _bool(is_truncated))
    _contents(root, objects, url, fetch_owner=True)
    _prefixes(root, common_prefixes, url)
    return _bytes(root)


def list_objects_v2_result(
    bucket: str,
    query: ListQuery,
    objects: Sequence[ObjectInfo],
    common_prefixes: Sequence[str],
    *,
    is_truncated: bool,
    next_continuation_token: str | None = None,
) -> bytes:
    url = query.encoding_type == "url"
    root = _root("ListBucketResult")
    _add(root, "Name", bucket)
    _add(root, "Prefix", _enc(query.prefix, url))
    if query.start_after is not None:
        _add(root, "StartAfter", _enc(query.start_after, url))
    if query.continuation_token is not None:
        _add(root, "ContinuationToken", query.continuation_token)
    if is_truncated and next_continuation_token is not None:
        _add(root, "NextContinuationToken", next_continuation_token)
    _add(root, "KeyCount", len(objects) + len(common_prefixes))
    _add(root, "MaxKeys", query.max_keys)
    if query.delimiter is not None:
        _add(root, "Delimiter", _enc(query.delimiter, url))
    if url:
        _add(root, "EncodingType", "url")
    _add(root, "IsTruncated", _bool(is_truncated))
    _contents(root, objects, url, fetch_owner=query.fetch_owner)
    _prefixes(root, common_prefixes, url)
    return _bytes(root)


def location_constraint(name: str | None) -> bytes:
    """GetBucketLocation: the bucket's residency policy name (empty for the default, as AWS
    answers for us-east-1)."""
    root = _root("LocationConstraint")
    root.text = name or None
    return _bytes(root)


def encryption_configuration() -> bytes:
    """GetBucketEncryption: SSE-S3 (AES256), which the gateway applies to every object."""
    root = _root("ServerSideEncryptionConfiguration")
    rule = _add(root, "Rule")
    _add(_add(rule, "ApplyServerSideEncryptionByDefault"), "SSEAlgorithm", "AES256")
    _add(rule, "BucketKeyEnabled", _bool(False))
    return _bytes(root)


@dataclass(frozen=True, slots=True)
class ObjectParts:
    """GetObjectAttributes' ObjectParts: one page of (part number, size, checksum fields)."""

    total: int
    marker: int
    max_parts: int
    parts: Sequence[tuple[int, int, dict[str, str]]]
    next_marker: int | None = None


def object_attributes(
    wanted: Sequence[str],
    *,
    etag: str,
    size: int,
    checksum: dict[str, str],
    parts: ObjectParts | None,
    storage_class: str = "STANDARD",
) -> bytes:
    """GetObjectAttributes' document with the ``wanted`` attributes (ETag unquoted, as AWS)."""
    root = _root("GetObjectAttributesResponse")
    if "ETag" in wanted:
        _add(root, "ETag", etag.strip('"'))
    if "Checksum" in wanted and checksum:
        el = _add(root, "Checksum")
        for name, value in checksum.items():
            _add(el, name, value)
    if "ObjectParts" in wanted and parts is not None:
        el = _add(root, "ObjectParts")
        _add(el, "PartsCount", parts.total)
        _add(el, "PartNumberMarker", parts.marker)
        if parts.next_marker is not None:
            _add(el, "NextPartNumberMarker", parts.next_marker)
        _add(el, "MaxParts", parts.max_parts)
        _add(el, "IsTruncated", _bool(parts.next_marker is not None))
        for number, part_size, fields in parts.parts:
            p = _add(el, "Part")
            _add(p, "PartNumber", number)
            _add(p, "Size", part_size)
            for name, value in fields.items():
                _add(p, name, value)
    if "StorageClass" in wanted:
        _add(root, "StorageClass", storage_class)
    if "ObjectSize" in wanted:
        _add(root, "ObjectSize", size)
    return _bytes(root)


def _copy_result(tag: str, etag: str, last_modified: datetime, checksums: dict[str, str]) -> bytes:
    root = _root(tag)
    _add(root, "ETag", etag)
    _add(root, "LastModified", last_modified)
    for name, value in checksums.items():
        _add(root, name, value)
    return _bytes(root)


def copy_object_result(etag: str, last_modified: datetime, checksums: dict[str, str] | None = None) -> bytes:
    return _copy_result("CopyObjectResult", etag, last_modified, checksums or {})


def copy_part_result(etag: str, last_modified: datetime, checksums: dict[str, str] | None = None) -> bytes:
    return _copy_result("CopyPartResult", etag, last_modified, checksums or {})


def initiate_multipart_upload_result(bucket: str, key: str, upload_id: str) -> bytes:
    root = _root("InitiateMultipartUploadResult")
    _add(root, "Bucket", bucket)
    _add(root, "Key", key)
    _add(root, "UploadId", upload_id)
    return _bytes(root)


def complete_multipart_upload_result(
    location: str, bucket: str, key: str, etag: str, checksums: dict[str, str] | None = None
) -> bytes:
    root = _root("CompleteMultipartUploadResult")
    _add(root, "Location", location)
    _add(root, "Bucket", bucket)
    _add(root, "Key", key)
    _add(root, "ETag", etag)
    for name, value in (checksums or {}).items():
        _add(root, name, value)
    return _bytes(root)


def list_parts_result(
    bucket: str,
    key: str,
    upload_id: str,
    query: ListQuery,
    parts: Sequence[PartInfo],
    *,
    is_truncated: bool,
    next_part_number_marker: int | None,
    owner: Owner,
    storage_class: str = "STANDARD",
    checksum: tuple[str, str] | None = None,
) -> bytes:
    """``checksum``: the upload's (algorithm, type), when it has one."""
    root = _root("ListPartsResult")
    _add(root, "Bucket", bucket)
    _add(root, "Key", key)
    _add(root, "UploadId", upload_id)
    _owner(root, "Initiator", owner)
    _owner(root, "Owner", owner)
    _add(root, "StorageClass", storage_class)
    if checksum is not None:
        _add(root, "ChecksumAlgorithm", checksum[0])
        _add(root, "ChecksumType", checksum[1])
    _add(root, "PartNumberMarker", query.marker or "0")
    if next_part_number_marker is not None:
        _add(root, "NextPartNumberMarker", next_part_number_marker)
    _add(root, "MaxParts", query.max_keys)
    _add(root, "IsTruncated", _bool(is_truncated))
    for p in parts:
        el = _add(root, "Part")
        _add(el, "PartNumber", p.part_number)
        _add(el, "LastModified", p.last_modified)
        _add(el, "ETag", p.etag)
        _add(el, "Size", p.size)
        for name, value in p.checksums.items():
            _add(el, name, value)
    return _bytes(root)


def list_multipart_uploads_result(
    bucket: str,
    query: ListQuery,
    uploads: Sequence[UploadInfo],
    common_prefixes: Sequence[str],
    *,
    is_truncated: bool,
    next_key_marker: str | None = None,
    next_upload_id_marker: str | None = None,
) -> bytes:
    url = query.encoding_type == "url"
    root = _root("ListMultipartUploadsResult")
    _add(root, "Bucket", bucket)
    _add(root, "KeyMarker", _enc(query.marker or "", url))
    _add(root, "UploadIdMarker", query.upload_id_marker or "")
    if is_truncated:
        _add(root, "NextKeyMarker", _enc(next_key_marker or "", url))
        _add(root, "NextUploadIdMarker", next_upload_id_marker or "")
    _add(root, "Prefix", _enc(query.prefix, url))
    if query.delimiter is not None:
        _add(root, "Delimiter", _enc(query.delimiter, url))
    _add(root, "MaxUploads", query.max_keys)
    if url:
        _add(root, "EncodingType", "url")
    _add(root, "IsTruncated", _bool(is_truncated))
    for u in uploads:
        el = _add(root, "Upload")
        _add(el, "Key", _enc(u.key, url))
        _add(el, "UploadId", u.upload_id)
        if u.owner is not None:
            _owner(el, "Initiator", u.owner)
            _owner(el, "Owner", u.owner)
        _add(el, "StorageClass", u.storage_class)
        _add(el, "Initiated", u.initiated)
    _prefixes(root, common_prefixes, url)
    return _bytes(root)


def delete_result(deleted: Sequence[str | dict[str, str]], errors: Sequence[DeleteError], *,
                  quiet: bool = False) -> bytes:  # fmt: skip
    """DeleteResult; in quiet mode only the errors are listed, as AWS does. A deleted entry is
    a key or the fields of its ``Deleted`` element (Key, VersionId, DeleteMarker, DeleteMarkerVersionId)."""
    root = _root("DeleteResult")
    if not quiet:
        for entry in deleted:
            el = _add(root, "Deleted")
            for name, value in ({"Key": entry} if isinstance(entry, str) else entry).items():
                _add(el, name, value)
    for e in errors:
        el = _add(root, "Error")
        _add(el, "Key", e.key)
        if e.version_id is not None:
            _add(el, "VersionId", e.version_id)
        _add(el, "Code", e.code)
        _add(el, "Message", e.message)
    return _bytes(root)


def tagging(tags: dict[str, str]) -> bytes:
    root = _root("Tagging")
    tag_set = _add(root, "TagSet")
    for k, v in tags.items():
        el = _add(tag_set, "Tag")
        _add(el, "Key", k)
        _add(el, "Value", v)
    return _bytes(root)


# --- parsing --------------------------------------------------------------------------


def _malformed() -> S3Error:
    return S3Error("MalformedXML")


def _parse(body: bytes, root_tag: str) -> ET.Element:
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        raise _malformed()
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise _malformed() from None
    if _local(root.tag) != root_tag:
        raise _malformed()
    return root


def parse_document(body: bytes, root_tag: str) -> ET.Element:
    """A request document whose root is ``root_tag``, refused as ``MalformedXML`` otherwise
    (and before parsing, if it declares a DTD or entity)."""
    return _parse(body, root_tag)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name]


def _text(el: ET.Element, name: str, *, required: bool = True) -> str | None:
    found = _children(el, name)
    if len(found) > 1 or (required and not found):
        raise _malformed()
    return (found[0].text or "") if found else None


def parse_complete_multipart_upload(body: bytes) -> list[CompletedPart]:
    """The parts of a CompleteMultipartUpload request, in the order given."""
    root = _parse(body, "CompleteMultipartUpload")
    parts = []
    for el in _children(root, "Part"):
        raw_number = _text(el, "PartNumber") or ""
        if not raw_number.strip().isdigit():
            raise _malformed()
        etag = _text(el, "ETag") or ""
        checksums = {_local(c.tag): (c.text or "").strip() for c in el if _local(c.tag).startswith("Checksum")}
        parts.append(CompletedPart(int(raw_number), etag.strip(), checksums))
    if not parts:
        raise _malformed()
    return parts


def parse_delete(body: bytes) -> DeleteRequest:
    """A DeleteObjects request: up to 1000 keys (more is ``MalformedXML``, as on AWS)."""
    root = _parse(body, "Delete")
    quiet = (_text(root, "Quiet", required=False) or "false").strip().lower()
    if quiet not in ("true", "false"):
        raise _malformed()
    objects = _children(root, "Object")
    if not objects or len(objects) > MAX_DELETE_KEYS:
        raise _malformed()
    keys, versions = [], []
    for el in objects:
        key = _text(el, "Key")
        if not key:
            raise _malformed()
        keys.append(key)
        versions.append(_text(el, "VersionId", required=False))
    return DeleteRequest(keys, quiet == "true", versions)


def _check_tags(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    if len(pairs) > MAX_OBJECT_TAGS:
        raise S3Error("InvalidTag", "Object tags cannot be greater than 10")
    tags: dict[str, str] = {}
    for k, v in pairs:
        if not k or len(k) > 128:
            raise S3Error("InvalidTag", "The TagKey you have provided is too long, max 128" if k else
                          "The TagKey you have provided is invalid")  # fmt: skip
        if len(v) > 256:
            raise S3Error("InvalidTag", "The TagValue you have provided is too long, max 256")
        if k.startswith("aws:"):
            raise S3Error("InvalidTag", "System tags cannot be added/updated by requester")
        if k in tags:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key")
        tags[k] = v
    return tags


def parse_tagging(body: bytes) -> dict[str, str]:
    """A PutObjectTagging body: at most 10 tags, keys ≤ 128 and values ≤ 256 characters."""
    root = _parse(body, "Tagging")
    tag_sets = _children(root, "TagSet")
    if len(tag_sets) != 1:
        raise _malformed()
    pairs = [(_text(t, "Key") or "", _text(t, "Value") or "") for t in _children(tag_sets[0], "Tag")]
    return _check_tags(pairs)


def parse_tagging_header(value: str) -> dict[str, str]:
    """``x-amz-tagging: k1=v1&k2=v2`` (URL query encoding), with the same limits."""
    return _check_tags(parse_qsl(value, keep_blank_values=True))


def parse_create_bucket_configuration(body: bytes) -> str | None:
    """The LocationConstraint of a CreateBucket body (``None`` for an empty body)."""
    if not body.strip():
        return None
    root = _parse(body, "CreateBucketConfiguration")
    value = _text(root, "LocationConstraint", required=False)
    return value.strip() or None if value is not None else None


def parse_encryption_configuration(body: bytes) -> list[str]:
    """The ``SSEAlgorithm`` of each rule of a PutBucketEncryption body (at least one rule)."""
    root = _parse(body, "ServerSideEncryptionConfiguration")
    rules = _children(root, "Rule")
    if not rules:
        raise _malformed()
    out = []
    for rule in rules:
        defaults = _children(rule, "ApplyServerSideEncryptionByDefault")
        if len(defaults) != 1:
            raise _malformed()
        out.append((_text(defaults[0], "SSEAlgorithm") or "").strip())
    return out
