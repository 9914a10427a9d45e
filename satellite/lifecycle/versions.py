"""The lifecycle chore's version phase: ``NoncurrentVersionExpiration`` and ``Expiration``
``ExpiredObjectDeleteMarker`` (docs/lifecycle.md).

The phase walks every version of the bucket's keys in ``(key, newest first)`` order, one batch
of ``batch_size`` versions per pass. Walking a key newest first gives each version what AWS
counts from: the creation of its successor (when it became noncurrent) and how many noncurrent
versions of the key are newer (``NewerNoncurrentVersions`` keeps that many). Both are carried
in the cursor (``walk``) when a batch ends inside a key, so a key with more versions than a
batch is walked across passes exactly as in one. A version the walk removes still counts as
the successor and as a newer version of the older ones, as it did when they became noncurrent.

A delete marker that is its key's latest and only version is removed by an enabled
``ExpiredObjectDeleteMarker`` rule selecting its key. Removals and the cursor move commit in one
transaction (``LifecycleRepository.remove_versions``); each removal checks again that the version
is still what the walk saw, so nothing is removed twice or by mistake after a crash or a race.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from common.lifecycle_rules import LifecycleRule, expired_marker_rule, noncurrent_expiration
from satellite.db.lifecycle_versions import EXPIRED_MARKER, NONCURRENT, LifecycleVersion

__all__ = ["VersionDecision", "decide_versions", "version_rules"]


def version_rules(rules: Sequence[LifecycleRule]) -> list[LifecycleRule]:
    """The rules the version phase applies (the phase is skipped without any)."""
    return [r for r in rules if r.noncurrent_days is not None or r.expired_object_delete_marker]


@dataclass
class VersionDecision:
    doomed: list[tuple[LifecycleVersion, str]]  # (version, NONCURRENT or EXPIRED_MARKER)
    rule_of: dict[int, str]  # version row id -> the rule that removes it
    soonest: float | None  # the soonest a version seen becomes due (Unix time)
    walk: dict[str, Any]  # {"key", "succ" (Unix time or None), "newer"}: where the walk is inside a key


def decide_versions(rules: Sequence[LifecycleRule], batch: Sequence[LifecycleVersion], walk: dict[str, Any] | None,
                    soonest: float | None, now: dt.datetime, day_seconds: int) -> VersionDecision:  # fmt: skip
    """Which versions of ``batch`` the rules remove at ``now``; ``walk`` is the cursor's state
    inside the key the previous batch ended in."""
    w = dict(walk or {"key": None, "succ": None, "newer": 0})
    out = VersionDecision([], {}, soonest, w)
    for i, v in enumerate(batch):
        if v.key != w["key"]:
            w.update(key=v.key, succ=None, newer=0)
        if w["succ"] is None:  # the key's newest version
            last_of_key = i + 1 == len(batch) or batch[i + 1].key != v.key
            rule = expired_marker_rule(rules, v.key) if v.is_latest and v.delete_marker and last_of_key else None
            if rule is not None:
                out.doomed.append((v, EXPIRED_MARKER))
                out.rule_of[v.id] = rule
        else:
            since = dt.datetime.fromtimestamp(w["succ"], dt.UTC)
            size = None if v.delete_marker else v.size
            found = noncurrent_expiration(rules, v.key, v.tags, size, since, w["newer"], day_seconds)
            if found is not None and found[0] <= now:
                out.doomed.append((v, NONCURRENT))
                out.rule_of[v.id] = found[1]
            elif found is not None:
                due = found[0].timestamp()
                out.soonest = due if out.soonest is None else min(out.soonest, due)
            w["newer"] += 1
        w["succ"] = v.created_at.timestamp()
    return out
