"""Small, pure HTTP rules of S3 that GET/HEAD/PUT/Copy handlers apply.

* :func:`parse_range`: ``Range: bytes=a-b | a- | -n`` against an object size. As on AWS,
  a header that is not a single well-formed byte range (several ranges, another unit,
  garbage) is ignored and the whole object is served; a well-formed range that starts at
  or past the end (or a zero-length suffix) is ``InvalidRange`` (416) with
  ``Content-Range: bytes */size``. :func:`parse_range_spec` is its first half, for a
  handler that must name the range before it knows the size (GetObject asks the
  satellite for the range's segments); :meth:`RangeSpec.resolve` is the second.
* :func:`check_conditions`: ``If-Match``, ``If-None-Match``, ``If-Modified-Since``,
  ``If-Unmodified-Since`` with RFC 7232's precedence, which is AWS's: ``If-Match`` true
  makes ``If-Unmodified-Since`` irrelevant; ``If-None-Match`` false means 304 on GET/HEAD
  (412 on writes) whatever ``If-Modified-Since`` says; ``If-Modified-Since`` is only
  looked at when there is no ``If-None-Match``. The copy-source variant
  (``x-amz-copy-source-if-*``) answers 412 ``PreconditionFailed`` where GET answers 304.
* :func:`user_metadata` (``x-amz-meta-*``, at most 2 KB → ``MetadataTooLarge``),
  :func:`http_date`/:func:`parse_http_date`, and :func:`apply_overrides` for the
  ``response-*`` query parameters.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from gateway.s3.errors import S3Error

__all__ = [
    "MAX_METADATA_BYTES",
    "ByteRange",
    "RangeSpec",
    "apply_overrides",
    "check_conditions",
    "check_copy_source_conditions",
    "http_date",
    "mail_safe",
    "parse_http_date",
    "parse_range",
    "parse_range_spec",
    "user_metadata",
]

MAX_METADATA_BYTES = 2048
_RANGE_RE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """An inclusive byte range ``[start, end]`` of an object of ``size`` bytes."""

    start: int
    end: int
    size: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.end}/{self.size}"


@dataclass(frozen=True, slots=True)
class RangeSpec:
    """A well-formed ``bytes=`` range before the object size is known: ``start``/``end``
    (``end`` None for ``a-``), or ``suffix`` (the last ``n`` bytes)."""

    header: str
    start: int | None = None
    end: int | None = None
    suffix: int | None = None

    def resolve(self, size: int) -> ByteRange:
        """The inclusive range within an object of ``size`` bytes, or ``InvalidRange``."""
        if self.suffix is not None:
            if self.suffix == 0 or size == 0:
                raise _unsatisfiable(self.header, size)
            return ByteRange(max(0, size - self.suffix), size - 1, size)
        start = self.start or 0
        if start >= size:
            raise _unsatisfiable(self.header, size)
        end = size - 1 if self.end is None else min(self.end, size - 1)
        return ByteRange(start, end, size)


def parse_range_spec(header: str | None) -> RangeSpec | None:
    """The header's single byte range, or ``None`` when AWS would ignore the header."""
    if header is None:
        return None
    m = _RANGE_RE.match(header)
    if m is None:
        return None  # several ranges or bad syntax: AWS ignores the header
    first, last = m.group(1), m.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last n bytes
        return RangeSpec(header, suffix=int(last))
    start = int(first)
    end = int(last) if last else None
    if end is not None and end < start:
        return None  # RFC 7233: syntactically invalid, ignored
    return RangeSpec(header, start, end)


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range to serve (206), ``None`` for the whole object (200), or ``InvalidRange``."""
    spec = parse_range_spec(header)
    return None if spec is None else spec.resolve(size)


def _unsatisfiable(header: str, size: int) -> S3Error:
    return S3Error(
        "InvalidRange",
        headers={"Content-Range": f"bytes */{size}"},
        RangeRequested=header,
        ActualObjectSize=size,
    )


# --- dates ----------------------------------------------------------------------------


def http_date(ts: datetime) -> str:
    """RFC 7231 date (``Last-Modified``, ``Expires``): ``Wed, 12 Oct 2009 17:50:00 GMT``."""
    return format_datetime(ts.astimezone(UTC).replace(microsecond=0), usegmt=True)


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date, or ``None`` if absent or unparseable (conditions then do not apply)."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- conditional requests -------------------------------------------------------------


def _etag_matches(header: str, etag: str) -> bool:
    bare = etag.strip('"')
    for candidate in header.split(","):
        c = candidate.strip()
        if c == "*" or c.removeprefix("W/").strip('"') == bare:
            return True
    return False


def _evaluate(headers: Mapping[str, str], prefix: str, etag: str, last_modified: datetime) -> tuple[str, str] | None:
    """``("412" | "304", failed header name)`` or None, per RFC 7232 §6."""
    modified = last_modified.astimezone(UTC).replace(microsecond=0)
    if_match = headers.get(prefix + "if-match")
    if if_match is not None:
        if not _etag_matches(if_match, etag):
            return "412", "If-Match"
    else:
        since = parse_http_date(headers.get(prefix + "if-unmodified-since"))
        if since is not None and modified > since:
            return "412", "If-Unmodified-Since"
    if_none = headers.get(prefix + "if-none-match")
    if if_none is not None:
        if _etag_matches(if_none, etag):
            return "304", "If-None-Match"
    else:
        since = parse_http_date(headers.get(prefix + "if-modified-since"))
        if since is not None and modified <= since:
            return "304", "If-Modified-Since"
    return None


def check_conditions(headers: Mapping[str, str], etag: str, last_modified: datetime, *, method: str = "GET") -> None:
    """Raise ``PreconditionFailed`` (412) or ``NotModified`` (304, GET/HEAD only; 412 for
    other methods) if the request's conditions do not hold for this object."""
    outcome = _evaluate(headers, "", etag, last_modified)
    if outcome is None:
        return
    status, condition = outcome
    if status == "304" and method in ("GET", "HEAD"):
        raise S3Error("NotModified", headers={"ETag": etag, "Last-Modified": http_date(last_modified)})
    raise S3Error("PreconditionFailed", Condition=condition)


