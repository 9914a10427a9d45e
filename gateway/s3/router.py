"""Every S3 request becomes a typed :class:`Endpoint` before anything handles it.

Routing S3 is a decision over four things: the HTTP method, whether a bucket is named,
whether a key is named, and which *subresource* query parameters are present
(``?uploads``, ``?uploadId=``, ``?tagging``, ``?delete``, ``?location`` …). Following
Garage's ``router.rs``, this module makes that decision once, in one table-like function
per (bucket?, key?) case, and hands the handlers an :class:`Endpoint` whose fields are
already validated and typed: part numbers are ints in 1..10000, ``max-keys`` is an int,
bucket names obey AWS's rules, keys are decoded exactly and at most 1,024 bytes.

Addressing. A request names its bucket either in the path (``/bucket/key``, path-style)
or in the host (``bucket.s3.example.com/key``, virtual-host style) when the host ends with
one of the configured base domains. The path is split on its *raw* form and each part is
percent-decoded once: ``+`` stays ``+``, ``%2F`` becomes a ``/`` inside the key, and a
trailing slash is part of the key. In the query string ``+`` is a space, as AWS reads it.

Subresources that S3 has but Geoshard does not implement (``?logging``, ``?website``
…) answer ``NotImplemented``; query parameters S3 does not know (such as
the ``x-id`` that boto3 adds) are ignored, as AWS ignores them.

Hostile values. A header value that is not valid UTF-8 or holds a control character, and a
``response-*`` override that does (CR/LF: header injection), is ``InvalidArgument`` before
anything else looks at the request: handlers store header values and send some back, and
an override becomes a response header, so neither may carry bytes a header cannot.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import unquote, unquote_plus

from multidict import CIMultiDictProxy, MultiDict, MultiDictProxy

from gateway.s3.errors import S3Error
from gateway.s3.operations import CONFIGURATIONS as _CONFIGURATIONS
from gateway.s3.operations import Operation
from gateway.s3.version_ids import parse_version_id

__all__ = [
    "MAX_KEY_BYTES",
    "RESPONSE_OVERRIDES",
    "Addressing",
    "CopySource",
    "Endpoint",
    "ListQuery",
    "Operation",
    "RouterConfig",
    "check_bucket_name",
    "check_header_values",
    "check_key",
    "parse_query",
    "route",
]

MAX_KEY_BYTES = 1024
_MAX_PART_NUMBER = 10_000

RESPONSE_OVERRIDES: Mapping[str, str] = MappingProxyType(
    {
        "response-content-type": "Content-Type",
        "response-content-language": "Content-Language",
        "response-expires": "Expires",
        "response-cache-control": "Cache-Control",
        "response-content-disposition": "Content-Disposition",
        "response-content-encoding": "Content-Encoding",
    }
)

# Bucket subresources Geoshard serves; on an object they name nothing S3 has.
_BUCKET_ONLY = frozenset({"encryption", "cors", "lifecycle", "object-lock", "ownershipControls", "policy",
                          "policyStatus", "publicAccessBlock"})

# Subresources of S3 that Geoshard does not serve: NotImplemented rather than a silent
# fallback to the plain operation, which would answer something wrong.
_UNSUPPORTED = frozenset(
    {
        "abac",
        "accelerate",
        "analytics",
        "intelligent-tiering",
        "inventory",
        "logging",
        "metadataConfiguration",
        "metadataInventoryTable",
        "metadataJournalTable",
        "metadataTable",
        "metrics",
        "notification",
        "replication",
        "requestPayment",
        "restore",
        "select",
        "session",
        "torrent",
        "website",
        "renameObject",
    }
)


class Addressing(enum.Enum):
    PATH = "path"
    VIRTUAL_HOST = "virtual-host"


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """Base domains for virtual-host addressing (``s3.localhost`` makes
    ``bucket.s3.localhost:9000`` name ``bucket``); empty means path-style only."""

    base_domains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CopySource:
    """``x-amz-copy-source``, decoded, with ``x-amz-copy-source-range`` for UploadPartCopy
    (inclusive byte offsets)."""

    bucket: str
    key: str
    version_id: str | None = None
    range: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The listing parameters of ListObjects(V2), ListMultipartUploads and ListParts.

    ``max_keys`` is already capped at 1000 (``max-keys``, ``max-uploads``, ``max-parts``);
    ``marker`` is ``marker``/``key-marker``/``part-number-marker`` by operation."""

    prefix: str = ""
    delimiter: str | None = None
    max_keys: int = 1000
    encoding_type: str | None = None
    marker: str | None = None
    start_after: str | None = None
    continuation_token: str | None = None
    fetch_owner: bool = False
    upload_id_marker: str | None = None
    version_id_marker: str | None = None  # ListObjectVersions' version-id-marker


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One parsed S3 request: what to do, on what, with which typed options."""

    operation: Operation
    bucket: str | None = None
    key: str | None = None
    addressing: Addressing = Addressing.PATH
    upload_id: str | None = None
    part_number: int | None = None
    copy_source: CopySource | None = None
    list_query: ListQuery | None = None
    response_overrides: Mapping[str, str] = field(default_factory=dict)
    object_attributes: tuple[str, ...] = ()  # GetObjectAttributes' x-amz-object-attributes
    version_id: str | None = None  # ?versionId= of GET, HEAD, DELETE and tagging

    @property
    def resource(self) -> str:
        """The ``Resource`` AWS names in error bodies: ``/bucket/key``."""
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}/{self.key}" if self.key is not None else f"/{self.bucket}"


# --- names ----------------------------------------------------------------------------

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BAD_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BAD_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket_name(name: str) -> str:
    """``name`` if it obeys AWS's bucket naming rules, else ``InvalidBucketName``."""
    ok = (
        _BUCKET_RE.match(name) is not None
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and not name.startswith(_BAD_PREFIXES)
        and not name.endswith(_BAD_SUFFIXES)
    )
    if ok:
        try:
            ipaddress.IPv4Address(name)
            ok = False
        except ValueError:
            pass
    if not ok:
        raise S3Error("InvalidBucketName", BucketName=name)
    return name


