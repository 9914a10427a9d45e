"""The repair checker: walks every remote segment in id order and queues those at risk.

One call of :meth:`RepairChecker.run_once` is one unit of work: a batch of segments read
with two range queries (segments, then their pieces; no per-piece round trip), classified
by the pure rule of :mod:`satellite.repair.health` against a snapshot of the node table
and the policies taken at the start of the pass, and written back with one upsert (the
segments that need repair) and one delete (queued segments of the batch's id range that
are healthy again or gone, unless a repairer holds them). The cursor is the last segment
id checked, so a pass resumes where it stopped after each call and a long table costs many
short transactions, never one long one; a process restart begins a new pass, which is
idempotent.

Policy changes and node location overrides need nothing special: the next pass sees the
bucket's current policy and the node's effective location, and queues every segment with
a piece out of policy (reason ``out_of_policy``) for the repairer to migrate. Inline
segments have no pieces but are stored in the satellite's database: at the end of each
pass, those in buckets whose policy excludes the satellite's location are queued (reason
``inline``) to be migrated out to pieces (``satellite/repair/inline.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from satellite.nodeselection import NodeCandidate, PlacementPolicy
from satellite.residency import MetadataLocation

from .health import RepairReason, segment_health
from .inline import InlineStore
from .queue import QueueEntry, RepairQueue
from .renewal import Renewals

__all__ = ["CheckerState", "CheckerStep", "LostHook", "NodeSnapshot", "RepairChecker"]

# (segment id, healthy pieces, k) of each segment found with fewer than k healthy pieces.
LostHook = Callable[[list[tuple[int, int, int]]], Awaitable[object]]

log = logging.getLogger(__name__)


class NodeSnapshot(Protocol):
    """The node table as placement sees it (``satellite.db.nodes.NodeRepository``)."""

    async def candidates(self) -> list[NodeCandidate]: ...


class CheckerStep(StrEnum):
    BUSY = "busy"  # a batch was checked and the pass goes on
    DONE = "done"  # the pass reached the last segment; the next call starts a new one


@dataclass
class CheckerState:
    """What the checker reports (STYLE habit 4): where it is and what it found."""

    cursor: int = 0
    passes: int = 0
    checked: int = 0  # in the current pass
    queued: int = 0
    forgotten: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    last_pass_seconds: float = 0.0
    last_pass: dict[str, int] = field(default_factory=dict)
    last_pass_at: float | None = None  # unix seconds the last whole pass ended (the compliance report)


class RepairChecker:
    def __init__(
        self,
        queue: RepairQueue,
        nodes: NodeSnapshot,
        *,
        online_window: float,
        batch_size: int = 1000,
        on_lost: LostHook | None = None,
        metadata: MetadataLocation | None = None,
        renewals: Renewals | None = None,
    ) -> None:
        self.renewals = renewals or Renewals(queue.db)  # piece TTLs to renew (reason ``renew``)
        self.metadata = metadata or MetadataLocation()
        self.inline = InlineStore(queue.db)
        self.on_lost = on_lost  # told of segments with fewer than k healthy pieces (data-loss incidents)
        self.queue = queue
        self.nodes = nodes
        self.online_window = online_window
        self.batch_size = batch_size
        self.state = CheckerState()
        self._nodes: dict[str, NodeCandidate] = {}
        self._policies: dict[int, PlacementPolicy] = {}
        self._pass_started = 0.0

    async def _begin_pass(self) -> None:
        self._nodes = {n.id: n for n in await self.nodes.candidates()}
        self._policies = await self.queue.policies()
        self._pass_started = time.monotonic()
        self.state.checked = self.state.queued = self.state.forgotten = 0
        self.state.by_reason = {}

    async def run_once(self, now: float | None = None) -> CheckerStep:
        """Check one batch of segments; ``now`` (unix seconds) is for tests that move time."""
        if self.state.cursor == 0:
            await self._begin_pass()
        t = time.time() if now is None else now
        after = self.state.cursor
        batch, last = await self.queue.segment_batch(after, self.batch_size)
        entries: list[QueueEntry] = []
        cleared: list[int] = []  # short segments that reached success by other means
        lost: list[tuple[int, int, int]] = []
        expiring: dict[int, tuple[int, int]] = {}  # segment id: (healthy, margin), TTL within the horizon
        for seg in batch:
            if seg.piece_expires and seg.piece_expires <= t:
                continue  # its pieces are expected gone: nothing to repair, nothing lost
            policy = self._policies.get(seg.policy_id)
            if policy is None:  # a policy created after the pass began
                self._policies = await self.queue.policies()
                policy = self._policies[seg.policy_id]
            health = segment_health(
                seg.pieces,
                self._nodes,
                policy,
                k=seg.k,
                repair_threshold=seg.repair_threshold,
                now=t,
                online_window=self.online_window,
            )
            reason = health.reason
            if reason is None and seg.piece_expires and seg.piece_expires <= self.renewals.horizon(t):
                expiring[seg.id] = (len(health.healthy), health.margin)
            if reason is None and seg.short:
                if len(health.healthy) < seg.success_threshold:
                    reason = RepairReason.SHORT  # still short: the repairer retries it
                else:
                    cleared.append(seg.id)
            if reason is not None:
                entries.append(QueueEntry(seg.id, len(health.healthy), health.margin, reason.value))
                if reason is RepairReason.LOST:
                    lost.append((seg.id, len(health.healthy), seg.k))
                self.state.by_reason[reason.value] = self.state.by_reason.get(reason.value, 0) + 1
        for sid in sorted(await self.renewals.needing(list(expiring), t)):
            entries.append(QueueEntry(sid, *expiring[sid], RepairReason.RENEW.value))
            self.state.by_reason[RepairReason.RENEW.value] = self.state.by_reason.get(RepairReason.RENEW.value, 0) + 1
        await self.queue.push(entries, dt.datetime.fromtimestamp(t, dt.UTC))
        await self.queue.clear_shortfalls(cleared)
        if lost and self.on_lost is not None:
            try:
                await self.on_lost(lost)
            except Exception:  # compensation must never stop repair
                log.exception("recording %d lost segments failed", len(lost))
        self.state.forgotten += await self.queue.forget_range(after, last, (e.segment_id for e in entries))
        self.state.checked += len(batch)
        self.state.queued += len(entries)
        if last is None:
            await self._queue_inline(t)
            self.state.cursor = 0
            self.state.passes += 1
            self.state.last_pass_seconds = time.monotonic() - self._pass_started
            self.state.last_pass_at = time.time()
            self.state.last_pass = {
                "checked": self.state.checked,
                "queued": self.state.queued,
                "forgotten": self.state.forgotten,
                **self.state.by_reason,
            }
            log.info("repair checker pass %d: %s", self.state.passes, self.state.last_pass)
            return CheckerStep.DONE
        self.state.cursor = last
        return CheckerStep.BUSY

    async def _queue_inline(self, t: float) -> None:
        """Queue the inline segments of buckets whose policy excludes the satellite's location."""
        outside = [pid for pid, p in self._policies.items() if not self.metadata.allows_inline(p)]
        ids = await self.inline.outside(outside)
        if ids:
            # Nothing is at risk of loss: the margin sorts them after every segment that is.
            entries = [QueueEntry(sid, 0, 1_000_000, RepairReason.INLINE.value) for sid in ids]
            await self.queue.push(entries, dt.datetime.fromtimestamp(t, dt.UTC))
            self.state.queued += len(entries)
            self.state.by_reason[RepairReason.INLINE.value] = len(entries)

    async def run_pass(self, now: float | None = None) -> dict[str, int]:
        """Finish the current pass (or run a whole one); its counts. Tests step with this."""
        while await self.run_once(now) is not CheckerStep.DONE:
            pass
        return self.state.last_pass
