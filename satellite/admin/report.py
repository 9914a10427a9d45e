"""The compliance report: where every piece of a bucket lives, and whether it may live there.

This is what an admin shows an auditor, so it is computed from the piece table itself, not
from what placement intended: pieces per country and per region, every piece on a node
outside the bucket's current policy (named by node), and the segments whose healthy pieces
have fallen below their repair threshold. A piece is healthy when its node is online, not
disqualified, and in policy, the same rule the repair checker applies. The accumulator is
fed one segment at a time, so a bucket of any size is reported in bounded memory: only the
first :data:`MAX_LISTED` weak segments are listed, all are counted.

Inline segments are data too: their bytes are in the satellite's database, so they are
counted (``inline_bytes_by_country``) under the country the satellite's config declares
(:class:`satellite.residency.MetadataLocation`), and an inline segment in a bucket whose
policy excludes that place is out of policy like a piece on a node outside it.

``status`` is the worst that is true, and a report cannot read better than the data:

- ``data_lost``: a segment has fewer than ``k`` healthy pieces; its object keys are listed
  (``data_lost.keys``) — never ``compliant`` or ``degraded`` over a segment below ``k``;
- ``out_of_policy``: a piece on a node outside the policy, or inline bytes in a database
  outside it;
- ``degraded``: every byte is in policy, but segments are below their repair threshold
  (``below_repair_threshold``, with how many have a repair queued) or the policy is short of
  eligible nodes (``capacity_short``) — in policy, but not compliant, because an auditor asks
  about durability as well as location;
- ``compliant``: none of these.

``last_full_verification`` is when the repair checker last finished a pass over every segment
(each piece judged against node liveness, disqualification and policy); the report itself is a
full read of the metadata at ``generated_at``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from satellite.nodeselection import NodeCandidate, PlacementPolicy, in_policy
from satellite.residency import MetadataLocation

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
    segment_id: int = 0
    inline_bytes: int = 0  # encrypted bytes held in the satellite's database (inline segments)


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
        metadata: MetadataLocation | None = None,
        queued: frozenset[int] = frozenset(),
        last_full_verification: str | None = None,
    ) -> None:
        self.metadata = metadata or MetadataLocation()
        self.inline_in_policy = self.metadata.allows_inline(policy)
        self.queued = queued  # segment ids with a repair job
        self.last_full_verification = last_full_verification
        self.inline_by_country: Counter[str] = Counter()
        self.inline_outside = 0  # inline segments whose bytes are outside the policy
        self.inline_outside_bytes = 0
        self.weak_queued = 0
        self.lost_keys: dict[tuple[str, int | None], int] = {}  # (key, version) -> lost segments
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
            self.inline_by_country[self.metadata.storage_country] += segment.inline_bytes
            if not self.inline_in_policy:
                self.inline_outside += 1
                self.inline_outside_bytes += segment.inline_bytes
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
            self.weak_queued += segment.segment_id in self.queued
            if healthy < segment.k:
                ref = (segment.object_key, segment.version)
                if ref in self.lost_keys or len(self.lost_keys) < MAX_LISTED:
                    self.lost_keys[ref] = self.lost_keys.get(ref, 0) + 1
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
                        "repair_queued": segment.segment_id in self.queued,
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
        if self.lost_count:
            status = "data_lost"
        elif out_of_policy or self.inline_outside:
            status = "out_of_policy"
        else:
            status = "degraded" if degraded else "compliant"
        lost_keys = [
            {"object": key, "version": version, "segments": n} for (key, version), n in sorted(
                self.lost_keys.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
        ]  # fmt: skip
        return {
            "bucket": self.bucket,
            "policy": self.policy.to_dict(),
            "segments": {"remote": self.remote_segments, "inline": self.inline_segments},
            "pieces": self.pieces,
            "pieces_by_country": dict(sorted(self.by_country.items())),
            "pieces_by_region": dict(sorted(self.by_region.items())),
            "inline_bytes": sum(self.inline_by_country.values()),
            "inline_bytes_by_country": dict(sorted(self.inline_by_country.items())),
            "metadata_location": self.metadata.describe(),
            "out_of_policy": {
                "pieces": out_of_policy,
                "nodes": outside_nodes,
                "inline_segments": self.inline_outside,
                "inline_bytes": self.inline_outside_bytes,
            },
            "degraded": {"segments": self.weak_count - self.lost_count},
            "data_lost": {
                "segments": self.lost_count,
                "objects": len(self.lost_keys),
                "keys": lost_keys,
                "truncated": len(self.lost_keys) >= MAX_LISTED,
            },
            "below_repair_threshold": {
                "segments": self.weak_count,
                "lost": self.lost_count,
                "listed": self.weak,
                "truncated": self.weak_count > len(self.weak),
                "repair_queued": self.weak_queued,
            },
            "capacity_short": dict(self.capacity_short) if self.capacity_short is not None else None,
            "status": status,
            "compliant": status == "compliant",
            "last_full_verification": self.last_full_verification,
        }
