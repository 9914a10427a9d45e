"""The LifecycleConfiguration document: parsed and checked as AWS checks it, and written back.

Errors as AWS sends them: a document that is not XML, or does not fit the schema (an
unknown element, ``Status`` other than Enabled/Disabled, both a top-level ``Prefix`` and a
``Filter``, a ``Filter`` with two conditions outside ``And``, ``Expiration`` with both
``Days`` and ``Date``) is ``MalformedXML``; values the schema allows but S3 refuses
(``Days`` ≤ 0, a ``Date`` not at midnight UTC, two rules with one ``ID``) are
``InvalidArgument``; combinations S3 refuses (a rule without an action, tags with
``AbortIncompleteMultipartUpload``) are ``InvalidRequest``. Transitions name storage
classes Geoshard does not have: ``InvalidStorageClass``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from urllib.parse import quote

from common.lifecycle_rules import LifecycleRule, RuleFilter
from gateway.s3 import xml
from gateway.s3.errors import S3Error
from gateway.s3.http import http_date

__all__ = ["MAX_RULES", "expiration_header", "lifecycle_configuration", "parse_lifecycle_configuration"]

MAX_RULES = 1000
MAX_ID = 255
# The storage classes S3's schema names: a transition to one of them is a class Geoshard has not.
_AWS_CLASSES = frozenset({"GLACIER", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "DEEP_ARCHIVE",
                          "GLACIER_IR"})  # fmt: skip
_RULE_ELEMENTS = frozenset({"ID", "Prefix", "Filter", "Status", "Expiration", "NoncurrentVersionExpiration",
                            "AbortIncompleteMultipartUpload", "Transition", "NoncurrentVersionTransition"})  # fmt: skip


def _malformed() -> S3Error:
    return S3Error("MalformedXML")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _one(el: ET.Element, name: str) -> ET.Element | None:
    found = [c for c in el if _local(c.tag) == name]
    if len(found) > 1:
        raise _malformed()
    return found[0] if found else None


def _text(el: ET.Element, name: str) -> str | None:
    child = _one(el, name)
    return None if child is None else (child.text or "").strip()


def _int(el: ET.Element, name: str) -> int | None:
    raw = _text(el, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _malformed() from None


def _positive(value: int | None, name: str, action: str) -> int | None:
    if value is not None and value <= 0:
        raise S3Error("InvalidArgument", f"'{name}' for {action} action must be a positive integer")
    return value


def _tag(el: ET.Element) -> tuple[str, str]:
    key, value = _text(el, "Key"), _text(el, "Value")
    if key is None or value is None or any(_local(c.tag) not in ("Key", "Value") for c in el):
        raise _malformed()
    return key, value


def _size(el: ET.Element, name: str) -> int | None:
    value = _int(el, name)
    if value is not None and value < 0:
        raise S3Error("InvalidArgument", f"'{name}' should be a non-negative integer")
    return value


def _filter(rule: ET.Element) -> RuleFilter:
    legacy, filt = _text(rule, "Prefix"), _one(rule, "Filter")
    if legacy is not None and filt is not None:
        raise _malformed()
    if legacy is not None:
        return RuleFilter("legacy", legacy)
    if filt is None:
        return RuleFilter("none")
    names = [_local(c.tag) for c in filt]
    if len(names) > 1 or any(n not in ("Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan")
                             for n in names):  # fmt: skip
        raise _malformed()
    if not names:
        return RuleFilter("empty")
    if names[0] == "Prefix":
        return RuleFilter("prefix", _text(filt, "Prefix") or "")
    if names[0] == "Tag":
        tag_el = _one(filt, "Tag")
        assert tag_el is not None
        return RuleFilter("tag", tags=(_tag(tag_el),))
    if names[0] == "ObjectSizeGreaterThan":
        return RuleFilter("gt", size_gt=_size(filt, "ObjectSizeGreaterThan"))
    if names[0] == "ObjectSizeLessThan":
        return RuleFilter("lt", size_lt=_size(filt, "ObjectSizeLessThan"))
    and_el = _one(filt, "And")
    assert and_el is not None
    if any(_local(c.tag) not in ("Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan") for c in and_el):
        raise _malformed()
    tags = tuple(_tag(c) for c in and_el if _local(c.tag) == "Tag")
    if len({k for k, _ in tags}) != len(tags):
        raise S3Error("InvalidRequest", "Duplicate Tag Keys are not allowed.")
    gt, lt = _size(and_el, "ObjectSizeGreaterThan"), _size(and_el, "ObjectSizeLessThan")
    if gt is not None and lt is not None and gt >= lt:
        raise S3Error("InvalidArgument", "ObjectSizeLessThan must be greater than ObjectSizeGreaterThan")
    return RuleFilter("and", _text(and_el, "Prefix") or "", tags, gt, lt)


def _date(raw: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _malformed() from None
    when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    if (when.hour, when.minute, when.second, when.microsecond) != (0, 0, 0, 0):
        raise S3Error("InvalidArgument", "'Date' must be at midnight GMT")
    return when


def _transition(el: ET.Element) -> None:
    storage_class = _text(el, "StorageClass")
    if storage_class not in _AWS_CLASSES:
        raise _malformed()
    raise S3Error("InvalidStorageClass")


def _rule(el: ET.Element) -> LifecycleRule:
    if any(_local(c.tag) not in _RULE_ELEMENTS for c in el):
        raise _malformed()
    rule_id = _text(el, "ID")
    if rule_id is not None and len(rule_id) > MAX_ID:
        raise S3Error("InvalidArgument", f"ID length should not exceed allowed limit of {MAX_ID}")
    status = _text(el, "Status")
    if status not in ("Enabled", "Disabled"):
        raise _malformed()
    filt = _filter(el)
    days = date = marker = None
    expiration = _one(el, "Expiration")
    if expiration is not None:
        if any(_local(c.tag) not in ("Days", "Date", "ExpiredObjectDeleteMarker") for c in expiration):
            raise _malformed()
        days, raw_date, raw_marker = _int(expiration, "Days"), _text(expiration, "Date"), \
            _text(expiration, "ExpiredObjectDeleteMarker")  # fmt: skip
        if sum(v is not None for v in (days, raw_date, raw_marker)) != 1 or raw_marker not in (None, "true", "false"):
            raise _malformed()
        _positive(days, "Days", "Expiration")
        date = None if raw_date is None else _date(raw_date)
        marker = None if raw_marker is None else raw_marker == "true"
        if marker is not None and filt.tags:
            raise S3Error("InvalidRequest", "ExpiredObjectDeleteMarker cannot be specified with Tags.")
    noncurrent_days = newer = None
    noncurrent = _one(el, "NoncurrentVersionExpiration")
    if noncurrent is not None:
        if any(_local(c.tag) not in ("NoncurrentDays", "NewerNoncurrentVersions") for c in noncurrent):
            raise _malformed()
        noncurrent_days = _int(noncurrent, "NoncurrentDays")
        if noncurrent_days is None:
            raise _malformed()
        _positive(noncurrent_days, "NoncurrentDays", "NoncurrentVersionExpiration")
        newer = _positive(_int(noncurrent, "NewerNoncurrentVersions"), "NewerNoncurrentVersions",
                          "NoncurrentVersionExpiration")  # fmt: skip
    abort_days = None
    abort = _one(el, "AbortIncompleteMultipartUpload")
    if abort is not None:
        if any(_local(c.tag) != "DaysAfterInitiation" for c in abort):
            raise _malformed()
        abort_days = _int(abort, "DaysAfterInitiation")
        if abort_days is None:
            raise _malformed()
        _positive(abort_days, "DaysAfterInitiation", "AbortIncompleteMultipartUpload")
        if filt.tags:
            raise S3Error("InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Tags.")
    for name in ("Transition", "NoncurrentVersionTransition"):
        for t in (c for c in el if _local(c.tag) == name):
            _transition(t)
    if expiration is None and noncurrent is None and abort is None:
        raise S3Error("InvalidRequest", "At least one action needs to be specified in a rule")
    # A rule without an ID gets one, as at AWS (Get then shows it).
    return LifecycleRule(rule_id or secrets.token_urlsafe(36)[:48], status == "Enabled", filt, days, date, marker,
                         noncurrent_days, newer, abort_days)  # fmt: skip


def parse_lifecycle_configuration(body: bytes) -> list[LifecycleRule]:
    """PutBucketLifecycleConfiguration's document: 1 to 1000 rules with unique IDs."""
    root = xml.parse_document(body, "LifecycleConfiguration")
    if any(_local(c.tag) != "Rule" for c in root):
        raise _malformed()
    elements = list(root)
    if not elements:
        raise _malformed()
    if len(elements) > MAX_RULES:
        raise S3Error("InvalidRequest", f"The number of lifecycle rules should not exceed allowed limit of "
                                        f"{MAX_RULES} rules")  # fmt: skip
    rules = [_rule(el) for el in elements]
    if len({r.id for r in rules}) != len(rules):
        raise S3Error("InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule")
    return rules


