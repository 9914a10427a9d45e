"""Rebuilding pieces from any k (repair's codec step): byte-identical, same roots, no key."""

from __future__ import annotations

import itertools
import os

import pytest

from erasure import (
    NotEnoughPiecesError,
    PieceError,
    RedundancyScheme,
    encode_segment,
    new_segment_key,
    piece_root,
    rebuild_pieces,
)


@pytest.mark.parametrize("backend", ["isal", "zfec"])
@pytest.mark.parametrize(("scheme", "size"), [("2/3/4/5", 1), ("4/6/8/10", 300_000), ("3/4/5/7", 70_001)])
def test_any_k_pieces_rebuild_every_other_piece_byte_for_byte(scheme: str, size: int, backend: str) -> None:
    enc = encode_segment(
        os.urandom(size), RedundancyScheme.parse(scheme), new_segment_key(), os.urandom(16), backend=backend
    )
    k, n = enc.layout.scheme.k, enc.layout.scheme.total
    for subset in itertools.islice(itertools.combinations(range(n), k), 12):
        have = {j: enc.pieces[j] for j in subset}
        wanted = [j for j in range(n) if j not in subset]
        rebuilt = rebuild_pieces(enc.layout, have, wanted)
        assert sorted(rebuilt) == wanted
        for j in wanted:
            assert bytes(rebuilt[j]) == bytes(enc.pieces[j])
            assert piece_root(rebuilt[j], enc.layout.share_size) == enc.roots[j]


def test_a_corrupt_input_piece_yields_pieces_whose_roots_differ() -> None:
    """Why the repairer compares rebuilt roots with the stored ones: bad input is caught."""
    enc = encode_segment(os.urandom(50_000), RedundancyScheme.parse("2/3/4/5"), new_segment_key(), os.urandom(16))
    bad = bytearray(enc.pieces[1])
    bad[100] ^= 0xFF
    rebuilt = rebuild_pieces(enc.layout, {0: enc.pieces[0], 1: bad}, [2, 3, 4])
    assert all(piece_root(rebuilt[j], enc.layout.share_size) != enc.roots[j] for j in (2, 3, 4))


def test_too_few_pieces_or_bad_numbers_are_refused() -> None:
    enc = encode_segment(os.urandom(1000), RedundancyScheme.parse("2/3/4/5"), new_segment_key(), os.urandom(16))
    with pytest.raises(NotEnoughPiecesError):
        rebuild_pieces(enc.layout, {0: enc.pieces[0]}, [1])
    with pytest.raises(PieceError):
        rebuild_pieces(enc.layout, {0: enc.pieces[0], 1: enc.pieces[1]}, [5])
    with pytest.raises(PieceError):
        rebuild_pieces(enc.layout, {0: enc.pieces[0], 1: enc.pieces[1][:-1]}, [2])
