"""What the satellite does when it learns that a piece is bad, without waiting for an audit.

Two kinds of witness tell it:

* **A reader** — a gateway serving a GET, or a repairer — downloaded a share that fails the
  piece's Merkle root (``piece/report-bad``). The reader is trusted (the gateway holds the
  master key, the repairer is the satellite), but a bug in a reader must not erase
  metadata, so its report drops the piece row only while at least ``k`` other rows remain.
* **The node itself** — its scrub found a piece corrupt or missing and deleted it
  (a node-signed :class:`~common.messages.PieceLossReport`). The row always goes: the bytes
  are gone.

Either way the segment's health falls at once, and the segment is queued for repair with
reason ``reported`` (or the checker's more urgent reason, if it now has one): a repairer
restores it to ``success`` even above the repair threshold, since rot found in one place
is a reason to trust the rest of that disk less.

**Why a self-reported loss is not an audit failure.** An audit failure means a node
claimed to hold what it did not — the behaviour of a cheater, which the beta reputation
model disqualifies after about 41 in a row. A node that reports its own loss is the
opposite: it found the damage, said so, and freed the satellite to repair before any reader
or audit tripped on it. Punishing it like a cheater would teach operators to turn scrubbing
off. So a self-reported loss lowers only the segment's piece count, and goes into a
separate, milder signal: the node is *warned* from its first loss (its reputation report
says so), and *suspended* — no new pieces, its stored pieces still served and counted — only
when its losses in ``window`` reach both ``suspend_min`` pieces and ``suspend_fraction`` of
what it holds: a disk that is failing, where new data should not go until the operator acts
(an admin reinstates the node after the disk is replaced).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from satellite.db.losses import DroppedPiece, LossRepository
from satellite.errors import NotFound
from satellite.repair.checker import NodeSnapshot
from satellite.repair.health import RepairReason, segment_health
from satellite.repair.queue import QueueEntry, RepairQueue

__all__ = ["LossConfig", "LossService"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LossConfig:
    window: float = 30 * 86400.0
    suspend_min: int = 10
    suspend_fraction: float = 0.02

    @classmethod
    def from_satellite(cls, config: Any) -> LossConfig:
        return cls(config.loss_window, config.loss_suspend_min, config.loss_suspend_fraction)


class LossService:
    def __init__(
        self,
        repo: LossRepository,
        queue: RepairQueue,
        nodes: NodeSnapshot,
        *,
        online_window: float,
        config: LossConfig,
        on_nodes_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.repo = repo
        self.queue = queue
        self.nodes = nodes
        self.online_window = online_window
        self.config = config
        self.on_nodes_changed = on_nodes_changed

    async def reader_report(self, node_id: str, piece_id: str, reason: str) -> list[DroppedPiece]:
        """A reader saw a share of this piece fail its Merkle check: drop it (keeping ``k``
        rows) and queue its segment."""
        dropped = await self.repo.drop_pieces(node_id, [piece_id], keep_k=True)
        await self.queue_segments({d.segment_id for d in dropped})
        for d in dropped:
            log.warning(
                "reader reported piece %d of segment %d on node %s corrupt (%s): %s; repair queued",
                d.number, d.segment_id, node_id[:16], reason[:200],
                "row dropped" if d.dropped else "row kept, fewer than k would remain",
            )  # fmt: skip
        return dropped

    async def node_report(self, node_id: str, piece_ids: list[str], reason: str, detail: str) -> dict[str, Any]:
        """The node lost these pieces (and deleted them): drop their rows, queue their
        segments, count the loss and suspend a node that loses a lot."""
        if not await self.repo.node_exists(node_id):
            raise NotFound(f"node {node_id[:16]}… has never checked in with this satellite")
        unique = list(dict.fromkeys(piece_ids))
        dropped = await self.repo.drop_pieces(node_id, unique, keep_k=False)
        await self.queue_segments({d.segment_id for d in dropped})
        now = dt.datetime.now(dt.UTC)
        # A piece id no row names (garbage not yet collected) costs the node nothing.
        counted = dropped
        if counted:
            await self.repo.record_losses(node_id, counted, f"{reason}: {detail}", now)
        standing = await self.repo.standing(node_id, now - dt.timedelta(seconds=self.config.window))
        suspended = standing.suspended_at is not None
        limit = max(self.config.suspend_min, self.config.suspend_fraction * (standing.held + standing.in_window))
        if not suspended and counted and standing.in_window >= limit:
            why = (
                f"reported {standing.in_window} lost piece(s) in {self.config.window / 86400:g} days "
                f"(limit {limit:g}): the disk is failing; replace it, then ask the admin to reinstate"
            )
            await self.repo.suspend(node_id, why, now)
            self.on_nodes_changed()
            suspended = True
            log.warning("node %s suspended: %s", node_id[:16], why)
        log.warning(
            "node %s reported %d lost piece(s) (%s: %s); %d referenced, their segments queued for repair",
            node_id[:16], len(unique), reason, detail[:200], len(counted),
        )  # fmt: skip
        return {
            "accepted": len(unique),
            "referenced": len(counted),
            "segments_queued": len({d.segment_id for d in dropped}),
            "losses_in_window": standing.in_window,
            "suspended": suspended,
            "warning": self.warning(standing.in_window, limit, suspended),
        }

    def warning(self, in_window: int, limit: float, suspended: bool) -> str:
        if suspended:
            return "suspended for lost pieces: no new pieces until the disk is replaced and an admin reinstates"
        if in_window:
            return (
                f"this node's scrub found {in_window} lost piece(s) in {self.config.window / 86400:g} days: "
                f"check the disk (suspension at {limit:g})"
            )
        return ""

    async def report(self, node_id: str) -> dict[str, Any]:
        """The loss signal as a node's reputation report shows it."""
        now = dt.datetime.now(dt.UTC)
        st = await self.repo.standing(node_id, now - dt.timedelta(seconds=self.config.window))
        limit = max(self.config.suspend_min, self.config.suspend_fraction * (st.held + st.in_window))
        return {
            "losses": st.losses,
            "lost_bytes": st.lost_bytes,
            "losses_in_window": st.in_window,
            "suspend_at": limit,
            "suspended": st.suspended_at is not None,
            "suspension_reason": st.suspension_reason,
            "last_loss_at": st.last_loss_at.isoformat().replace("+00:00", "Z") if st.last_loss_at else None,
            "warning": self.warning(st.in_window, limit, st.suspended_at is not None),
        }

    async def queue_segments(self, segment_ids: set[int]) -> int:
        """Judge each segment now and queue it (reason ``reported`` unless the rule has a more
        urgent one); the repairer restores it to ``success``. Returns how many were queued."""
        if not segment_ids:
            return 0
        snapshot = {n.id: n for n in await self.nodes.candidates()}
        policies = await self.queue.policies()
        now = dt.datetime.now(dt.UTC)
        entries = []
        for sid in sorted(segment_ids):
            seg = await self.queue.load_segment(sid)
            if seg is None:
                continue
            health = segment_health(
                [(p.number, p.node_id) for p in seg.pieces], snapshot, policies[seg.policy_id], k=seg.k,
                repair_threshold=seg.repair_threshold, now=now.timestamp(), online_window=self.online_window,
            )  # fmt: skip
            urgent = health.reason in (RepairReason.LOST, RepairReason.BELOW_THRESHOLD)
            reason = health.reason if urgent and health.reason is not None else RepairReason.REPORTED
            entries.append(QueueEntry(sid, len(health.healthy), health.margin, reason.value))
        await self.queue.push(entries, now)
        return len(entries)
