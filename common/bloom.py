"""A deterministic bloom filter for retain lists.

The satellite builds one filter per node of the piece ids it should keep; the node tests
each piece it holds against it. Both sides must hash identically across processes and
versions, so the filter derives its bit positions from blake3 of the piece id (Python's
``hash`` is randomised per process, which rules out most PyPI bloom filters as a wire
format). False positives only mean that a little garbage survives until the next list;
there are no false negatives, so a live piece is never deleted.
"""

from __future__ import annotations

import math

import blake3

__all__ = ["BloomFilter"]


class BloomFilter:
    __slots__ = ("_m", "bits", "hash_count")

    def __init__(self, bits: bytearray | bytes, hash_count: int) -> None:
        if not bits:
            raise ValueError("a bloom filter needs at least one byte")
        if not 1 <= hash_count <= 32:
            raise ValueError("hash_count must be 1-32")
        self.bits = bytearray(bits)
        self.hash_count = hash_count
        self._m = len(self.bits) * 8

    @classmethod
    def for_capacity(cls, items: int, false_positive_rate: float = 0.1) -> BloomFilter:
        """An empty filter sized for ``items`` entries at the given false-positive rate."""
        n = max(1, items)
        m = max(64, math.ceil(-n * math.log(false_positive_rate) / (math.log(2) ** 2)))
        k = max(1, min(32, round(m / n * math.log(2))))
        return cls(bytearray((m + 7) // 8), k)

    def _positions(self, item: bytes) -> list[int]:
        digest = blake3.blake3(item).digest(length=8 * self.hash_count)
        return [
            int.from_bytes(digest[8 * i : 8 * i + 8], "little") % self._m
            for i in range(self.hash_count)
        ]

    def add(self, item: bytes) -> None:
        for p in self._positions(item):
            self.bits[p >> 3] |= 1 << (p & 7)

    def __contains__(self, item: bytes) -> bool:
        return all(self.bits[p >> 3] & (1 << (p & 7)) for p in self._positions(item))
