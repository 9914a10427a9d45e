"""Progress of a bucket's migration: how much of it already lives where its placement policy says.

Changing a bucket's policy (or a node's location) does not move pieces at once: the repair
checker queues every segment with a piece outside the policy (reason ``out_of_policy``) and
the repairers re-place those pieces. An admin watching a large migration wants a number, so
this counts, from the piece table itself and by the compliance report's rule
(``satellite.nodeselection.in_policy``), the remote segments whose every piece is in policy:
``progress`` is their share of the bucket's remote segments (1.0 for a bucket with none).
A policy change that leaves most pieces where they may stay therefore starts well above 0 %:
the percentage says how much of the bucket is compliant, not how much work was done. Like the
report it is fed one segment at a time, so memory stays bounded by the node table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from satellite.nodeselection import NodeCandidate, PlacementPolicy, in_policy

from .report import SegmentPieces

__all__ = ["MigrationProgress"]


class MigrationProgress:
    """Accumulates a bucket's segments; :meth:`to_dict` is the ``/migration`` answer."""

    def __init__(self, bucket: str, policy: PlacementPolicy, nodes: Mapping[str, NodeCandidate]) -> None:
        self.bucket, self.policy, self.nodes = bucket, policy, nodes
        self.remote = self.segments_in = self.inline = 0
        self.pieces = self.pieces_out = 0

    def add(self, segment: SegmentPieces) -> None:
        if segment.k == 0:
            self.inline += 1  # inline segments live in the satellite's database: nothing to move
            return
        self.remote += 1
        out = 0
        for node_id in segment.node_ids:
            node = self.nodes.get(node_id)
            out += node is None or not in_policy(node, self.policy)
        self.pieces += len(segment.node_ids)
        self.pieces_out += out
        self.segments_in += out == 0

    @property
    def progress(self) -> float:
        return 1.0 if self.remote == 0 else self.segments_in / self.remote

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "policy": self.policy.name,
            "state": "done" if self.pieces_out == 0 else "migrating",
            "progress": round(self.progress, 4),
            "segments": {
                "remote": self.remote,
                "in_policy": self.segments_in,
                "out_of_policy": self.remote - self.segments_in,
                "inline": self.inline,
            },
            "pieces": {"total": self.pieces, "out_of_policy": self.pieces_out},
        }
