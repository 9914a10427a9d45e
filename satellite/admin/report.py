"""The compliance report: where every piece of a bucket lives, and whether it may live there.

This is what an admin shows an auditor, so it is computed from the piece table itself, not
from what placement intended: pieces per country and per region, every piece on a node
outside the bucket's current policy (named by node), and the segments whose healthy pieces
have fallen below their repair threshold. A piece is healthy when its node is online, not
disqualified, and in policy, the same rule the repair checker applies. The accumulator is
fed one segment at a time, so a bucket of any size is reported in bounded memory: only the
first :data:`MAX_LISTED` weak segments are listed, all are counted.

``status`` is ``compliant`` only when every piece is in policy *and* the network keeps its
redundancy promise: a bucket with segments below their repair threshold, or whose policy
the repairer found short of eligible nodes (``capacity_short``: segments it could not bring
back to ``success``, and how many more nodes the policy would need), is ``degraded`` — in
policy, but not compliant, because an auditor asks about durability as well as location.
A piece out of policy makes it ``out_of_policy``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from satellite.nodeselection import NodeCandidate, PlacementPolicy, in_policy

__all__ = ["MAX_LISTED", "ComplianceReport", "SegmentPieces"]

MAX_LISTED = 1000
UNKNOWN = "??"  # a piece on a node the satellite has no row for: reported, never healthy


@dataclass(frozen=True, slots=True)
class SegmentPieces:
    """One segment of an object or of a pending multipart upload, and the nodes of its pieces."""

    object_key: str
    version: int | None  # None for a pending upload's part
    part_number: int
    index: int
    k: int  # 0 for an inline segment: it has no pieces
    repair_threshold: int
    node_ids: Sequence[str]


class ComplianceReport:
    """Accumulates segments, then :meth:`to_dict` gives the report."""

    def __init__(
        self,
        bucket: str,
        policy: PlacementPolicy,
        nodes: Mapping[str, NodeCandidate],
        *,
        now: float,
        online_window: float,
        capacity_short: Mapping[str, Any] | None = None,
    ) -> None:
        self.bucket = bucket
        self.policy = policy
        self.nodes = nodes
        self.now = now
        self.online_window = online_window
        self.capacity_short = capacity_short
        self.by_country: Counter[str] = Counter()
        self.by_region: Counter[str] = Counter()
        self.outside: Counter[str] = Counter()  # node id -> pieces out of policy
        self.weak: list[dict[str, Any]] = []
        self.weak_count = 0
        self.lost_count = 0
        self.remote_segments = 0
        self.inline_segments = 0
        self.pieces = 0

    def _healthy(self, node: NodeCandidate | None) -> bool:
        return (
            node is not None
            and not node.disqualified
            and self.now - node.last_contact <= self.online_window
            and in_policy(node, self.policy)
        )

    def add(self, segment: SegmentPieces) -> None:
        if segment.k == 0:
            self.inline_segments += 1
            return
        self.remote_segments += 1
        healthy = 0
        for node_id in segment.node_ids:
            node = self.nodes.get(node_id)
            self.pieces += 1
            self.by_country[node.country.upper() if node else UNKNOWN] += 1
            self.by_region[(node.region or "(none)") if node else UNKNOWN] += 1
            if node is None or not in_policy(node, self.policy):
                self.outside[node_id] += 1
            healthy += self._healthy(node)
        if healthy < segment.repair_threshold:
            self.weak_count += 1
            self.lost_count += healthy < segment.k
            if len(self.weak) < MAX_LISTED:
                self.weak.append(
                    {
                        "object": segment.object_key,
                        "version": segment.version,
                        "part": segment.part_number,
                        "index": segment.index,
                        "pieces": len(segment.node_ids),
                        "healthy": healthy,
                        "repair_threshold": segment.repair_threshold,
                        "k": segment.k,
                        "lost": healthy < segment.k,
                    }
                )

    def to_dict(self) -> dict[str, Any]:
        outside_nodes = []
        for node_id, count in sorted(self.outside.items(), key=lambda kv: (-kv[1], kv[0])):
            node = self.nodes.get(node_id)
            outside_nodes.append(
                {
                    "node_id": node_id,
                    "country": node.country if node else UNKNOWN,
                    "region": node.region if node else UNKNOWN,
                    "pieces": count,
                }
            )
        out_of_policy = sum(self.outside.values())
        degraded = self.weak_count > 0 or self.capacity_short is not None
        status = "out_of_policy" if out_of_policy else "degraded" if degraded else "compliant"
        return {
            "bucket": self.bucket,
            "policy": self.policy.to_dict(),
            "segments": {"remote": self.remote_segments, "inline": self.inline_segments},
            "pieces": self.pieces,
            "pieces_by_country": dict(sorted(self.by_country.items())),
            "pieces_by_region": dict(sorted(self.by_region.items())),
            "out_of_policy": {"pieces": out_of_policy, "nodes": outside_nodes},
            "below_repair_threshold": {
                "segments": self.weak_count,
                "lost": self.lost_count,
                "listed": self.weak,
                "truncated": self.weak_count > len(self.weak),
            },
            "capacity_short": dict(self.capacity_short) if self.capacity_short is not None else None,
            "status": status,
            "compliant": status == "compliant",
        }
