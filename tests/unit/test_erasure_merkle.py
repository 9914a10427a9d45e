"""Merkle trees over pieces: every proof shape up to 40 leaves, and every tampering rejected."""

from __future__ import annotations

import os

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erasure import merkle
from erasure.merkle import MerkleTree, StreamingMerkle, root_from_range, verify_proof, verify_range

LEAF = 8


def _tree(n: int) -> tuple[bytes, MerkleTree]:
    data = os.urandom(n * LEAF)
    return data, MerkleTree.from_data(data, LEAF)


def _leaf(data: bytes, i: int) -> bytes:
    return data[i * LEAF : (i + 1) * LEAF]


@pytest.mark.parametrize("n", range(1, 41))
def test_every_single_leaf_proof_verifies_and_a_tampered_one_does_not(n: int) -> None:
    data, tree = _tree(n)
    for i in range(n):
        proof = tree.proof(i)
        assert len(proof) <= max(1, n.bit_length())
        assert verify_proof(tree.root, i, _leaf(data, i), proof, n)
        bad_leaf = bytes([_leaf(data, i)[0] ^ 1]) + _leaf(data, i)[1:]
        assert not verify_proof(tree.root, i, bad_leaf, proof, n)
        if n > 1:
            assert not verify_proof(tree.root, (i + 1) % n, _leaf(data, i), proof, n)
        for j in range(len(proof)):
            bad = list(proof)
            bad[j] = bytes([bad[j][0] ^ 0x80]) + bad[j][1:]
            assert not verify_proof(tree.root, i, _leaf(data, i), bad, n)
        # A proof with a hash missing or added does not fit the tree's shape.
        if proof:
            assert not verify_proof(tree.root, i, _leaf(data, i), proof[:-1], n)
        assert not verify_proof(tree.root, i, _leaf(data, i), [*proof, bytes(32)], n)


@pytest.mark.parametrize("n", range(1, 41))
def test_every_range_proof_verifies_with_at_most_two_hashes_per_level(n: int) -> None:
    data, tree = _tree(n)
    levels = len(merkle.level_sizes(n)) - 1
    for start in range(n):
        for stop in range(start + 1, n + 1):
            proof = tree.range_proof(start, stop)
            assert len(proof) <= 2 * levels
            chunk = data[start * LEAF : stop * LEAF]
            assert verify_range(tree.root, start, chunk, LEAF, proof, n)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13, 33, 40])
def test_tampered_range_data_proofs_and_proof_or_leaf_lengths_are_rejected(n: int) -> None:
    data, tree = _tree(n)
    for start in range(n):
        for stop in range(start + 1, n + 1):
            proof = tree.range_proof(start, stop)
            chunk = bytearray(data[start * LEAF : stop * LEAF])
            chunk[-1] ^= 1
            assert not verify_range(tree.root, start, chunk, LEAF, proof, n)
            good = data[start * LEAF : stop * LEAF]
            for j in range(len(proof)):
                bad = list(proof)
                bad[j] = bytes(32)
                assert not verify_range(tree.root, start, good, LEAF, bad, n)
            # Proofs of the wrong length do not fit the tree's shape.
            if proof:
                assert not verify_range(tree.root, start, good, LEAF, proof[:-1], n)
            assert not verify_range(tree.root, start, good, LEAF, [*proof, bytes(32)], n)
            # Leaf bytes of the wrong length (a truncated last leaf) hash differently.
            assert not verify_range(tree.root, start, good[:-1], LEAF, proof, n)
            # Dropping a leaf from a multi-leaf range breaks it.
            if stop - start > 1:
                assert not verify_range(tree.root, start, good[:-LEAF], LEAF, proof, n)


def test_range_outside_tree_raises() -> None:
    _, tree = _tree(5)
    with pytest.raises(IndexError):
        tree.range_proof(3, 6)
    with pytest.raises(IndexError):
        tree.proof(5)
    with pytest.raises(ValueError):
        root_from_range(5, [bytes(32)], [], 5)


def test_leaf_cannot_be_passed_off_as_inner_node() -> None:
    # Leaves and inner nodes are domain separated: the concatenated children of the root of
    # a 2-leaf tree, given as a single leaf, do not hash to that root.
    data, tree = _tree(2)
    children = merkle.leaf_hash(_leaf(data, 0)) + merkle.leaf_hash(_leaf(data, 1))
    assert MerkleTree.from_data(children, 64).root != tree.root
    assert tree.root == merkle.inner_hash(*tree.levels[0])


def test_hash_formulas_and_empty_root() -> None:
    assert merkle.leaf_hash(b"ab") == blake3.blake3(b"\x00ab").digest()
    assert merkle.inner_hash(b"a" * 32, b"b" * 32) == blake3.blake3(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert merkle.merkle_root(b"", 4096) == merkle.EMPTY_ROOT == blake3.blake3(b"\x02").digest()
    assert merkle.leaf_count(0, 10) == 0 and merkle.leaf_count(10, 10) == 1 and merkle.leaf_count(11, 10) == 2
    # An odd last node is promoted unchanged: 3 leaves → inner(inner(l0, l1), l2).
    data, tree = _tree(3)
    l0, l1, l2 = (merkle.leaf_hash(_leaf(data, i)) for i in range(3))
    assert tree.root == merkle.inner_hash(merkle.inner_hash(l0, l1), l2)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=600), st.integers(1, 64), st.lists(st.integers(0, 100), max_size=12))
def test_streaming_tree_matches_one_shot_tree_for_any_chunking(data: bytes, leaf: int, cuts: list[int]) -> None:
    sm = StreamingMerkle(leaf)
    pos = 0
    for c in cuts:
        sm.update(data[pos : pos + c])
        pos += c
    sm.update(data[pos:])
    assert sm.size == len(data)
    assert sm.tree().root == merkle.merkle_root(data, leaf)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from([1024, 4096, 16384]), st.lists(st.integers(1, 40_000), max_size=8))
def test_streaming_roots_of_multi_chunk_leaves_equal_roots_hashed_the_old_way(leaf: int, cuts: list[int]) -> None:
    # Leaves of 1 KiB and more span several blake3 chunks, where how the bytes reach the
    # hasher changes its work but must not change the hash: pieces stored before leaves
    # were hashed in one buffer keep their roots.
    data = bytes(range(256)) * 300 + b"tail"
    sm = StreamingMerkle(leaf)
    pos = 0
    for c in cuts:
        sm.update(memoryview(data)[pos : pos + c])
        pos += c
    sm.update(data[pos:])
    old = []
    for i in range(0, len(data), leaf):
        h = blake3.blake3(b"\x00")
        h.update(data[i : i + leaf])
        old.append(h.digest())
    assert sm.tree().root == MerkleTree(old).root == merkle.merkle_root(data, leaf)
