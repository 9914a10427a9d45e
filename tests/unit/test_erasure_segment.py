"""The segment codec: layout maths, decode from any k pieces, ranges from stripe ranges,
corrupt shares caught by Merkle proofs, and the error for each kind of bad input."""

from __future__ import annotations

import json
import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erasure import (
    BackendError,
    CorruptPieceError,
    DecryptionError,
    LayoutError,
    NotEnoughPiecesError,
    PieceError,
    RedundancyScheme,
    SegmentLayout,
    decode_range,
    decode_segment,
    encode_segment,
    merkle,
    piece_tree,
    verify_piece,
    verify_piece_range,
)

KEY = bytes(range(32))
SID = b"seg-0123456789ab"
S44 = RedundancyScheme(4, 6, 8, 10)
S10 = RedundancyScheme(10, 12, 14, 16)
RNG = random.Random(20240601)


def _data(n: int) -> bytes:
    return RNG.randbytes(n)


def _subset(scheme: RedundancyScheme, rng: random.Random = RNG) -> list[int]:
    return rng.sample(range(scheme.total), scheme.k)


def _boundary_sizes(scheme: RedundancyScheme) -> list[int]:
    lay = SegmentLayout.for_segment(scheme, 1 << 20)
    pb, stripe = lay.plain_block_size, lay.stripe_size
    sizes = {0, 1, 2, stripe - 17, stripe - 16, stripe - 15, stripe, stripe + 1}
    for m in (1, 2, 3):
        sizes |= {m * pb - 1, m * pb, m * pb + 1}
    return sorted(sizes)


@pytest.mark.parametrize("backend", ["isal", "zfec"])
@pytest.mark.parametrize("scheme", [RedundancyScheme(1, 1, 1, 1), RedundancyScheme(1, 2, 2, 3), S44, S10])
def test_decode_from_random_k_subsets_restores_boundary_sized_segments(scheme: RedundancyScheme, backend: str) -> None:
    for size in _boundary_sizes(scheme):
        data = _data(size)
        enc = encode_segment(data, scheme, KEY, SID, backend=backend)
        lay = enc.layout
        assert lay.backend == backend  # recorded, so the segment is decoded by what coded it
        assert len(enc.pieces) == len(enc.roots) == scheme.total
        assert all(len(p) == lay.piece_size for p in enc.pieces)
        assert lay.piece_size % lay.share_size == 0
        for _ in range(4):
            nums = _subset(scheme)
            out = decode_segment(lay, KEY, SID, {j: enc.pieces[j] for j in nums}, roots=enc.roots)
            assert len(out) == size and out == data  # exact length: padding never leaks


@pytest.mark.parametrize("backend", ["isal", "zfec"])
@pytest.mark.parametrize(
    ("scheme", "size"),
    [(S44, 3 * 2**20 + 5), (S10, 5 * 2**20 - 3), (RedundancyScheme(29, 35, 80, 80), 2**20 + 77)],
)
def test_multi_mebibyte_segments_decode_from_parity_heavy_subsets(
    scheme: RedundancyScheme, size: int, backend: str
) -> None:
    data = os.urandom(size)
    enc = encode_segment(data, scheme, KEY, SID, backend=backend)
    last_k = list(range(scheme.total - scheme.k, scheme.total))  # as many parity pieces as possible
    assert decode_segment(enc.layout, KEY, SID, {j: enc.pieces[j] for j in last_k}) == data
    assert decode_segment(enc.layout, KEY, SID, {j: enc.pieces[j] for j in _subset(scheme)}) == data


@st.composite
def schemes(draw: st.DrawFn) -> RedundancyScheme:
    k = draw(st.integers(1, 12))
    total = draw(st.integers(k, 20))
    return RedundancyScheme(k, k, total, total)


@settings(max_examples=40, deadline=None)
@given(schemes(), st.integers(0, 300_000), st.randoms(use_true_random=False), st.sampled_from(["isal", "zfec"]))
def test_decode_of_encode_is_identity_for_any_scheme_size_and_subset(
    scheme: RedundancyScheme, size: int, rng: random.Random, backend: str
) -> None:
    data = rng.randbytes(size)
    enc = encode_segment(data, scheme, KEY, SID, backend=backend)
    nums = _subset(scheme, rng)
    assert decode_segment(enc.layout, KEY, SID, {j: enc.pieces[j] for j in nums}) == data