def check_copy_source_conditions(headers: Mapping[str, str], etag: str, last_modified: datetime) -> None:
    """``x-amz-copy-source-if-*`` against the source object: any failure is 412."""
    outcome = _evaluate(headers, "x-amz-copy-source-", etag, last_modified)
    if outcome is not None:
        raise S3Error("PreconditionFailed", Condition="x-amz-copy-source-" + outcome[1])


# --- metadata and overrides -----------------------------------------------------------


def _header_text(value: str) -> str:
    """A received header value as text. aiohttp decodes header bytes as UTF-8 with
    ``surrogateescape``; bytes that are not UTF-8 are read as Latin-1 (HTTP's obs-text)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("latin-1")
    return value


def mail_safe(value: str) -> str:
    """A user-metadata value as AWS returns it: as stored if ASCII, else RFC 2047-encoded
    (``=?UTF-8?B?…?=``), which keeps the header ASCII and round-trips through any client."""
    if value.isascii():
        return value
    return "=?UTF-8?B?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def user_metadata(headers: Mapping[str, str]) -> dict[str, str]:
    """``x-amz-meta-*`` headers as ``{name: value}`` (names lower-cased, without the prefix).

    Values are stored as sent: raw UTF-8 as text, an RFC 2047 word as its ASCII (as AWS
    does; GET encodes non-ASCII values with :func:`mail_safe`). AWS counts the UTF-8 bytes
    of names and values and refuses more than 2 KB."""
    meta: dict[str, str] = {}
    for name, raw in headers.items():
        lname = name.lower()
        if lname.startswith("x-amz-meta-"):
            key, value = lname[len("x-amz-meta-") :], _header_text(raw)
            meta[key] = f"{meta[key]},{value}" if key in meta else value
    size = sum(len(k.encode()) + len(v.encode()) for k, v in meta.items())
    if size > MAX_METADATA_BYTES:
        raise S3Error("MetadataTooLarge", Size=size, MaxSizeAllowed=MAX_METADATA_BYTES)
    return meta


def apply_overrides(headers: dict[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The GET response headers with the ``response-*`` overrides of the request applied
    (``Endpoint.response_overrides`` maps header name to value)."""
    return {**headers, **overrides}
