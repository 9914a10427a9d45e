"""How a retain list's bloom filter names pieces, so the satellite and nodes agree.

The filter holds the 32 raw bytes of each piece id (``bytes.fromhex(piece_id)``), not
its hex text. The satellite builds it with :func:`build_retain_filter`; a node asks
:func:`retains`.
"""

from __future__ import annotations

from collections.abc import Collection

from common.bloom import BloomFilter

__all__ = ["build_retain_filter", "retains"]


def build_retain_filter(piece_ids: Collection[str], false_positive_rate: float = 0.1) -> BloomFilter:
    bloom = BloomFilter.for_capacity(len(piece_ids), false_positive_rate)
    for piece_id in piece_ids:
        bloom.add(bytes.fromhex(piece_id))
    return bloom


def retains(bloom: BloomFilter, piece_id: str) -> bool:
    """True when the filter (probably) holds ``piece_id``; never False for a piece added."""
    return bytes.fromhex(piece_id) in bloom
