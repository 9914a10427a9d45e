"""Which pieces to audit: a weighted random sample of the pieces table, by bytes.

A piece of ``b`` bytes should be audited ``b`` times as often as a piece of one byte: then
every node is audited in proportion to what it stores, and losing a large piece is found
as fast as losing many small ones. Picking one piece with probability ∝ size needs either
a cumulative-size index (which every upload and delete would have to maintain) or a scan.

We scan, but once per *many* audits, with Efraimidis–Spirakis weighted reservoir sampling
(A-Res): each piece gets the key ``ln(u) / size`` for ``u`` uniform in (0, 1], and the
``m`` pieces with the largest keys are a sample of ``m`` drawn without replacement with
probability ∝ size. The reservoir is a min-heap of ``m`` entries, so a pass over ``n``
pieces costs O(n log m) time and O(m) memory; the chore reads the table in keyset-paged
batches (one batch per step, never the whole table in one query or in memory) and audits
the ``m`` winners before the next pass. With ``m`` audits per scan the scan is amortised to
``n / m`` rows per audit, and every pass is a fresh draw, so a node cannot learn which of
its pieces are safe to drop.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["PieceRef", "WeightedReservoir"]


@dataclass(frozen=True, order=True)
class PieceRef:
    """A piece the scan saw: enough to find it again (``segment_id``, ``number``)."""

    segment_id: int
    number: int
    node_id: str = field(compare=False)
    size: int = field(compare=False)


class WeightedReservoir:
    """Keeps a sample of ``capacity`` items drawn with probability proportional to weight."""

    def __init__(self, capacity: int, rng: random.Random | None = None) -> None:
        if capacity <= 0:
            raise ValueError("reservoir capacity must be positive")
        self.capacity = capacity
        self.rng = rng or random.SystemRandom()
        self._heap: list[tuple[float, int, PieceRef]] = []
        self._seq = 0  # tie-breaker: PieceRefs never need comparing
        self.seen = 0

    def offer(self, item: PieceRef) -> None:
        if item.size <= 0:
            return
        self.seen += 1
        u = 1.0 - self.rng.random()  # (0, 1]: log is defined
        key = math.log(u) / item.size
        self._seq += 1
        entry = (key, self._seq, item)
        if len(self._heap) < self.capacity:
            heapq.heappush(self._heap, entry)
        elif key > self._heap[0][0]:
            heapq.heapreplace(self._heap, entry)

    def extend(self, items: Iterable[PieceRef]) -> None:
        for item in items:
            self.offer(item)

    def __len__(self) -> int:
        return len(self._heap)

    def drain(self) -> list[PieceRef]:
        """The sample, in random order (so one node's pieces are not audited back to back)."""
        items = [e[2] for e in self._heap]
        self._heap.clear()
        self.rng.shuffle(items)
        return items
