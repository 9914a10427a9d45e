"""The lifecycle chore: applies buckets' enabled rules, one batch per pass, resumable after a crash.

**A pass** (:meth:`LifecycleChore.run_once`) takes the bucket that is due soonest and does one
batch of it: either ``batch_size`` current objects after its cursor, in key order, of which
it expires those whose rule date has passed, or ``batch_size`` pending multipart uploads,
of which it aborts those an ``AbortIncompleteMultipartUpload`` rule condemns. A bucket's scan
goes through its objects, then its uploads; then the bucket sleeps until the soonest date
the scan saw coming (an object not yet due, a rule ``Date`` in the future) or until the
earliest an object written after the scan began can become due (its rule's days after the
scan began), whichever is first.

**Crash safety.** The cursor (``{"phase", "after", ...}``) is the bucket's
``lifecycle-cursor`` setting. An object batch deletes its objects and moves the cursor in one
transaction (``LifecycleRepository.expire``), so a satellite killed mid-pass either did the
batch or did not; after a restart the batch is read again and what it deleted is gone. Each
deletion names the row the chore read (``only_ids``): an object written again meanwhile is a
new row and survives. Aborting an upload that is already gone does nothing. So nothing is
expired twice, and nothing due is missed: a scan only moves past keys it has decided on.

**Versions.** Between objects and uploads, a bucket with ``NoncurrentVersionExpiration`` or
``ExpiredObjectDeleteMarker`` rules has a version phase (``satellite/lifecycle/versions.py``):
every version in ``(key, newest first)`` order, batch by batch, removing for good the noncurrent
versions and expired delete markers the rules condemn, in the same transaction as the cursor.

**Deletion path.** Expiry deletes through ``satellite.db.deletion.delete_keys``, the function
S3 DeleteObject uses; in a versioned bucket it leaves a delete marker instead
(``satellite.db.object_versions.expire_current``). Versions are removed through
``satellite.db.object_versions.delete_version``, the path of ``DeleteObject?versionId=``.

**Idle.** With nothing due the chore sleeps until the next due time, at most ``poll`` seconds
(a rule put through another process is seen within that), and :meth:`wake` (called when a
rule is put or deleted through this process) ends the sleep at once: no busy polling.

A rule changed (its setting's ``updated_at`` moved) restarts that bucket's scan from the
first key, so a new rule applies to every existing object.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from common.lifecycle_rules import LifecycleRule, abort_date, after_days, object_expiration, rules_from_json
from satellite.db.lifecycle import LifecycleBucket, LifecycleRepository, LifecycleUpload
from satellite.lifecycle.versions import decide_versions, version_rules

__all__ = ["LifecycleChore", "LifecycleConfig", "LifecycleStats", "PassReport"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LifecycleConfig:
    batch_size: int = 500
    poll: float = 300.0
    day_seconds: int = 86_400

    @classmethod
    def from_satellite(cls, config: Any) -> LifecycleConfig:
        return cls(config.lifecycle_batch_size, config.lifecycle_poll, config.lifecycle_day_seconds)


@dataclass
class LifecycleStats:
    """What this process's chore did since it started (Prometheus counters read these)."""

    passes: int = 0
    expired_objects: int = 0
    aborted_uploads: int = 0
    expired_versions: int = 0  # noncurrent versions and expired delete markers removed for good
    by_rule: dict[str, int] = field(default_factory=dict)  # objects expired, by rule id
    versions_by_rule: dict[str, int] = field(default_factory=dict)  # versions removed, by rule id


@dataclass(frozen=True)
class PassReport:
    bucket: str
    phase: str
    examined: int
    expired: list[str]
    aborted: list[str]
    scan_done: bool
    removed: list[tuple[str, str]] = field(default_factory=list)  # (key, version id) removed for good


def _ts(t: dt.datetime) -> float:
    return t.timestamp()


