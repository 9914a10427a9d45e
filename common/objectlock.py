"""Object Lock (WORM), as S3 defines it: pure rules, no storage, shared by gateway and satellite.

A bucket created with Object Lock has versioning on for good and may carry a *default
retention* (GOVERNANCE or COMPLIANCE, for whole days or years), which every new version gets
unless its write names a retention of its own. A version's lock is its retention (mode and
retain-until date) and its legal hold, each independent of the other:

* a version under **legal hold** cannot be deleted by anyone, with or without a bypass, until
  the hold is lifted (``PutObjectLegalHold`` OFF);
* a version under **COMPLIANCE** retention cannot be deleted by anyone until its date, and its
  retention can only be extended — never shortened, never switched to GOVERNANCE, never removed;
* a version under **GOVERNANCE** retention is protected the same way, except that a request
  carrying ``x-amz-bypass-governance-retention: true`` from a requester allowed
  ``s3:BypassGovernanceRetention`` may delete it, shorten or remove its retention, or change its
  mode.

Retention protects *versions*, not keys: a DELETE without a version id in a lock bucket only
adds a delete marker, which is always allowed. Every deletion route the satellite has —
the S3 API, DeleteObjects, the admin API, lifecycle, deleting a bucket or a tenant, and the
garbage collector that builds the nodes' retain lists from the versions that exist — asks
:func:`check_delete` (or refuses outright where nothing can bypass), so a locked version's
pieces never reach a node's delete list.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from common.errors import GeoshardError

__all__ = [
    "LOCKED_MESSAGE",
    "MISSING_LOCK_MESSAGE",
    "DefaultRetention",
    "LockConfiguration",
    "LockMode",
    "ObjectLocked",
    "VersionLock",
    "check_delete",
    "check_retention_change",
    "lock_for_new_version",
]

# AWS's words for every refusal that Object Lock causes (403 AccessDenied).
LOCKED_MESSAGE = "Access Denied because object protected by object lock."
# AWS's words for a lock request on a bucket without Object Lock (400 InvalidRequest).
MISSING_LOCK_MESSAGE = "Bucket is missing Object Lock Configuration"


class ObjectLocked(GeoshardError):
    """A deletion or a retention change that the version's lock forbids (S3: 403 AccessDenied)."""

    code = "AccessDenied"

    def __init__(self, message: str = LOCKED_MESSAGE) -> None:
        super().__init__(message)


class LockMode(StrEnum):
    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


@dataclass(frozen=True)
class DefaultRetention:
    mode: LockMode
    days: int | None = None
    years: int | None = None

    def __post_init__(self) -> None:
        if (self.days is None) == (self.years is None):
            raise ValueError("a default retention has exactly one of days and years")
        if (self.days if self.days is not None else self.years or 0) <= 0:
            raise ValueError("a default retention period must be a positive integer")

    def until(self, now: dt.datetime) -> dt.datetime:
        """The retain-until date of a version written at ``now`` (a year is 365 days, as S3 counts)."""
        return now + dt.timedelta(days=self.days if self.days is not None else 365 * (self.years or 0))


@dataclass(frozen=True)
class LockConfiguration:
    """A lock bucket's configuration: ``ObjectLockEnabled`` is always Enabled; the rule is optional."""

    default: DefaultRetention | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.default is None:
            return {}
        d = self.default
        return {"mode": d.mode.value, **({"days": d.days} if d.days is not None else {"years": d.years})}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> LockConfiguration:
        if not d or "mode" not in d:
            return cls()
        return cls(DefaultRetention(LockMode(d["mode"]), d.get("days"), d.get("years")))


@dataclass(frozen=True)
class VersionLock:
    """One version's lock: a retention (mode and date, both or neither) and a legal hold."""

    mode: LockMode | None = None
    until: dt.datetime | None = None
    legal_hold: bool = False

    def __post_init__(self) -> None:
        if (self.mode is None) != (self.until is None):
            raise ValueError("a retention has both a mode and a retain-until date, or neither")

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode.value if self.mode else None,
                "until": self.until.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if self.until else None,
                "legal_hold": self.legal_hold}  # fmt: skip

    @classmethod
    def from_json(cls, d: Any) -> VersionLock:
        """The wire form between gateway and satellite; ValueError for anything else."""
        if not isinstance(d, dict) or not isinstance(d.get("legal_hold", False), bool):
            raise ValueError("a version lock is an object with mode, until and legal_hold")
        mode, until = d.get("mode"), d.get("until")
        if not isinstance(until, str | None):
            raise ValueError("lock.until must be an ISO 8601 date")
        when = None if until is None else dt.datetime.fromisoformat(until.replace("Z", "+00:00"))
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return cls(None if mode is None else LockMode(mode), when, bool(d.get("legal_hold", False)))

    @classmethod
    def of_row(cls, mode: str | None, until: dt.datetime | None, legal_hold: bool | None) -> VersionLock:
        return cls(None if mode is None else LockMode(mode), until if mode is not None else None, bool(legal_hold))

    def retained(self, now: dt.datetime) -> bool:
        return self.until is not None and self.until > now

    def protected(self, now: dt.datetime) -> bool:
        """Whether deleting this version needs anything (a bypass, or is impossible)."""
        return self.legal_hold or self.retained(now)


def lock_for_new_version(
    config: LockConfiguration | None, asked: VersionLock | None, now: dt.datetime
) -> VersionLock:
    """The lock a new version gets: its write's own retention, else the bucket's default."""
    asked = asked or VersionLock()
    if asked.mode is not None or config is None or config.default is None:
        return asked
    return VersionLock(config.default.mode, config.default.until(now), asked.legal_hold)


def check_delete(lock: VersionLock, *, bypass: bool, now: dt.datetime) -> None:
    """Raise :class:`ObjectLocked` unless this version may be permanently deleted now.

    ``bypass`` is true only for a request that carried the bypass header *and* whose
    requester may ``s3:BypassGovernanceRetention``; it never lifts a legal hold or COMPLIANCE.
    """
    if lock.legal_hold:
        raise ObjectLocked()
    if lock.retained(now) and not (lock.mode is LockMode.GOVERNANCE and bypass):
        raise ObjectLocked()


def check_retention_change(
    current: VersionLock, mode: LockMode | None, until: dt.datetime | None, *, bypass: bool, now: dt.datetime
) -> None:
    """Raise unless a version's retention may become ``(mode, until)`` (``None, None``: removed).

    Extending a retention, or setting one where none is in force, is always allowed. Any
    other change — shortening, removing, changing the mode — needs GOVERNANCE with a bypass;
    a COMPLIANCE retention in force can only be extended, and keeps its mode.
    """
    if until is not None and until <= now:
        raise ValueError("The retain until date must be in the future!")
    if not current.retained(now):
        return  # nothing in force: any new retention may be set
    assert current.until is not None
    weakens = until is None or until < current.until or mode is not current.mode
    if not weakens:
        return
    if current.mode is LockMode.GOVERNANCE and bypass:
        return
    raise ObjectLocked()
