"""The GET path's zero-copy pieces: primary shares gathered in place into a stripe buffer,
checked there against the piece's Merkle root, decrypted to a view; the same bytes as
``decode_range`` for every range, every choice of pieces and every chunking of the wire."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

from common.piece_client import _scatter
from erasure import DecryptionError, PieceError, RedundancyScheme, decode_range, encode_segment, piece_tree
from erasure.segment import decode_range_view, decrypt_stripes, stripe_buffer, verify_share_rows

KEY = bytes(range(32))
SID = b"seg-zero-copy-01"
SCHEME = RedundancyScheme(4, 6, 8, 10)
RNG = random.Random(20250101)


@pytest.fixture(scope="module")
def segment():  # type: ignore[no-untyped-def]
    data = os.urandom(3 * 2**20 + 12345)  # a short last block and padding
    return data, encode_segment(data, SCHEME, KEY, SID)


def _ranges(size: int) -> list[tuple[int, int]]:
    fixed = [(0, size), (0, 1), (size - 1, 1), (70_000, 200_000), (65_519, 2)]
    rand = [(o, RNG.randint(1, size - o)) for o in (RNG.randrange(size) for _ in range(8))]
    return fixed + rand


def _gather(enc, offset: int, length: int, chunk: int) -> tuple[np.ndarray, dict[int, list[bytes]]]:  # type: ignore[no-untyped-def]
    """What the downloader does with the primary pieces: scatter each piece's range into its
    column of a stripe buffer, in wire chunks of ``chunk`` bytes; also their range proofs."""
    lay = enc.layout
    plan = lay.stripe_range(offset, length)
    buf = stripe_buffer(lay, plan.stripe_stop - plan.stripe_start)
    proofs = {}
    for j in range(SCHEME.k):
        piece = bytes(memoryview(enc.pieces[j]).cast("B"))[plan.piece_offset : plan.piece_offset + plan.piece_length]
        for pos in range(0, len(piece), chunk):
            _scatter(buf[:, j, :], pos, piece[pos : pos + chunk])
        proofs[j] = piece_tree(enc.pieces[j], lay.share_size).range_proof(plan.stripe_start, plan.stripe_stop)
    return buf, proofs


@pytest.mark.parametrize("chunk", [1000, 16384, 65536 + 7, 1 << 22])
def test_gathered_primaries_decrypt_to_the_range(segment, chunk: int) -> None:  # type: ignore[no-untyped-def]
    data, enc = segment
    for offset, length in _ranges(len(data)):
        buf, proofs = _gather(enc, offset, length, chunk)
        for j in range(SCHEME.k):
            assert verify_share_rows(enc.layout, enc.roots[j], enc.layout.stripe_range(offset, length).stripe_start,
                                     buf[:, j, :], proofs[j])  # fmt: skip
        view = decrypt_stripes(enc.layout, KEY, SID, offset, length, buf)
        assert isinstance(view, memoryview)
        assert view == data[offset : offset + length]


def test_share_rows_catch_a_flipped_byte_and_a_wrong_proof(segment) -> None:  # type: ignore[no-untyped-def]
    _, enc = segment
    offset, length = 70_000, 200_000
    s0 = enc.layout.stripe_range(offset, length).stripe_start
    buf, proofs = _gather(enc, offset, length, 65536)
    buf[1, 2, 5] ^= 1
    assert not verify_share_rows(enc.layout, enc.roots[2], s0, buf[:, 2, :], proofs[2])
    assert verify_share_rows(enc.layout, enc.roots[1], s0, buf[:, 1, :], proofs[1])
    assert not verify_share_rows(enc.layout, enc.roots[1], s0, buf[:, 1, :], proofs[1][:-1])  # short proof
    assert not verify_share_rows(enc.layout, enc.roots[1], s0 + 1, buf[:, 1, :], proofs[1])  # wrong place
    assert not verify_share_rows(enc.layout, enc.roots[1], s0, buf[:, 1, :-1], proofs[1])  # not whole shares


def test_tampered_ciphertext_and_wrong_size_are_refused(segment) -> None:  # type: ignore[no-untyped-def]
    _, enc = segment
    buf, _ = _gather(enc, 0, 100_000, 1 << 20)
    buf[0, 0, 0] ^= 1
    with pytest.raises(DecryptionError):
        decrypt_stripes(enc.layout, KEY, SID, 0, 100_000, buf)
    with pytest.raises(PieceError):
        decrypt_stripes(enc.layout, KEY, SID, 0, 100_000, buf[:-1])


@pytest.mark.parametrize("nums", [(0, 1, 2, 3), (0, 1, 2, 9), (6, 7, 8, 9), (3, 1, 5, 0)])
def test_view_equals_decode_range_for_any_pieces(segment, nums: tuple[int, ...]) -> None:  # type: ignore[no-untyped-def]
    data, enc = segment
    for offset, length in _ranges(len(data))[:6]:
        plan = enc.layout.stripe_range(offset, length)
        pieces = {j: memoryview(enc.pieces[j]).cast("B")[plan.piece_offset : plan.piece_offset + plan.piece_length]
                  for j in nums}  # fmt: skip
        view = decode_range_view(enc.layout, KEY, SID, offset, length, pieces)
        assert view == decode_range(enc.layout, KEY, SID, offset, length, pieces) == data[offset : offset + length]


def test_scatter_places_every_byte() -> None:
    rows = np.zeros((7, 64), dtype=np.uint8)
    src = os.urandom(7 * 64)
    pos = 0
    for size in (1, 63, 64, 65, 130, 3, 122):
        _scatter(rows, pos, src[pos : pos + size])
        pos += size
    assert pos == len(src)
    assert rows.tobytes() == src
