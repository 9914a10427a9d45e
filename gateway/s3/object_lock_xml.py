"""Object Lock's request documents, response documents and headers, as S3 spells them.

``PutObjectLockConfiguration`` / ``GetObjectLockConfiguration`` carry an
``ObjectLockConfiguration``; ``PutObjectRetention`` / ``GetObjectRetention`` a ``Retention``;
``PutObjectLegalHold`` / ``GetObjectLegalHold`` a ``LegalHold``. A write (PUT, COPY,
CreateMultipartUpload) may name a version's lock in ``x-amz-object-lock-*`` headers, and
GET / HEAD answer with the same headers. Errors are AWS's: an unknown mode or status in a
document, Days with Years, or a configuration that is not ``Enabled`` is ``MalformedXML``; a
non-positive period is ``InvalidRetentionPeriod``; bad headers are ``InvalidArgument``.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from common.objectlock import DefaultRetention, LockConfiguration, LockMode, VersionLock
from gateway.s3.errors import S3Error
from gateway.s3.xml import NS, iso8601, parse_document

__all__ = [
    "legal_hold_xml",
    "lock_configuration_xml",
    "lock_from_headers",
    "lock_headers",
    "parse_legal_hold",
    "parse_lock_configuration",
    "parse_retention",
    "retention_xml",
]

MODE_HEADER = "x-amz-object-lock-mode"
UNTIL_HEADER = "x-amz-object-lock-retain-until-date"
HOLD_HEADER = "x-amz-object-lock-legal-hold"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _only(el: ET.Element, name: str) -> ET.Element | None:
    found = [c for c in el if _local(c.tag) == name]
    if len(found) > 1:
        raise S3Error("MalformedXML")
    return found[0] if found else None


def _text(el: ET.Element, name: str) -> str | None:
    child = _only(el, name)
    return None if child is None else (child.text or "").strip()


def _mode(value: str | None) -> LockMode:
    try:
        return LockMode(value or "")  # case matters: "governance" is refused, as AWS does
    except ValueError:
        raise S3Error("MalformedXML") from None


def _date(value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise S3Error("MalformedXML") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _period(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        raise S3Error("MalformedXML") from None
    if n <= 0:
        raise S3Error("InvalidRetentionPeriod", "Default retention period must be a positive integer value.")
    return n


def parse_lock_configuration(body: bytes) -> LockConfiguration:
    root = parse_document(body, "ObjectLockConfiguration")
    if _text(root, "ObjectLockEnabled") != "Enabled":
        raise S3Error("MalformedXML")
    rule = _only(root, "Rule")
    if rule is None:
        return LockConfiguration()
    default = _only(rule, "DefaultRetention")
    if default is None:
        raise S3Error("MalformedXML")
    mode = _mode(_text(default, "Mode"))
    days, years = _period(_text(default, "Days")), _period(_text(default, "Years"))
    if (days is None) == (years is None):
        raise S3Error("MalformedXML")  # exactly one of Days and Years
    return LockConfiguration(DefaultRetention(mode, days, years))


def _root(tag: str) -> ET.Element:
    return ET.Element(tag, xmlns=NS)


def _add(parent: ET.Element, tag: str, text: object) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = str(text)
    return el


def _bytes(root: ET.Element) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


def lock_configuration_xml(config: LockConfiguration) -> bytes:
    root = _root("ObjectLockConfiguration")
    _add(root, "ObjectLockEnabled", "Enabled")
    if config.default is not None:
        default = ET.SubElement(ET.SubElement(root, "Rule"), "DefaultRetention")
        _add(default, "Mode", config.default.mode.value)
        if config.default.days is not None:
            _add(default, "Days", config.default.days)
        else:
            _add(default, "Years", config.default.years)
    return _bytes(root)


def parse_retention(body: bytes) -> tuple[LockMode | None, dt.datetime | None]:
    """A ``Retention`` document: both mode and date, or neither (removing the retention)."""
    root = parse_document(body, "Retention")
    mode, until = _text(root, "Mode"), _text(root, "RetainUntilDate")
    if mode is None and until is None:
        return None, None
    if mode is None or until is None:
        raise S3Error("MalformedXML")
    return _mode(mode), _date(until)


def retention_xml(lock: VersionLock) -> bytes:
    root = _root("Retention")
    if lock.mode is not None and lock.until is not None:
        _add(root, "Mode", lock.mode.value)
        _add(root, "RetainUntilDate", iso8601(lock.until))
    return _bytes(root)


def parse_legal_hold(body: bytes) -> bool:
    status = _text(parse_document(body, "LegalHold"), "Status")
    if status not in ("ON", "OFF"):
        raise S3Error("MalformedXML")
    return status == "ON"


def legal_hold_xml(on: bool) -> bytes:
    root = _root("LegalHold")
    _add(root, "Status", "ON" if on else "OFF")
    return _bytes(root)


def lock_from_headers(headers: Mapping[str, str], now: dt.datetime) -> VersionLock | None:
    """A write's own lock from its ``x-amz-object-lock-*`` headers (None: it names none)."""
    mode, until, hold = headers.get(MODE_HEADER), headers.get(UNTIL_HEADER), headers.get(HOLD_HEADER)
    if mode is None and until is None and hold is None:
        return None
    if (mode is None) != (until is None):
        raise S3Error(
            "InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
        )
    lock_mode, when = None, None
    if mode is not None and until is not None:
        try:
            lock_mode = LockMode(mode.strip().upper())
        except ValueError:
            raise S3Error("InvalidArgument", "Unknown wormMode directive.", ArgumentName=MODE_HEADER,
                          ArgumentValue=mode) from None  # fmt: skip
        try:
            when = _date(until)
        except S3Error:
            raise S3Error("InvalidArgument", "The retain until date must be provided in ISO 8601 format",
                          ArgumentName=UNTIL_HEADER, ArgumentValue=until) from None  # fmt: skip
        if when <= now:
            raise S3Error("InvalidArgument", "The retain until date must be in the future!",
                          ArgumentName=UNTIL_HEADER, ArgumentValue=until)  # fmt: skip
    on = False
    if hold is not None:
        if hold.strip().upper() not in ("ON", "OFF"):
            raise S3Error("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'",
                          ArgumentName=HOLD_HEADER, ArgumentValue=hold)  # fmt: skip
        on = hold.strip().upper() == "ON"
    return VersionLock(lock_mode, when, on)


def lock_headers(lock: VersionLock) -> dict[str, str]:
    """What GET and HEAD send about a version's lock (nothing for a version that never had one)."""
    out: dict[str, str] = {}
    if lock.mode is not None and lock.until is not None:
        out[MODE_HEADER] = lock.mode.value
        out[UNTIL_HEADER] = iso8601(lock.until)
    if lock.legal_hold:
        out[HOLD_HEADER] = "ON"
    return out