def _range_pieces(enc, offset: int, length: int, nums: list[int]):  # type: ignore[no-untyped-def]
    plan = enc.layout.stripe_range(offset, length)
    lo, hi = plan.piece_offset, plan.piece_offset + plan.piece_length
    pieces = {j: bytes(enc.pieces[j][lo:hi]) for j in nums}
    proofs = {
        j: piece_tree(enc.pieces[j], enc.layout.share_size).range_proof(plan.stripe_start, plan.stripe_stop)
        for j in nums
        if length  # an empty range reads no stripes, so there is nothing to prove
    }
    return plan, pieces, proofs


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([S44, S10, RedundancyScheme(3, 3, 5, 5)]),
    st.integers(1, 600_000),
    st.randoms(use_true_random=False),
)
def test_any_byte_range_decodes_exactly_from_only_its_verified_stripe_range(
    scheme: RedundancyScheme, size: int, rng: random.Random
) -> None:
    data = rng.randbytes(size)
    enc = encode_segment(data, scheme, KEY, SID)
    lay = enc.layout
    for _ in range(5):
        offset = rng.randrange(size)
        length = rng.randrange(min(size - offset, 200_000) + 1)
        nums = _subset(scheme, rng)
        plan, pieces, proofs = _range_pieces(enc, offset, length, nums)
        got = decode_range(lay, KEY, SID, offset, length, pieces, roots=enc.roots, proofs=proofs)
        assert got == data[offset : offset + length]
        if length:
            # The stripes fetched are exactly those of the blocks that overlap the range.
            pb = lay.plain_block_size
            assert plan.first_block == offset // pb and plan.stop_block == (offset + length - 1) // pb + 1
            assert plan.stripe_start == plan.first_block * lay.block_stripes
            assert plan.stripe_stop <= min(plan.stop_block * lay.block_stripes, lay.stripes)


def test_small_range_of_a_large_segment_reads_one_block_of_stripes() -> None:
    data = os.urandom(4 * 2**20)
    enc = encode_segment(data, S44, KEY, SID)
    lay = enc.layout
    # k = 4: 16 KiB shares, so one stripe is one 64 KiB encryption block (large_share_size)
    assert (lay.share_size, lay.block_stripes, lay.cipher_block_size) == (16384, 1, 65536)
    plan, pieces, _ = _range_pieces(enc, 1_000_000, 100, [9, 2, 7, 5])
    assert plan.stripe_stop - plan.stripe_start == lay.block_stripes
    assert plan.piece_length == 16384  # 16 KiB from each of k nodes, not 1.6 MiB
    assert decode_range(lay, KEY, SID, 1_000_000, 100, pieces) == data[1_000_000:1_000_100]


def test_small_segments_use_the_smallest_sufficient_share_size() -> None:
    one = encode_segment(b"x", S44, KEY, SID)
    assert one.layout.share_size == 64 and one.layout.piece_size == 64
    mid = encode_segment(_data(1000), S44, KEY, SID)
    assert mid.layout.share_size == 256 and mid.layout.stripes == 1  # ceil(1016 / 4) → 256
    big = encode_segment(_data(20_000), S44, KEY, SID)
    assert big.layout.share_size == 8192  # ceil(20016 / 4) → 8192, under the large size
    forced = encode_segment(_data(1000), S44, KEY, SID, share_size=4096)
    assert forced.layout.share_size == 4096
    assert decode_segment(forced.layout, KEY, SID, dict(enumerate(forced.pieces[:4]))) == forced_data(forced)


def test_large_segments_get_4k_shares_or_more_when_k_is_small() -> None:
    from erasure.segment import large_share_size

    assert [large_share_size(k) for k in (1, 2, 3, 4, 5, 9, 10, 16, 17, 29)] == [
        65536, 32768, 32768, 16384, 16384, 8192, 8192, 4096, 4096, 4096]
    for scheme, share in ((S44, 16384), (RedundancyScheme(10, 12, 14, 16), 8192)):
        lay = SegmentLayout.for_segment(scheme, 64 * 2**20)
        assert lay.share_size == share and lay.cipher_block_size >= 65536


