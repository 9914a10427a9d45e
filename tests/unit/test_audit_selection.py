"""Weighted reservoir sampling: pieces are drawn in proportion to their bytes (seeded)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from satellite.audit import PieceRef, WeightedReservoir
from satellite.audit.verifier import pick_leaves


def test_one_draw_is_proportional_to_size() -> None:
    rng = random.Random(1234)
    items = [PieceRef(i, 0, f"n{i}", size) for i, size in enumerate((1000, 2000, 3000, 4000))]
    trials = 20_000
    wins: Counter[int] = Counter()
    for _ in range(trials):
        r = WeightedReservoir(1, rng)
        r.extend(items)
        (got,) = r.drain()
        wins[got.segment_id] += 1
    for i, size in enumerate((1000, 2000, 3000, 4000)):
        # σ = sqrt(p(1-p)/n) ≤ 0.0035: a tolerance of 0.015 is over 4σ and still catches a uniform draw.
        assert wins[i] / trials == pytest.approx(size / 10_000, abs=0.015)


def test_nodes_are_audited_in_proportion_to_what_they_store() -> None:
    """Node A stores 1,000 small pieces, node B 100 pieces 30× larger (3× A's bytes)."""
    rng = random.Random(99)
    pieces = [PieceRef(i, 0, "A", 10_000) for i in range(1000)]
    pieces += [PieceRef(10_000 + i, 0, "B", 300_000) for i in range(100)]
    per_node: Counter[str] = Counter()
    for _ in range(400):
        r = WeightedReservoir(20, rng)
        r.extend(pieces)
        per_node.update(p.node_id for p in r.drain())
    share_b = per_node["B"] / (per_node["A"] + per_node["B"])
    assert share_b == pytest.approx(0.75, abs=0.03)  # uniform-per-piece would give 0.09


def test_reservoir_keeps_at_most_its_capacity_and_skips_empty_pieces() -> None:
    r = WeightedReservoir(5, random.Random(0))
    r.extend(PieceRef(i, 0, "n", 0 if i % 2 else 100) for i in range(100))
    got = r.drain()
    assert len(got) == 5 and all(p.size == 100 for p in got) and len(r) == 0
    assert r.seen == 50


def test_leaf_indexes_are_distinct_and_in_range() -> None:
    for count in (1, 2, 3, 100):
        idx = pick_leaves(count, 3)
        assert len(idx) == min(3, count) and len(set(idx)) == len(idx) and all(0 <= i < count for i in idx)
    assert pick_leaves(1, 3) == (0,)