def _add(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _add_tag(parent: ET.Element, key: str, value: str) -> None:
    t = _add(parent, "Tag")
    _add(t, "Key", key)
    _add(t, "Value", value)


def _write_filter(el: ET.Element, f: RuleFilter) -> None:
    if f.form == "legacy":
        _add(el, "Prefix", f.prefix)
        return
    if f.form == "none":
        return
    filt = _add(el, "Filter")
    if f.form == "prefix":
        _add(filt, "Prefix", f.prefix)
    elif f.form == "tag":
        _add_tag(filt, *f.tags[0])
    elif f.form == "gt":
        _add(filt, "ObjectSizeGreaterThan", f.size_gt)
    elif f.form == "lt":
        _add(filt, "ObjectSizeLessThan", f.size_lt)
    elif f.form == "and":
        a = _add(filt, "And")
        if f.prefix:
            _add(a, "Prefix", f.prefix)
        for k, v in f.tags:
            _add_tag(a, k, v)
        if f.size_gt is not None:
            _add(a, "ObjectSizeGreaterThan", f.size_gt)
        if f.size_lt is not None:
            _add(a, "ObjectSizeLessThan", f.size_lt)


def lifecycle_configuration(rules: Sequence[LifecycleRule]) -> bytes:
    """GetBucketLifecycleConfiguration's document."""
    root = ET.Element("LifecycleConfiguration", xmlns=xml.NS)
    for r in rules:
        el = _add(root, "Rule")
        _add(el, "ID", r.id)
        _write_filter(el, r.filter)
        _add(el, "Status", "Enabled" if r.enabled else "Disabled")
        if r.expiration_days is not None or r.expiration_date is not None or r.expired_object_delete_marker is not None:
            e = _add(el, "Expiration")
            if r.expiration_days is not None:
                _add(e, "Days", r.expiration_days)
            if r.expiration_date is not None:
                _add(e, "Date", xml.iso8601(r.expiration_date))
            if r.expired_object_delete_marker is not None:
                _add(e, "ExpiredObjectDeleteMarker", "true" if r.expired_object_delete_marker else "false")
        if r.noncurrent_days is not None:
            n = _add(el, "NoncurrentVersionExpiration")
            _add(n, "NoncurrentDays", r.noncurrent_days)
            if r.newer_noncurrent_versions is not None:
                _add(n, "NewerNoncurrentVersions", r.newer_noncurrent_versions)
        if r.abort_days is not None:
            _add(_add(el, "AbortIncompleteMultipartUpload"), "DaysAfterInitiation", r.abort_days)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)


def expiration_header(when: dt.datetime, rule_id: str) -> str:
    """``x-amz-expiration``'s value: ``expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="..."``,
    the rule id URL-encoded as AWS sends it (an ID may hold a quote or a comma)."""
    return f'expiry-date="{http_date(when)}", rule-id="{quote(rule_id, safe="")}"'