def test_one_stripe_per_encryption_block_keeps_the_blocks_that_ranged_reads_fetch() -> None:
    # Shares round up to fill a 64 KiB block with one stripe. The rule before rounded down
    # and put two stripes in a block; blocks must come out the same size for every k, so
    # a ranged read fetches what it did, with half the Merkle leaves.
    for k in range(1, 65):
        old_share = max(4096, 1 << ((65536 // k).bit_length() - 1))
        old_block = -(-65536 // (k * old_share)) * k * old_share
        lay = SegmentLayout.for_segment(RedundancyScheme(k, k, k, k), 64 * 2**20)
        assert lay.cipher_block_size == old_block, k
        assert lay.block_stripes == 1, k


def forced_data(enc) -> bytearray:  # type: ignore[no-untyped-def]
    return decode_segment(enc.layout, KEY, SID, {j: enc.pieces[j] for j in range(6, 10)})


def test_piece_roots_match_the_merkle_module_with_one_leaf_per_share() -> None:
    enc = encode_segment(_data(200_000), S44, KEY, SID)
    s = enc.layout.share_size
    for piece, root in zip(enc.pieces, enc.roots, strict=True):
        assert root == merkle.merkle_root(bytes(piece), s)
        assert merkle.leaf_count(len(piece), s) == enc.layout.stripes


def test_every_corrupted_share_is_caught_and_named_before_decoding() -> None:
    enc = encode_segment(_data(150_000), S44, KEY, SID)
    lay = enc.layout
    for j in range(S44.total):
        for s in range(lay.stripes):
            bad = bytearray(enc.pieces[j])
            bad[s * lay.share_size + RNG.randrange(lay.share_size)] ^= 1 << RNG.randrange(8)
            assert not verify_piece(lay, enc.roots[j], bad)
            others = [i for i in range(S44.total) if i != j][: S44.k - 1]
            pieces = {j: bytes(bad), **{i: enc.pieces[i] for i in others}}
            with pytest.raises(CorruptPieceError) as err:
                decode_segment(lay, KEY, SID, pieces, roots=enc.roots)
            assert err.value.piece_nums == (j,)
            # A ranged read of the corrupted stripe is caught by its range proof too.
            tree = piece_tree(bad, lay.share_size)
            assert not verify_piece_range(
                lay, enc.roots[j], s, bad[s * lay.share_size : (s + 1) * lay.share_size], tree.range_proof(s, s + 1)
            )


def test_corrupt_range_is_rejected_with_the_piece_named() -> None:
    data = _data(300_000)
    enc = encode_segment(data, S44, KEY, SID)
    _, pieces, proofs = _range_pieces(enc, 70_000, 10_000, [0, 3, 5, 8])
    pieces[5] = b"\xff" + pieces[5][1:]
    with pytest.raises(CorruptPieceError) as err:
        decode_range(enc.layout, KEY, SID, 70_000, 10_000, pieces, roots=enc.roots, proofs=proofs)
    assert err.value.piece_nums == (5,)
    with pytest.raises(ValueError, match="range proof"):
        decode_range(enc.layout, KEY, SID, 70_000, 10_000, pieces, roots=enc.roots)


def test_unverified_corruption_still_never_reaches_the_output() -> None:
    enc = encode_segment(_data(100_000), S44, KEY, SID)
    bad = bytearray(enc.pieces[1])
    bad[5000] ^= 4
    with pytest.raises(DecryptionError):
        decode_segment(enc.layout, KEY, SID, {1: bytes(bad), 2: enc.pieces[2], 6: enc.pieces[6], 9: enc.pieces[9]})
    with pytest.raises(DecryptionError):
        decode_segment(enc.layout, bytes(32), SID, dict(enumerate(enc.pieces[:4])))


def test_too_few_pieces_wrong_lengths_and_bad_numbers_raise_typed_errors() -> None:
    enc = encode_segment(_data(50_000), S44, KEY, SID)
    lay = enc.layout
    with pytest.raises(NotEnoughPiecesError) as err:
        decode_segment(lay, KEY, SID, {0: enc.pieces[0], 7: enc.pieces[7], 9: enc.pieces[9]})
    assert (err.value.have, err.value.need) == (3, 4)
    with pytest.raises(PieceError, match="bytes"):
        decode_segment(lay, KEY, SID, {0: enc.pieces[0][:-1], 1: enc.pieces[1], 2: enc.pieces[2], 3: enc.pieces[3]})
    with pytest.raises(PieceError, match="outside"):
        decode_segment(lay, KEY, SID, {10: enc.pieces[0], 1: enc.pieces[1], 2: enc.pieces[2], 3: enc.pieces[3]})
    with pytest.raises(LayoutError, match="outside"):
        lay.stripe_range(49_990, 11)
    assert decode_range(lay, KEY, SID, 50_000, 0, {}) == b""
    big = encode_segment(_data(300_000), S44, KEY, SID)
    with pytest.raises(PieceError, match="bytes"):  # whole pieces given for a one-block range
        decode_range(big.layout, KEY, SID, 0, 10, dict(enumerate(big.pieces[:4])))


def test_layout_survives_json_and_rejects_inconsistent_dicts() -> None:
    lay = encode_segment(_data(70_000), S10, KEY, SID).layout
    assert SegmentLayout.from_dict(json.loads(json.dumps(lay.to_dict()))) == lay
    good = lay.to_dict()
    for field, value, err in [
        ("version", 2, LayoutError),
        ("share_size", 3000, LayoutError),
        ("share_size", 32, LayoutError),
        ("block_stripes", 0, LayoutError),
        ("plain_size", -1, LayoutError),
        ("backend", "nope", BackendError),
    ]:
        with pytest.raises(err):
            SegmentLayout.from_dict({**good, field: value})
    with pytest.raises(LayoutError):
        SegmentLayout.from_dict({k: v for k, v in good.items() if k != "backend"})


def test_encoding_is_deterministic_and_thread_safe() -> None:
    # Deterministic output lets the repairer re-create a lost piece bit for bit; two threads
    # share the cached zfec encoder, as the gateway's to_thread calls will.
    data = _data(400_000)
    first = encode_segment(data, S10, KEY, SID)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: encode_segment(data, S10, KEY, SID), range(6)))
    for enc in results:
        assert enc.roots == first.roots
        assert [bytes(p) for p in enc.pieces] == [bytes(p) for p in first.pieces]
