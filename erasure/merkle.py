"""Merkle trees over pieces, with blake3.

A piece is cut into leaves of ``leaf_size`` bytes (the last may be short; in practice a
piece is a whole number of shares and leaf = share). The tree is binary and unbalanced in
the simplest way: at each level nodes are paired left to right, and an odd last node is
*promoted* unchanged to the next level. Hashes are domain-separated so that a leaf can
never be passed off as an inner node::

    leaf  = blake3(0x00 || leaf bytes)
    inner = blake3(0x01 || left || right)
    empty = blake3(0x02)                      (the root of a piece with no bytes)

The satellite keeps only the 32-byte root per piece. Two kinds of proof are derived from
the levels of the tree:

* :meth:`MerkleTree.proof` — the sibling path of one leaf, for audits (O(log n) hashes);
* :meth:`MerkleTree.range_proof` — the hashes needed to recompute the root from a
  contiguous run of leaves, for ranged downloads: at most two per level, however long
  the run, so the gateway can check every share it decodes against the satellite's root.

The shape of the tree depends only on the number of leaves, which the verifier derives
from the piece size it already knows; proofs therefore carry no direction bits.
"""

from __future__ import annotations

from collections.abc import Sequence

import blake3

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "StreamingMerkle",
    "inner_hash",
    "leaf_count",
    "leaf_hash",
    "level_sizes",
    "merkle_root",
    "root_from_range",
    "verify_proof",
    "verify_range",
]

HASH_SIZE = 32
EMPTY_ROOT = blake3.blake3(b"\x02").digest()


def leaf_hash(leaf: bytes | bytearray | memoryview) -> bytes:
    """blake3(0x00 || leaf), given to blake3 as one buffer.

    Feeding the domain byte and then the leaf (``blake3(b"\x00").update(leaf)``) gives the
    same hash but costs three times the CPU for a 16 KiB leaf (10.4 against 3.6 µs here):
    after one buffered byte the hasher can only take the rest a chunk or two at a time
    instead of in one wide SIMD batch. Copying the leaf behind the byte costs far less.
    """
    return blake3.blake3(b"\x00" + leaf).digest()


def inner_hash(left: bytes, right: bytes) -> bytes:
    return blake3.blake3(b"\x01" + left + right).digest()