def _at(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


class LifecycleChore:
    name = "lifecycle"

    def __init__(self, repo: LifecycleRepository, config: LifecycleConfig) -> None:
        self.repo = repo
        self.config = config
        self.stats = LifecycleStats()
        self._wake = asyncio.Event()
        self._closed = False

    def wake(self) -> None:
        """A rule was put or deleted: look again now instead of at the next due time."""
        self._wake.set()

    # --- scheduling ---------------------------------------------------------------------

    @staticmethod
    def _fresh(b: LifecycleBucket) -> bool:
        """The cursor belongs to an older version of the rules (or there is none yet)."""
        return b.cursor is None or b.cursor.get("rules_at") != b.rules_updated_at.isoformat()

    def _due(self, b: LifecycleBucket) -> float:
        """0 for a bucket never scanned under its rules; for one mid-scan, its last pass (so that
        buckets mid-scan take turns, a huge one never starving the rest); else its next scan."""
        if self._fresh(b) or b.cursor is None:
            return 0.0
        if b.cursor.get("phase") != "idle":
            return float(b.cursor.get("passed_at", 0.0))
        return float(b.cursor.get("next_due", 0.0))

    async def next_due(self) -> float | None:
        """Unix time of the soonest bucket's next pass (None: no bucket has rules)."""
        buckets = await self.repo.buckets()
        return min((self._due(b) for b in buckets), default=None)

    # --- one pass -----------------------------------------------------------------------

    async def run_once(self, now: dt.datetime | None = None) -> PassReport | None:
        """One batch of the bucket due soonest, if one is due at ``now``; None when none is."""
        now = now or dt.datetime.now(dt.UTC)
        buckets = await self.repo.buckets()
        due = [b for b in buckets if self._due(b) <= _ts(now)]
        if not due:
            return None
        bucket = min(due, key=lambda b: (self._due(b), b.bucket_id))
        try:
            rules = [r for r in rules_from_json(bucket.rules) if r.enabled]
        except (KeyError, TypeError, ValueError) as e:  # gateways store only checked rules; never stall on one
            log.error("lifecycle: bucket %s: unreadable rules (%s); skipped until they change", bucket.name, e)
            skip = {"rules_at": bucket.rules_updated_at.isoformat(), "phase": "idle",
                    "next_due": _ts(now) + 365 * 86_400}  # fmt: skip
            await self.repo.save_cursor(bucket.bucket_id, skip)
            return PassReport(bucket.name, "skipped", 0, [], [], True)
        cursor = dict(bucket.cursor or {})
        if self._fresh(bucket) or cursor.get("phase") == "idle":
            cursor = {"rules_at": bucket.rules_updated_at.isoformat(), "phase": "objects", "after": "",
                      "scan_started": _ts(now), "soonest": None}  # fmt: skip
        if cursor["phase"] == "objects":
            report = await self._objects(bucket, rules, cursor, now)
        elif cursor["phase"] == "versions":
            report = await self._versions(bucket, rules, cursor, now)
        else:
            report = await self._uploads(bucket, rules, cursor, now)
        self.stats.passes += 1
        if report.expired or report.aborted or report.removed:
            log.info("lifecycle: bucket %s: expired %d objects, removed %d versions, aborted %d uploads (%d examined)",
                     bucket.name, len(report.expired), len(report.removed), len(report.aborted),
                     report.examined)  # fmt: skip
        return report

    async def _objects(self, bucket: LifecycleBucket, rules: list[LifecycleRule], cursor: dict[str, Any],
                       now: dt.datetime) -> PassReport:  # fmt: skip
        expiring = [r for r in rules if r.expiration_days is not None or r.expiration_date is not None]
        batch, more = await self.repo.objects_after(bucket.bucket_id, str(cursor["after"]), self.config.batch_size)
        doomed, by_rule = [], {}
        soonest = cursor.get("soonest")
        for o in batch if expiring else []:
            found = object_expiration(expiring, o.key, o.tags, o.size, o.created_at, self.config.day_seconds)
            if found is None:
                continue
            if found[0] <= now:
                doomed.append(o)
                by_rule[o.key] = found[1]
            else:
                soonest = _ts(found[0]) if soonest is None else min(soonest, _ts(found[0]))
        done = not more or not batch or not expiring
        nxt = dict(cursor, soonest=soonest, passed_at=_ts(now))
        if done and version_rules(rules):
            nxt.update({"phase": "versions", "after": ["", None], "walk": None})
        else:
            nxt.update({"phase": "uploads", "after": ["", ""]} if done else {"after": batch[-1].key})
        expired = await self.repo.expire(bucket.bucket_id, doomed, nxt)
        self.stats.expired_objects += len(expired)
        for key in expired:
            self.stats.by_rule[by_rule[key]] = self.stats.by_rule.get(by_rule[key], 0) + 1
        return PassReport(bucket.name, "objects", len(batch), sorted(expired), [], False)

    async def _versions(self, bucket: LifecycleBucket, rules: list[LifecycleRule], cursor: dict[str, Any],
                        now: dt.datetime) -> PassReport:  # fmt: skip
        after = cursor.get("after") or ["", None]
        batch = await self.repo.versions_after(bucket.bucket_id, (str(after[0]), after[1]), self.config.batch_size)
        d = decide_versions(version_rules(rules), batch, cursor.get("walk"), cursor.get("soonest"), now,
                            self.config.day_seconds)  # fmt: skip
        nxt = dict(cursor, soonest=d.soonest, passed_at=_ts(now))
        if len(batch) < self.config.batch_size:
            nxt.update({"phase": "uploads", "after": ["", ""], "walk": None})
        else:
            nxt.update({"after": [batch[-1].key, batch[-1].version], "walk": d.walk})
        removed = await self.repo.remove_versions(bucket.bucket_id, d.doomed, nxt)
        self.stats.expired_versions += len(removed)
        for v in removed:
            rule = d.rule_of[v.id]
            self.stats.versions_by_rule[rule] = self.stats.versions_by_rule.get(rule, 0) + 1
        return PassReport(bucket.name, "versions", len(batch), [], [], False, [(v.key, v.version_id) for v in removed])

    async def _uploads(self, bucket: LifecycleBucket, rules: list[LifecycleRule], cursor: dict[str, Any],
                       now: dt.datetime) -> PassReport:  # fmt: skip
        aborting = [r for r in rules if r.abort_days is not None]
        after = cursor.get("after") or ["", ""]
        batch: list[LifecycleUpload] = []
        if aborting:
            batch = await self.repo.uploads_after(bucket.bucket_id, (str(after[0]), str(after[1])),
                                                  self.config.batch_size)  # fmt: skip
        soonest = cursor.get("soonest")
        aborted = []
        for u in batch:
            found = abort_date(aborting, u.key, u.created_at, self.config.day_seconds)
            if found is None:
                continue
            if found[0] <= now:
                if await self.repo.abort(u.id):
                    aborted.append(u.id)
            else:
                soonest = _ts(found[0]) if soonest is None else min(soonest, _ts(found[0]))
        self.stats.aborted_uploads += len(aborted)
        done = len(batch) < self.config.batch_size
        if done:
            nxt = {"rules_at": cursor["rules_at"], "phase": "idle",
                   "next_due": self._next_scan(rules, float(cursor["scan_started"]), soonest, now)}  # fmt: skip
        else:
            nxt = dict(cursor, soonest=soonest, after=[batch[-1].key, batch[-1].id], passed_at=_ts(now))
        await self.repo.save_cursor(bucket.bucket_id, nxt)
        return PassReport(bucket.name, "uploads", len(batch), [], aborted, done)

    def _next_scan(self, rules: list[LifecycleRule], started: float, soonest: float | None, now: dt.datetime) -> float:
        """The soonest anything can become due after a scan that began at ``started``: what the
        scan saw coming, a future ``Date``, or the days of a rule counted from the scan's start
        (an object written since is at least that young). A ``Date`` already past condemns new
        objects at once: those are looked at a day later, as AWS runs lifecycle daily."""
        start = _at(started)
        candidates = [] if soonest is None else [soonest]
        for r in rules:
            if r.expiration_days is not None:
                candidates.append(_ts(after_days(start, r.expiration_days, self.config.day_seconds)))
            if r.abort_days is not None:
                candidates.append(_ts(after_days(start, r.abort_days, self.config.day_seconds)))
            if r.noncurrent_days is not None:  # a version made noncurrent since is at least that young
                candidates.append(_ts(after_days(start, r.noncurrent_days, self.config.day_seconds)))
            if r.expired_object_delete_marker:  # a marker left alone since: looked at a day later, as AWS does
                candidates.append(started + self.config.day_seconds)
            if r.expiration_date is not None:
                future = r.expiration_date > now
                candidates.append(_ts(r.expiration_date) if future else started + self.config.day_seconds)
        return min(candidates, default=_ts(now) + 365 * 86_400)

    # --- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        while not self._closed:
            self._wake.clear()  # a wake() from here on ends the sleep below
            try:
                report = await self.run_once()
            except Exception:
                log.exception("lifecycle pass failed; retrying after a pause")
                report = None
                await self._sleep(min(self.config.poll, 30.0))
                continue
            if report is not None:
                await asyncio.sleep(0)  # a pass is one unit of work: let everything else run between
                continue
            due = await self.next_due()
            now = dt.datetime.now(dt.UTC).timestamp()
            await self._sleep(self.config.poll if due is None else max(0.0, min(due - now, self.config.poll)))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