def check_key(key: str) -> str:
    """``key`` if it fits S3's 1,024-byte limit, else ``KeyTooLongError``."""
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise S3Error("KeyTooLongError", Size=size, MaxSizeAllowed=MAX_KEY_BYTES)
    return key


def _decode(raw: str) -> str:
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI") from None


# What no HTTP header value may hold: C0 controls but the tab (CR and LF among them) and DEL.
_FORBIDDEN_IN_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _header_safe(value: str) -> bool:
    """``value`` is valid UTF-8 (aiohttp decodes bytes that are not with surrogate escapes)
    and has no control character: it can be stored, signed and sent back in a header."""
    if _FORBIDDEN_IN_HEADER.search(value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_header_values(headers: CIMultiDictProxy[str] | Mapping[str, str]) -> None:
    """``InvalidArgument`` for a request header whose value is not valid UTF-8 or holds a
    control character: handlers store header values and send some back (metadata, the
    content type), so none of them may carry bytes that would break a response header."""
    for name, value in headers.items():
        if not _header_safe(value):
            raise S3Error(
                "InvalidArgument",
                f"The value of the {name} header contains characters that are not allowed in an HTTP header",
                ArgumentName=name,
            )


def _response_overrides(query: MultiDictProxy[str]) -> dict[str, str]:
    """The ``response-*`` parameters as response headers; a value that cannot be a header
    value (CR/LF, another control character) is ``InvalidArgument``, never reflected."""
    out: dict[str, str] = {}
    for name, header in RESPONSE_OVERRIDES.items():
        if name not in query:
            continue
        value = query[name]
        if not _header_safe(value):
            raise S3Error(
                "InvalidArgument",
                f"The {name} parameter contains characters that are not allowed in an HTTP header",
                ArgumentName=name,
            )
        out[header] = value
    return out


def _decode_query(raw: str) -> str:
    try:
        return unquote_plus(raw, errors="strict")
    except UnicodeDecodeError:
        raise S3Error("InvalidURI") from None


def parse_query(raw_query: str) -> MultiDictProxy[str]:
    """Decode a raw query string the way S3 does: ``name`` alone is an empty value, and
    percent-escapes are decoded once, with ``+`` as a space (form encoding, as AWS reads a
    query and as SDKs that send ``+`` sign it; a plus is ``%2B``). Paths keep ``+``."""
    out: MultiDict[str] = MultiDict()
    for pair in raw_query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        out.add(_decode_query(name), _decode_query(value))
    return MultiDictProxy(out)


# --- the router -----------------------------------------------------------------------


def route(
    method: str,
    raw_path: str,
    headers: CIMultiDictProxy[str] | Mapping[str, str],
    config: RouterConfig = RouterConfig(),
) -> Endpoint:
    """Parse a request (method, raw path with query as sent, headers) into an
    :class:`Endpoint`, or raise the :class:`S3Error` AWS would answer."""
    check_header_values(headers)
    path, _, raw_query = raw_path.partition("?")
    query = parse_query(raw_query)
    bucket, key, addressing = _locate(path, headers.get("Host", ""), config)
    for name in query:
        if name in _UNSUPPORTED:
            raise S3Error("NotImplemented", Header=f"?{name}")
    if bucket is None:
        if method in ("GET", "HEAD"):
            return Endpoint(Operation.LIST_BUCKETS)
        raise S3Error("MethodNotAllowed", Method=method, ResourceType="SERVICE")
    check_bucket_name(bucket)
    if method == "OPTIONS":
        return Endpoint(Operation.PREFLIGHT, bucket, check_key(key) if key is not None else None, addressing)
    if key is None:
        op, extra = _bucket_operation(method, query)
    else:
        check_key(key)
        op, extra = _object_operation(method, query, headers)
    return Endpoint(op, bucket, key, addressing, **extra)


def _locate(path: str, host: str, config: RouterConfig) -> tuple[str | None, str | None, Addressing]:
    if not path.startswith("/"):
        raise S3Error("InvalidURI")
    hostname = _strip_port(host).lower()
    for domain in config.base_domains:
        if hostname.endswith("." + domain):
            bucket = hostname[: -len(domain) - 1]
            key = _decode(path[1:])
            return bucket, (key or None), Addressing.VIRTUAL_HOST
    raw_bucket, slash, raw_key = path[1:].partition("/")
    if not raw_bucket:
        return None, None, Addressing.PATH
    key = _decode(raw_key) if slash else ""
    return _decode(raw_bucket), (key or None), Addressing.PATH


def _strip_port(host: str) -> str:
    if host.startswith("["):  # IPv6 literal
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def _int_arg(query: MultiDictProxy[str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < low:
        raise S3Error(
            "InvalidArgument",
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=raw,
        )
    return min(value, high)


def _part_number(query: MultiDictProxy[str]) -> int:
    raw = query.get("partNumber", "")
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_PART_NUMBER:
        raise S3Error(
            "InvalidArgument",
            "Part number must be an integer between 1 and 10000, inclusive",
            ArgumentName="partNumber",
            ArgumentValue=raw,
        )
    return int(raw)


def _encoding_type(query: MultiDictProxy[str]) -> str | None:
    value = query.get("encoding-type")
    if value is not None and value.lower() != "url":
        raise S3Error(
            "InvalidArgument",
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=value,
        )
    return None if value is None else "url"


def _version_extra(query: MultiDictProxy[str], extra: dict[str, object] | None = None) -> dict[str, object]:
    out = dict(extra or {})
    if "versionId" in query:
        out["version_id"] = parse_version_id(query.get("versionId"))
    return out


def _bucket_operation(method: str, query: MultiDictProxy[str]) -> tuple[Operation, dict[str, object]]:
    if method == "HEAD":
        return Operation.HEAD_BUCKET, {}
    for sub, ops in _CONFIGURATIONS.items():
        if sub in query:
            if method not in ops:
                raise S3Error("MethodNotAllowed", Method=method, ResourceType=sub.upper())
            return ops[method], {}
    if method == "GET":
        if "location" in query:
            return Operation.GET_BUCKET_LOCATION, {}
        if "versioning" in query:
            return Operation.GET_BUCKET_VERSIONING, {}
        if "tagging" in query:
            raise S3Error("NotImplemented", Header="?tagging")
        if "versions" in query:
            lq = ListQuery(prefix=query.get("prefix", ""), delimiter=query.get("delimiter") or None,
                           max_keys=_int_arg(query, "max-keys", 1000, 0, 1000), encoding_type=_encoding_type(query),
                           marker=query.get("key-marker") or None,
                           version_id_marker=query.get("version-id-marker") or None)  # fmt: skip
            return Operation.LIST_OBJECT_VERSIONS, {"list_query": lq}
        if "uploads" in query:
            lq = ListQuery(
                prefix=query.get("prefix", ""),
                delimiter=query.get("delimiter") or None,
                max_keys=_int_arg(query, "max-uploads", 1000, 0, 1000),
                encoding_type=_encoding_type(query),
                marker=query.get("key-marker") or None,
                upload_id_marker=query.get("upload-id-marker") or None,
            )
            return Operation.LIST_MULTIPART_UPLOADS, {"list_query": lq}
        list_type = query.get("list-type")
        if list_type not in (None, "2"):
            raise S3Error(
                "InvalidArgument",
                "Invalid List Type specified in Request",
                ArgumentName="list-type",
                ArgumentValue=list_type,
            )
        lq = ListQuery(
            prefix=query.get("prefix", ""),
            delimiter=query.get("delimiter") or None,
            max_keys=_int_arg(query, "max-keys", 1000, 0, 1000),
            encoding_type=_encoding_type(query),
            marker=query.get("marker") or None,
            start_after=query.get("start-after") or None,
            continuation_token=query.get("continuation-token"),
            fetch_owner=query.get("fetch-owner", "false").lower() == "true",
        )
        if list_type == "2":
            return Operation.LIST_OBJECTS_V2, {"list_query": lq}
        return Operation.LIST_OBJECTS, {"list_query": lq}
    if method == "PUT":
        if "versioning" in query:
            return Operation.PUT_BUCKET_VERSIONING, {}
        if "tagging" in query:
            raise S3Error("NotImplemented", Header="?tagging")
        return Operation.CREATE_BUCKET, {}
    if method == "DELETE":
        if "tagging" in query or "versioning" in query:  # never a DeleteBucket
            raise S3Error("NotImplemented", Header="?tagging") if "tagging" in query else S3Error(
                "MethodNotAllowed", Method=method, ResourceType="VERSIONING")
        return Operation.DELETE_BUCKET, {}
    if method == "POST" and "delete" in query:
        return Operation.DELETE_OBJECTS, {}
    if method == "POST":
        return Operation.POST_OBJECT, {}
    raise S3Error("MethodNotAllowed", Method=method, ResourceType="BUCKET")


def _object_operation(
    method: str, query: MultiDictProxy[str], headers: CIMultiDictProxy[str] | Mapping[str, str]
) -> tuple[Operation, dict[str, object]]:
    bucket_only = sorted(_BUCKET_ONLY.intersection(query))
    if bucket_only:
        raise S3Error("NotImplemented", Header=f"?{bucket_only[0]}")
    upload_id = query.get("uploadId")
    if upload_id == "":
        raise S3Error("NoSuchUpload", UploadId="")
    if method in ("GET", "HEAD"):
        versioned = _version_extra(query)
        if method == "GET" and upload_id is not None:
            lq = ListQuery(
                max_keys=_int_arg(query, "max-parts", 1000, 0, 1000),
                marker=query.get("part-number-marker") or None,
                encoding_type=_encoding_type(query),
            )
            return Operation.LIST_PARTS, {"upload_id": upload_id, "list_query": lq}
        if method == "GET" and "tagging" in query:
            return Operation.GET_OBJECT_TAGGING, versioned
        if method == "GET" and "acl" in query:
            return Operation.GET_OBJECT_ACL, versioned
        if method == "GET" and "retention" in query:
            return Operation.GET_OBJECT_RETENTION, versioned
        if method == "GET" and "legal-hold" in query:
            return Operation.GET_OBJECT_LEGAL_HOLD, versioned
        if method == "GET" and "attributes" in query:
            return Operation.GET_OBJECT_ATTRIBUTES, _attributes_query(headers) | versioned
        extra: dict[str, object] = {"response_overrides": _response_overrides(query), **versioned}
        if "partNumber" in query:
            extra["part_number"] = _part_number(query)
        op = Operation.GET_OBJECT if method == "GET" else Operation.HEAD_OBJECT
        return op, extra
    if method == "PUT":
        copy_source = _copy_source(headers)
        if upload_id is not None or "partNumber" in query:
            if upload_id is None:
                raise S3Error("InvalidRequest", "partNumber requires an uploadId")
            part = _part_number(query)
            if copy_source is not None:
                rng = _copy_source_range(headers.get("x-amz-copy-source-range"))
                copy_source = CopySource(copy_source.bucket, copy_source.key, copy_source.version_id, rng)
                return Operation.UPLOAD_PART_COPY, {
                    "upload_id": upload_id,
                    "part_number": part,
                    "copy_source": copy_source,
                }
            return Operation.UPLOAD_PART, {"upload_id": upload_id, "part_number": part}
        if "tagging" in query:
            return Operation.PUT_OBJECT_TAGGING, _version_extra(query)
        if "acl" in query:
            return Operation.PUT_OBJECT_ACL, _version_extra(query)
        if "retention" in query:
            return Operation.PUT_OBJECT_RETENTION, _version_extra(query)
        if "legal-hold" in query:
            return Operation.PUT_OBJECT_LEGAL_HOLD, _version_extra(query)
        if copy_source is not None:
            return Operation.COPY_OBJECT, {"copy_source": copy_source}
        return Operation.PUT_OBJECT, {}
    if method == "POST":
        if "uploads" in query:
            return Operation.CREATE_MULTIPART_UPLOAD, {}
        if upload_id is not None:
            return Operation.COMPLETE_MULTIPART_UPLOAD, {"upload_id": upload_id}
        raise S3Error("MethodNotAllowed", Method=method, ResourceType="OBJECT")
    if method == "DELETE":
        if upload_id is not None:
            return Operation.ABORT_MULTIPART_UPLOAD, {"upload_id": upload_id}
        if "tagging" in query:
            return Operation.DELETE_OBJECT_TAGGING, _version_extra(query)
        return Operation.DELETE_OBJECT, _version_extra(query)
    raise S3Error("MethodNotAllowed", Method=method, ResourceType="OBJECT")


_OBJECT_ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


def _attributes_query(headers: CIMultiDictProxy[str] | Mapping[str, str]) -> dict[str, object]:
    """GetObjectAttributes: ``x-amz-object-attributes`` (comma-separated, checked),
    ``x-amz-max-parts`` and ``x-amz-part-number-marker``."""
    raw = headers.get("x-amz-object-attributes", "")
    names = tuple(n.strip() for n in raw.split(",") if n.strip())
    bad = [n for n in names if n not in _OBJECT_ATTRIBUTES]
    if not names or bad:
        message = "Invalid attribute name specified." if bad else "Minimum of 1 attribute is required"
        raise S3Error("InvalidArgument", message, ArgumentName="x-amz-object-attributes",
                      ArgumentValue=bad[0] if bad else raw)  # fmt: skip
    limits = MultiDict({"max-parts": headers.get("x-amz-max-parts", "1000")})
    marker = headers.get("x-amz-part-number-marker")
    if marker is not None and not marker.strip().isdigit():
        raise S3Error("InvalidArgument", "Provided part-number-marker not an integer or within integer range",
                      ArgumentName="x-amz-part-number-marker", ArgumentValue=marker)  # fmt: skip
    lq = ListQuery(max_keys=_int_arg(MultiDictProxy(limits), "max-parts", 1000, 0, 1000),
                   marker=marker.strip() if marker else None)  # fmt: skip
    return {"object_attributes": names, "list_query": lq}


def _copy_source(headers: CIMultiDictProxy[str] | Mapping[str, str]) -> CopySource | None:
    raw = headers.get("x-amz-copy-source")
    if raw is None:
        return None
    path, _, raw_query = raw.partition("?")
    path = _decode(path).lstrip("/")
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise S3Error(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=raw,
        )
    check_bucket_name(bucket)
    check_key(key)
    return CopySource(bucket, key, parse_version_id(parse_query(raw_query).get("versionId"), "x-amz-copy-source"))


_COPY_RANGE_RE = re.compile(r"^bytes=(\d+)-(\d+)$")


def _copy_source_range(raw: str | None) -> tuple[int, int] | None:
    if raw is None:
        return None
    m = _COPY_RANGE_RE.match(raw.strip())
    if m is None or int(m.group(1)) > int(m.group(2)):
        raise S3Error(
            "InvalidArgument",
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
            "and last are the zero-based offsets of the first and last bytes to copy",
            ArgumentName="x-amz-copy-source-range",
            ArgumentValue=raw,
        )
    return int(m.group(1)), int(m.group(2))
