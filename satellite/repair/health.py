"""Which pieces of a segment count, and why the others do not: the rule checker and repairer share.

A piece is **healthy** when its node is known, online (contacted within the online
window), not disqualified, not exiting, and in the bucket's *current* policy by the node's
effective (admin-overridden) location. Suspension does not make a piece unhealthy: a
suspended node still serves downloads (DESIGN §5). The compliance report applies the same
rule (``satellite/admin/report.py``), so "0 out of policy" there and "nothing to migrate"
here mean the same thing.

A segment needs repair when its healthy pieces fell to the repair threshold (``≤ repair``),
when any piece is out of policy (a policy change or a location override: migration), or
when any piece is on a disqualified node: such a node was caught losing data, so nothing it
holds is counted on, and its pieces are replaced (or, where the segment still has
``success`` healthy pieces, dropped) without waiting for further loss (issue 5: "every
segment it held is repaired"). The reason names the most urgent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from satellite.nodeselection import NodeCandidate, PlacementPolicy, in_policy

__all__ = ["EVENT_REASONS", "PieceState", "RepairReason", "SegmentHealth", "piece_state", "segment_health"]


class PieceState(StrEnum):
    HEALTHY = "healthy"
    UNKNOWN_NODE = "unknown node"
    DISQUALIFIED = "disqualified"
    EXITING = "exiting"
    OUT_OF_POLICY = "out of policy"
    OFFLINE = "offline"


class RepairReason(StrEnum):
    LOST = "lost"  # fewer than k healthy pieces: repairable only if unhealthy nodes still serve
    BELOW_THRESHOLD = "below_threshold"
    OUT_OF_POLICY = "out_of_policy"
    DISQUALIFIED = "disqualified"  # holds a piece on a disqualified node
    # Queued by an event rather than by the checker's rule; repaired while below ``success``
    # even above the repair threshold, and never forgotten by a checker pass meanwhile:
    REPORTED = "reported"  # a reader found a piece corrupt, or a node reported it lost
    SHORT = "short"  # the last repair placed fewer pieces than ``success`` for lack of nodes
    # An inline segment whose bucket's policy excludes the satellite's own location: its bytes
    # move out of the database into pieces (satellite/repair/inline.py).
    INLINE = "inline"
    # Its pieces' TTL ends soon but its object is not expiring by then under the bucket's rules
    # now: every piece is re-uploaded without a TTL (satellite/repair/renewal.py).
    RENEW = "renew"


#: Reasons a repairer acts on while the segment has fewer healthy pieces than ``success``.
EVENT_REASONS = frozenset({RepairReason.REPORTED.value, RepairReason.SHORT.value, RepairReason.INLINE.value})


def piece_state(node: NodeCandidate | None, policy: PlacementPolicy, *, now: float, online_window: float) -> PieceState:
    """The state of a piece held by ``node`` (``None``: no such node row), most permanent first."""
    if node is None:
        return PieceState.UNKNOWN_NODE
    if node.disqualified:
        return PieceState.DISQUALIFIED
    if node.exiting:
        return PieceState.EXITING
    if not in_policy(node, policy):
        return PieceState.OUT_OF_POLICY
    if now - node.last_contact > online_window:
        return PieceState.OFFLINE
    return PieceState.HEALTHY


@dataclass(frozen=True, slots=True)
class SegmentHealth:
    """Per piece number, its state; and the verdict."""

    states: Mapping[int, PieceState]
    k: int
    repair_threshold: int

    @property
    def healthy(self) -> list[int]:
        return sorted(num for num, st in self.states.items() if st is PieceState.HEALTHY)

    @property
    def unhealthy(self) -> list[int]:
        return sorted(num for num, st in self.states.items() if st is not PieceState.HEALTHY)

    @property
    def out_of_policy(self) -> int:
        return sum(st is PieceState.OUT_OF_POLICY for st in self.states.values())

    @property
    def disqualified(self) -> int:
        return sum(st is PieceState.DISQUALIFIED for st in self.states.values())

    @property
    def margin(self) -> int:
        """How many more pieces the segment can lose: healthy minus k (negative = lost)."""
        return len(self.healthy) - self.k

    @property
    def reason(self) -> RepairReason | None:
        """Why the segment needs repair, or ``None`` when it does not."""
        healthy = len(self.healthy)
        if healthy < self.k:
            return RepairReason.LOST
        if healthy <= self.repair_threshold:
            return RepairReason.BELOW_THRESHOLD
        if self.out_of_policy:
            return RepairReason.OUT_OF_POLICY
        if self.disqualified:
            return RepairReason.DISQUALIFIED
        return None


def segment_health(
    pieces: Sequence[tuple[int, str]],
    nodes: Mapping[str, NodeCandidate],
    policy: PlacementPolicy,
    *,
    k: int,
    repair_threshold: int,
    now: float,
    online_window: float,
) -> SegmentHealth:
    """Classify ``pieces`` (``(number, node_id)``) against the node snapshot and the bucket's policy."""
    states = {
        num: piece_state(nodes.get(node_id), policy, now=now, online_window=online_window) for num, node_id in pieces
    }
    return SegmentHealth(states, k, repair_threshold)
