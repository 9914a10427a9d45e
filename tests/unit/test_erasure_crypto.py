"""Block encryption and the key hierarchy: round trips, and every tampering detected."""

from __future__ import annotations

import os

import blake3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erasure import DecryptionError, crypto

KEY = bytes(range(32))
SID = b"segment-0001"


def _encrypt(data: bytes, block: int, sid: bytes = SID) -> bytes:
    return bytes(crypto.encrypt_segment(KEY, sid, data, block))


def _decrypt(ct: bytes, block: int, total: int, first: int = 0, sid: bytes = SID) -> bytes:
    out = crypto.decrypt_blocks(KEY, sid, ct, first_block=first, total_blocks=total, plain_block_size=block)
    return bytes(out)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.integers(1, 700))
def test_encrypt_then_decrypt_restores_any_plaintext(data: bytes, block: int) -> None:
    ct = _encrypt(data, block)
    blocks = crypto.block_count(len(data), block)
    assert len(ct) == crypto.ciphertext_size(len(data), block) == len(data) + 16 * blocks
    assert _decrypt(ct, block, blocks) == data


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=1, max_size=2000), st.integers(1, 300), st.data())
def test_any_block_range_decrypts_from_its_own_ciphertext(data: bytes, block: int, draw: st.DataObject) -> None:
    ct = _encrypt(data, block)
    total = crypto.block_count(len(data), block)
    first = draw.draw(st.integers(0, total - 1))
    stop = draw.draw(st.integers(first + 1, total))
    cb = block + 16
    piece = ct[first * cb : min(stop * cb, len(ct))]
    assert _decrypt(piece, block, total, first) == data[first * block : stop * block]


def test_every_flipped_bit_in_blocks_and_tags_is_detected() -> None:
    data = os.urandom(70)  # three blocks of 32/32/6 bytes: full blocks, a short one, all tags
    ct = _encrypt(data, 32)
    assert len(ct) == 70 + 3 * 16
    for bit in range(len(ct) * 8):
        bad = bytearray(ct)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecryptionError):
            _decrypt(bytes(bad), 32, 3)


def test_empty_segment_is_an_authenticated_tag() -> None:
    ct = _encrypt(b"", 64)
    assert len(ct) == 16 and _decrypt(ct, 64, 1) == b""
    for bit in range(128):
        bad = bytearray(ct)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecryptionError):
            _decrypt(bytes(bad), 64, 1)


def test_swapped_blocks_wrong_segment_id_and_wrong_key_are_detected() -> None:
    data = os.urandom(96)
    ct = _encrypt(data, 32)
    cb = 48
    swapped = ct[cb : 2 * cb] + ct[:cb] + ct[2 * cb :]
    with pytest.raises(DecryptionError):
        _decrypt(swapped, 32, 3)
    with pytest.raises(DecryptionError):
        _decrypt(ct, 32, 3, sid=b"segment-0002")
    with pytest.raises(DecryptionError):
        crypto.decrypt_blocks(bytes(32), SID, ct, first_block=0, total_blocks=3, plain_block_size=32)
    # A block decrypted as if it sat elsewhere fails: the index is in nonce and AAD.
    with pytest.raises(DecryptionError):
        _decrypt(ct[:cb], 32, 3, first=1)


def test_truncating_a_segment_to_whole_blocks_is_detected() -> None:
    data = os.urandom(96)
    ct = _encrypt(data, 32)
    # Claim the segment had two blocks: block 1 was encrypted as "not last", so it fails.
    with pytest.raises(DecryptionError):
        _decrypt(ct[:96], 32, 2)
    # A block cut short in the middle of the segment is refused before any decryption.
    with pytest.raises(DecryptionError, match="truncated"):
        _decrypt(ct[:60], 32, 3)


def test_nonce_is_segment_hash_prefix_and_big_endian_block_index() -> None:
    nonce = crypto.block_nonce(SID, 0x0102)
    assert nonce == blake3.blake3(SID).digest()[:4] + bytes([0, 0, 0, 0, 0, 0, 1, 2])
    nonces = {crypto.block_nonce(SID, i) for i in range(5000)}
    assert len(nonces) == 5000
    assert crypto.block_nonce(b"other", 7) != crypto.block_nonce(SID, 7)


def test_bucket_key_depends_on_master_tenant_bucket_and_version() -> None:
    master = os.urandom(32)
    base = crypto.derive_bucket_key(master, "tenant", "bucket")
    assert len(base) == 32
    assert base == crypto.derive_bucket_key(master, b"tenant", b"bucket")
    others = {
        crypto.derive_bucket_key(os.urandom(32), "tenant", "bucket"),
        crypto.derive_bucket_key(master, "tenant2", "bucket"),
        crypto.derive_bucket_key(master, "tenant", "bucket2"),
        crypto.derive_bucket_key(master, "tenant", "bucket", version="v2"),
        # Length prefixes: moving bytes between tenant and bucket changes the key.
        crypto.derive_bucket_key(master, "tenantb", "ucket"),
    }
    assert base not in others and len(others) == 5


def test_segment_key_wraps_and_unwraps_under_its_bucket_key_only() -> None:
    bucket = crypto.derive_bucket_key(os.urandom(32), "t", "b")
    seg = crypto.new_segment_key()
    assert len(seg) == 32 and seg != crypto.new_segment_key()
    wrapped = crypto.wrap_key(bucket, seg)
    assert len(wrapped) == crypto.WRAPPED_KEY_SIZE and seg not in wrapped
    assert crypto.unwrap_key(bucket, wrapped) == seg
    with pytest.raises(DecryptionError):
        crypto.unwrap_key(crypto.derive_bucket_key(os.urandom(32), "t", "b"), wrapped)
    with pytest.raises(DecryptionError):
        crypto.unwrap_key(bucket, wrapped[:-1])


def test_every_flipped_bit_in_a_wrapped_key_is_detected() -> None:
    bucket = os.urandom(32)
    wrapped = crypto.wrap_key(bucket, os.urandom(32))
    for bit in range(len(wrapped) * 8):
        bad = bytearray(wrapped)
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(DecryptionError):
            crypto.unwrap_key(bucket, bytes(bad))


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_keys_of_the_wrong_size_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.encrypt_segment(bytes(size), SID, b"x", 16)
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.derive_bucket_key(bytes(size), "t", "b")
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.wrap_key(KEY, bytes(size))


def test_empty_segment_id_is_refused() -> None:
    with pytest.raises(ValueError, match="segment id"):
        crypto.encrypt_segment(KEY, b"", b"x", 16)


def test_sse_c_wrapping_key_needs_both_the_customer_key_and_the_bucket_key() -> None:
    bucket, other_bucket, customer, other_customer = (bytes([i]) * 32 for i in range(1, 5))
    wrapping, check = crypto.derive_customer_key(bucket, customer)
    assert crypto.derive_customer_key(bucket, customer) == (wrapping, check)  # deterministic: a later GET finds it
    assert crypto.derive_customer_key(other_bucket, customer)[0] != wrapping
    assert crypto.derive_customer_key(bucket, other_customer)[0] != wrapping
    assert wrapping not in (bucket, customer) and bytes.fromhex(check) not in wrapping
    segment_key = os.urandom(32)
    wrapped = crypto.wrap_key(wrapping, segment_key)
    assert crypto.unwrap_key(wrapping, wrapped) == segment_key
    for wrong in (bucket, crypto.derive_customer_key(bucket, other_customer)[0]):
        with pytest.raises(DecryptionError):
            crypto.unwrap_key(wrong, wrapped)
