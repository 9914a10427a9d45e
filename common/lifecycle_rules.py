"""A bucket's lifecycle rules: the stored form, which objects a rule selects, and when they expire.

The gateway parses ``PutBucketLifecycleConfiguration`` into these rules (``gateway/s3/lifecycle_xml.py``)
and stores their JSON as the bucket's ``lifecycle`` setting; the gateway reads them back to
announce ``x-amz-expiration`` / ``x-amz-abort-date``, and the satellite's lifecycle chore
(``satellite/lifecycle``) applies them. Both sides compute dates here, so what a GET announces
is what the chore does. Pure code: no I/O.

Days are counted as AWS counts them: an object created at ``t`` with ``Days=N`` expires at
the first midnight UTC at or after ``t + N days``. ``day_seconds`` (the devnet knob
``lifecycle_day_seconds``) shortens a "day": with any value but 86,400 the expiry is exactly
``t + N * day_seconds``, without rounding, so a person can watch a rule work in seconds.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DAY_SECONDS",
    "DAY_SECONDS_ENV",
    "SETTING",
    "LifecycleRule",
    "RuleFilter",
    "abort_date",
    "after_days",
    "default_day_seconds",
    "expired_marker_rule",
    "noncurrent_expiration",
    "object_expiration",
    "rules_from_json",
    "rules_to_json",
]

DAY_SECONDS = 86_400
SETTING = "lifecycle"  # the bucket setting the rules are stored under
DAY_SECONDS_ENV = "GEOSHARD_LIFECYCLE_DAY_SECONDS"


def default_day_seconds() -> int:
    """A lifecycle "day" in seconds: 86,400 unless ``GEOSHARD_LIFECYCLE_DAY_SECONDS`` says
    otherwise (devnet's ``--lifecycle-day-seconds`` sets it for the satellite and the gateway)."""
    raw = os.environ.get(DAY_SECONDS_ENV, "")
    value = int(raw) if raw.strip() else DAY_SECONDS
    if value <= 0:
        raise ValueError(f"{DAY_SECONDS_ENV} must be a positive number of seconds")
    return value


@dataclass(frozen=True)
class RuleFilter:
    """What a rule selects. ``form`` remembers how the document said it, so that Get answers
    the shape Put was given: ``legacy`` (a top-level ``Prefix``), ``none`` (no filter at all),
    ``empty`` (``<Filter/>``), ``prefix``, ``tag``, ``and``, ``gt`` or ``lt`` (a lone size bound)."""

    form: str = "none"
    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_gt: int | None = None  # ObjectSizeGreaterThan (strictly)
    size_lt: int | None = None  # ObjectSizeLessThan (strictly)

    def matches(self, key: str, tags: Mapping[str, Any] | None = None, size: int | None = None) -> bool:
        """``size`` None (an upload, whose size is not known yet) passes the size bounds."""
        if not key.startswith(self.prefix):
            return False
        have = tags or {}
        if any(str(have.get(k, "\0")) != v for k, v in self.tags):
            return False
        if size is not None and self.size_gt is not None and not size > self.size_gt:
            return False
        return not (size is not None and self.size_lt is not None and not size < self.size_lt)


@dataclass(frozen=True)
class LifecycleRule:
    id: str
    enabled: bool
    filter: RuleFilter = field(default_factory=RuleFilter)
    expiration_days: int | None = None
    expiration_date: dt.datetime | None = None  # midnight UTC
    expired_object_delete_marker: bool | None = None
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_days: int | None = None  # AbortIncompleteMultipartUpload DaysAfterInitiation

    def expires_at(self, created_at: dt.datetime, day_seconds: int = DAY_SECONDS) -> dt.datetime | None:
        """When a current object this rule selects expires (None: the rule does not expire it)."""
        if self.expiration_date is not None:
            return self.expiration_date
        if self.expiration_days is not None:
            return after_days(created_at, self.expiration_days, day_seconds)
        return None

    def to_json(self) -> dict[str, Any]:
        f = self.filter
        return {
            "id": self.id, "enabled": self.enabled,
            "filter": {"form": f.form, "prefix": f.prefix, "tags": [list(t) for t in f.tags],
                       "size_gt": f.size_gt, "size_lt": f.size_lt},
            "expiration_days": self.expiration_days,
            "expiration_date": None if self.expiration_date is None else self.expiration_date.isoformat(),
            "expired_object_delete_marker": self.expired_object_delete_marker,
            "noncurrent_days": self.noncurrent_days,
            "newer_noncurrent_versions": self.newer_noncurrent_versions,
            "abort_days": self.abort_days,
        }  # fmt: skip

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LifecycleRule:
        f = d.get("filter") or {}
        date = d.get("expiration_date")
        return cls(
            id=str(d["id"]), enabled=bool(d["enabled"]),
            filter=RuleFilter(str(f.get("form", "none")), str(f.get("prefix", "")),
                              tuple((str(k), str(v)) for k, v in f.get("tags") or ()), f.get("size_gt"),
                              f.get("size_lt")),
            expiration_days=d.get("expiration_days"),
            expiration_date=None if date is None else dt.datetime.fromisoformat(date),
            expired_object_delete_marker=d.get("expired_object_delete_marker"),
            noncurrent_days=d.get("noncurrent_days"),
            newer_noncurrent_versions=d.get("newer_noncurrent_versions"),
            abort_days=d.get("abort_days"),
        )  # fmt: skip


def rules_to_json(rules: Sequence[LifecycleRule]) -> dict[str, Any]:
    return {"rules": [r.to_json() for r in rules]}


def rules_from_json(doc: Mapping[str, Any] | None) -> list[LifecycleRule]:
    """The rules of a stored ``lifecycle`` setting (none for a bucket without one)."""
    return [LifecycleRule.from_json(r) for r in (doc or {}).get("rules", [])]


def after_days(start: dt.datetime, days: int, day_seconds: int = DAY_SECONDS) -> dt.datetime:
    """``start`` plus ``days``, rounded up to midnight UTC as AWS does (not with a shortened day)."""
    end = start.astimezone(dt.UTC) + dt.timedelta(seconds=days * day_seconds)
    if day_seconds != DAY_SECONDS:
        return end
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == end else midnight + dt.timedelta(days=1)


def object_expiration(
    rules: Sequence[LifecycleRule], key: str, tags: Mapping[str, Any] | None, size: int, created_at: dt.datetime,
    day_seconds: int = DAY_SECONDS,
) -> tuple[dt.datetime, str] | None:
    """The earliest (expiry, rule id) of the enabled rules that expire this current object."""
    best: tuple[dt.datetime, str] | None = None
    for r in rules:
        if not r.enabled or not r.filter.matches(key, tags, size):
            continue
        at = r.expires_at(created_at, day_seconds)
        if at is not None and (best is None or at < best[0]):
            best = (at, r.id)
    return best


def abort_date(rules: Sequence[LifecycleRule], key: str, initiated: dt.datetime,
               day_seconds: int = DAY_SECONDS) -> tuple[dt.datetime, str] | None:  # fmt: skip
    """The earliest (abort date, rule id) of the enabled AbortIncompleteMultipartUpload rules for ``key``."""
    best: tuple[dt.datetime, str] | None = None
    for r in rules:
        if not r.enabled or r.abort_days is None or not r.filter.matches(key):
            continue
        at = after_days(initiated, r.abort_days, day_seconds)
        if best is None or at < best[0]:
            best = (at, r.id)
    return best


def noncurrent_expiration(
    rules: Sequence[LifecycleRule], key: str, tags: Mapping[str, Any] | None, size: int | None,
    noncurrent_since: dt.datetime, newer_noncurrent: int, day_seconds: int = DAY_SECONDS,
) -> tuple[dt.datetime, str] | None:
    """The earliest (expiry, rule id) of the enabled ``NoncurrentVersionExpiration`` rules that
    remove this noncurrent version for good. ``noncurrent_since`` is when it became noncurrent
    (its successor's creation, as AWS counts); ``newer_noncurrent`` how many noncurrent versions
    of its key are newer: a rule with ``NewerNoncurrentVersions=N`` keeps the N newest. The
    filter is matched against the version's own tags and size (None for a delete marker,
    which has neither: size bounds pass it, tag filters do not)."""
    best: tuple[dt.datetime, str] | None = None
    for r in rules:
        if not r.enabled or r.noncurrent_days is None or not r.filter.matches(key, tags, size):
            continue
        if newer_noncurrent < (r.newer_noncurrent_versions or 0):
            continue
        at = after_days(noncurrent_since, r.noncurrent_days, day_seconds)
        if best is None or at < best[0]:
            best = (at, r.id)
    return best


def expired_marker_rule(rules: Sequence[LifecycleRule], key: str) -> str | None:
    """The id of the first enabled ``ExpiredObjectDeleteMarker=true`` rule selecting ``key``
    (AWS allows no tag filter with it; a marker has no size, so size bounds pass it)."""
    for r in rules:
        if r.enabled and r.expired_object_delete_marker and r.filter.matches(key, {}, None):
            return r.id
    return None