def leaf_count(size: int, leaf_size: int) -> int:
    """Number of leaves of a piece of ``size`` bytes."""
    if leaf_size <= 0:
        raise ValueError("leaf_size must be positive")
    return -(-size // leaf_size)


def level_sizes(leaves: int) -> list[int]:
    """Node count of every level, leaves first, root (1) last; ``[0]`` for no leaves."""
    sizes = [leaves]
    while sizes[-1] > 1:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def _next_level(level: Sequence[bytes]) -> list[bytes]:
    out = [inner_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
    if len(level) % 2:
        out.append(level[-1])
    return out


class MerkleTree:
    """All levels of a tree, leaf hashes first. Built once; proofs are lookups."""

    __slots__ = ("levels",)

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(levels[-1]) > 1:
            levels.append(_next_level(levels[-1]))
        self.levels = levels

    @classmethod
    def from_data(cls, data: bytes | memoryview, leaf_size: int) -> MerkleTree:
        mv = memoryview(data)
        return cls([leaf_hash(mv[i : i + leaf_size]) for i in range(0, len(mv), leaf_size)])

    @property
    def leaf_count(self) -> int:
        return len(self.levels[0])

    @property
    def root(self) -> bytes:
        return self.levels[-1][0] if self.levels[0] else EMPTY_ROOT

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf ``index`` up to the root (promotions skipped)."""
        return self.range_proof(index, index + 1)

    def range_proof(self, start: int, stop: int) -> list[bytes]:
        """Hashes that, with leaves ``[start, stop)``, recompute the root (see :func:`root_from_range`)."""
        n = self.leaf_count
        if not 0 <= start < stop <= n:
            raise IndexError(f"leaf range [{start}, {stop}) outside a tree of {n} leaves")
        out: list[bytes] = []
        lo, hi = start, stop
        for level in self.levels[:-1]:
            if lo % 2 == 1:
                out.append(level[lo - 1])
            if (hi - 1) % 2 == 0 and hi < len(level):
                out.append(level[hi])
            lo, hi = lo // 2, (hi - 1) // 2 + 1
        return out


def merkle_root(data: bytes | memoryview, leaf_size: int) -> bytes:
    return MerkleTree.from_data(data, leaf_size).root


def root_from_range(
    start: int, hashes: Sequence[bytes], proof: Sequence[bytes], leaves: int
) -> bytes:
    """Recompute the root from the leaf hashes of ``[start, start + len(hashes))``.

    ``leaves`` is the total leaf count of the tree. Raises ``ValueError`` when the proof
    has the wrong number of hashes for that shape.
    """
    stop = start + len(hashes)
    if not hashes or not 0 <= start < stop <= leaves:
        raise ValueError(f"leaf range [{start}, {stop}) outside a tree of {leaves} leaves")
    it = iter(proof)
    try:
        lo, hi = start, stop
        nodes = list(hashes)
        for size in level_sizes(leaves)[:-1]:
            if lo % 2 == 1:
                nodes.insert(0, next(it))
                lo -= 1
            if (hi - 1) % 2 == 0 and hi < size:
                nodes.append(next(it))
                hi += 1
            nodes = _next_level(nodes)
            lo, hi = lo // 2, (hi - 1) // 2 + 1
    except StopIteration:
        raise ValueError("Merkle proof is too short for this tree") from None
    if next(it, None) is not None:
        raise ValueError("Merkle proof is too long for this tree")
    return nodes[0]


def verify_range(
    root: bytes,
    start: int,
    data: bytes | memoryview,
    leaf_size: int,
    proof: Sequence[bytes],
    leaves: int,
) -> bool:
    """True when ``data`` is exactly leaves ``[start, …)`` of the tree with ``root``."""
    mv = memoryview(data)
    hashes = [leaf_hash(mv[i : i + leaf_size]) for i in range(0, len(mv), leaf_size)]
    try:
        return root_from_range(start, hashes, proof, leaves) == root
    except ValueError:
        return False


def verify_proof(
    root: bytes, index: int, leaf: bytes | memoryview, proof: Sequence[bytes], leaves: int
) -> bool:
    """True when ``leaf`` is leaf ``index`` of the tree with ``root`` and ``leaves`` leaves."""
    try:
        return root_from_range(index, [leaf_hash(leaf)], proof, leaves) == root
    except ValueError:
        return False


class StreamingMerkle:
    """Hashes leaves as bytes arrive.

    Whole leaves inside a chunk are hashed where they lie. Network chunks rarely fall on
    leaf boundaries, so the bytes of a leaf split across chunks are gathered behind its
    domain byte and hashed in one call once complete: copying at most one leaf per chunk
    costs less than feeding a running hasher piece by piece (see :func:`leaf_hash`).
    """

    __slots__ = ("_partial", "hashes", "leaf_size", "size")

    def __init__(self, leaf_size: int) -> None:
        if leaf_size <= 0:
            raise ValueError("leaf_size must be positive")
        self.leaf_size = leaf_size
        self._partial = bytearray(b"\x00")  # the domain byte, then the current partial leaf
        self.hashes: list[bytes] = []
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        mv = memoryview(data).cast("B")
        n = len(mv)
        self.size += n
        ls = self.leaf_size
        pos = 0
        fill = len(self._partial) - 1
        if fill:
            pos = min(ls - fill, n)
            self._partial += mv[:pos]
            if fill + pos == ls:
                self.hashes.append(blake3.blake3(self._partial).digest())
                del self._partial[1:]
        whole = pos + (n - pos) // ls * ls
        self.hashes += [leaf_hash(mv[i : i + ls]) for i in range(pos, whole, ls)]
        if whole < n:
            self._partial += mv[whole:]

    def tree(self) -> MerkleTree:
        """The finished tree (call once all bytes were given)."""
        hashes = list(self.hashes)
        if len(self._partial) > 1:
            hashes.append(blake3.blake3(self._partial).digest())
        return MerkleTree(hashes)
