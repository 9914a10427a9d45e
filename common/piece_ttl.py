"""Piece TTLs from lifecycle rules: the ``piece_expires`` a PUT order carries, and when to renew it.

A node deletes a piece at its ``piece_expires`` by itself, with no retain pass, but cannot be
told to keep it longer. So a TTL is signed only where the object is sure to be expired by
lifecycle before it: a simple PUT (not a multipart part) of a current object in an
unversioned bucket without Object Lock, under an enabled ``Expiration`` rule that filters by
prefix alone (a tag or size filter cannot be judged before the object is committed). The
object is created at its commit, no later than the segment token's expiry, so the rule's date
is taken from there, and a grace (``lifecycle_piece_grace_seconds``) is added in which the
lifecycle chore runs first.

S3 lets the rules change after the upload (removed, lengthened, versioning turned on) and a
copy shares the pieces in another bucket. :func:`needs_renewal` is the repair checker's test:
a segment whose TTL ends within ``2 × grace`` while its own object would not be expired by
then under the bucket's rules *now* — or is still there half a grace after its expiry (the
chore is behind) — is re-uploaded by the repairer without a TTL (docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.lifecycle_rules import DAY_SECONDS, LifecycleRule, rules_from_json

__all__ = ["PieceTtl", "needs_renewal", "piece_expiry"]


@dataclass(frozen=True)
class PieceTtl:
    day_seconds: int = DAY_SECONDS
    grace_seconds: int = 7 * DAY_SECONDS  # in days of 86,400 s: scaled by day_seconds on a devnet

    @property
    def grace(self) -> int:
        return max(1, self.grace_seconds * self.day_seconds // DAY_SECONDS)


def _prefix_only(rule: LifecycleRule) -> bool:
    f = rule.filter
    return not f.tags and f.size_gt is None and f.size_lt is None


def piece_expiry(
    *, versioning: str, locked: bool, lifecycle: Mapping[str, Any] | None, key: str, created_by: int, ttl: PieceTtl
) -> int:
    """Unix seconds for a current object's pieces' TTL (0: none); ``created_by`` bounds its creation."""
    if versioning != "unversioned" or locked or not lifecycle:
        return 0
    created = dt.datetime.fromtimestamp(created_by, dt.UTC)
    soonest: dt.datetime | None = None
    for r in rules_from_json(lifecycle):
        if not r.enabled or not _prefix_only(r) or not r.filter.matches(key):
            continue
        at = r.expires_at(created, ttl.day_seconds)
        if at is not None and (soonest is None or at < soonest):
            soonest = at
    if soonest is None:
        return 0
    # A Date already past: the chore expires the object as soon as it is committed.
    return max(int(soonest.timestamp()), created_by) + ttl.grace


def needs_renewal(
    piece_expires: int, *, now: float, versioning: str | None, locked: bool, lifecycle: Mapping[str, Any] | None,
    key: str | None, created_at: dt.datetime | None, ttl: PieceTtl,
) -> bool:  # fmt: skip
    """Whether a segment's pieces must be re-uploaded before their TTL ends (False once it has:
    there is nothing left to renew). ``key`` None: the segment is not a current object's."""
    if not piece_expires or piece_expires <= now or piece_expires - now > 2 * ttl.grace:
        return False
    if key is None or created_at is None or versioning is None:
        return True
    due = piece_expiry(versioning=versioning, locked=locked, lifecycle=lifecycle, key=key,
                       created_by=int(created_at.timestamp()), ttl=ttl)  # fmt: skip
    if not due or due > piece_expires:
        return True  # the rules no longer expire it before its pieces go
    return now >= piece_expires - ttl.grace / 2  # due long ago and still there: the chore is behind
