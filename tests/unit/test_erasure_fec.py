"""The FEC backend interface and zfec behind it: systematic, any k pieces decode."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erasure import BackendError, FecBackend, NotEnoughPiecesError, PieceError, ZfecBackend, get_backend


def test_default_backend_is_zfec_and_satisfies_the_protocol() -> None:
    backend = get_backend()
    assert backend.name == "zfec" and isinstance(backend, ZfecBackend)
    assert isinstance(backend, FecBackend)
    with pytest.raises(BackendError, match="unknown"):
        get_backend("isa-l-not-installed")


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 20), st.integers(0, 40), st.integers(1, 300), st.randoms(use_true_random=False))
def test_any_k_of_n_pieces_give_back_the_primary_blocks(k: int, extra: int, size: int, rng: random.Random) -> None:
    n = min(k + extra, 256)
    blocks = [rng.randbytes(size) for _ in range(k)]
    pieces = get_backend().encode(k, n, blocks)
    assert len(pieces) == n
    assert [bytes(p) for p in pieces[:k]] == blocks  # systematic: primaries are pieces 0..k-1
    nums = rng.sample(range(n), k)
    out = get_backend().decode(k, n, {j: pieces[j] for j in nums})
    assert [bytes(b) for b in out] == blocks


def test_decode_arguments_are_checked() -> None:
    backend = get_backend()
    pieces = backend.encode(2, 4, [b"ab", b"cd"])
    with pytest.raises(NotEnoughPiecesError):
        backend.decode(2, 4, {3: pieces[3]})
    with pytest.raises(PieceError, match="exactly"):
        backend.decode(2, 4, dict(enumerate(pieces[:3])))
    with pytest.raises(PieceError, match="length"):
        backend.decode(2, 4, {0: b"a", 3: pieces[3]})
    with pytest.raises(PieceError, match="outside"):
        backend.decode(2, 4, {0: pieces[0], 4: pieces[3]})
    with pytest.raises(PieceError):
        backend.encode(2, 4, [b"ab"])
    with pytest.raises(BackendError):
        backend.encode(3, 2, [b"a", b"b", b"c"])
    assert backend.encode(2, 3, [b"", b""]) == [b"", b"", b""]
