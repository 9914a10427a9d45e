"""Segment encryption: AES-256-GCM in fixed blocks, per-segment keys wrapped under bucket keys.

Key hierarchy
-------------
::

    master key (32 B, the gateway's secret)
      └─ bucket key = HKDF-SHA256(master, info = "geoshard/bucket-key/<version>" ‖ tenant ‖ bucket)
           └─ wrapped segment key = AES-KW(bucket key, segment key)      (40 B, in metadata)
                └─ segment key: 32 random bytes, one per segment, never stored in the clear

The tenant id and bucket name enter ``info`` length-prefixed, so no two (tenant, bucket)
pairs can produce the same input; the version label lets a future scheme derive different
keys from the same master. AES-KW (RFC 3394) carries its own 64-bit integrity check, so a
flipped bit in a wrapped key, or unwrapping under the wrong bucket, is detected.

Blocks
------
A segment's plaintext is cut into blocks of ``plain_block_size`` bytes (the last may be
short, and an empty segment is one empty block, so even "empty" is authenticated). Block
``i`` becomes ``ciphertext ‖ 16-byte tag`` with::

    nonce = blake3(segment_id)[:4] ‖ u64be(i)
    aad   = segment_id ‖ u64be(i) ‖ (0x01 if i is the last block else 0x00)

Because every segment has its own random key, and within a segment the nonce contains the
block index, a (key, nonce) pair can never repeat: no counter to persist, no random nonce
to collide. The AAD binds each block to its segment and position, so blocks cannot be
swapped or reordered, and the final-block flag means a truncated segment (its new last
block was encrypted as "not last") fails to decrypt even if the recorded size were forged.

Each block is authenticated on its own, so a byte range is decrypted from the blocks that
cover it, without the rest of the segment. Encryption and decryption write through
``encrypt_into``/``decrypt_into`` straight into the caller's buffer: the segment layer
hands us the padded stripe buffer, and no block is copied twice.
"""

from __future__ import annotations

import os
import struct

import blake3
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from .errors import DecryptionError

__all__ = [
    "KEY_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "WRAPPED_KEY_SIZE",
    "block_aad",
    "block_count",
    "block_nonce",
    "ciphertext_size",
    "decrypt_blocks",
    "derive_bucket_key",
    "derive_customer_key",
    "encrypt_segment",
    "new_segment_key",
    "unwrap_key",
    "wrap_key",
]

KEY_SIZE = 32
TAG_SIZE = 16
NONCE_SIZE = 12
WRAPPED_KEY_SIZE = KEY_SIZE + 8
_BUCKET_INFO = b"geoshard/bucket-key/"
_CUSTOMER_INFO = b"geoshard/sse-c/v1/wrap"
_CUSTOMER_CHECK = b"geoshard/sse-c/v1/check"
_U64 = struct.Struct(">Q")

Buffer = bytes | bytearray | memoryview


def _check_key(key: Buffer, what: str) -> None:
    if len(key) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes, got {len(key)}")


def _prefixed(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return struct.pack(">H", len(raw)) + raw


def derive_bucket_key(master_key: Buffer, tenant_id: str | bytes, bucket: str | bytes, *, version: str = "v1") -> bytes:
    """The 32-byte key that wraps every segment key of one tenant's bucket."""
    _check_key(master_key, "master key")
    info = _BUCKET_INFO + version.encode() + b"\x00" + _prefixed(tenant_id) + _prefixed(bucket)
    return HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=info).derive(bytes(master_key))


def derive_customer_key(bucket_key: Buffer, customer_key: Buffer) -> tuple[bytes, str]:
    """SSE-C: the key that wraps the segment keys of an object encrypted with a customer's
    key, and a check value (hex) that tells whether a later request brought the same key.

    Both come from the customer's key *and* the bucket key (HKDF, the bucket key as salt):
    the gateway's master key alone opens nothing, nor does the customer's key without it.
    The check value is stored with the object; it is an HMAC under a key derived from both,
    so it reveals nothing about the customer's key to whoever reads the metadata."""
    _check_key(bucket_key, "bucket key")
    _check_key(customer_key, "customer key")
    wrap = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE, salt=bytes(bucket_key), info=_CUSTOMER_INFO)
    wrapping = wrap.derive(bytes(customer_key))
    check = HKDF(algorithm=hashes.SHA256(), length=16, salt=bytes(bucket_key), info=_CUSTOMER_CHECK)
    return wrapping, check.derive(bytes(customer_key)).hex()


def new_segment_key() -> bytes:
    """A fresh random 32-byte segment key (from the OS CSPRNG)."""
    return os.urandom(KEY_SIZE)


def wrap_key(bucket_key: Buffer, segment_key: Buffer) -> bytes:
    """AES-KW wrap of a segment key: 40 bytes, safe to store in metadata."""
    _check_key(bucket_key, "bucket key")
    _check_key(segment_key, "segment key")
    return aes_key_wrap(bytes(bucket_key), bytes(segment_key))


def unwrap_key(bucket_key: Buffer, wrapped: Buffer) -> bytes:
    """The segment key inside ``wrapped``; :class:`DecryptionError` when it was tampered with
    or wrapped under another bucket key."""
    _check_key(bucket_key, "bucket key")
    if len(wrapped) != WRAPPED_KEY_SIZE:
        raise DecryptionError(f"wrapped key must be {WRAPPED_KEY_SIZE} bytes, got {len(wrapped)}")
    try:
        return aes_key_unwrap(bytes(bucket_key), bytes(wrapped))
    except InvalidUnwrap:
        raise DecryptionError("wrapped segment key failed its integrity check") from None


def _nonce_prefix(segment_id: bytes) -> bytes:
    if not segment_id:
        raise ValueError("segment id must not be empty")
    return blake3.blake3(segment_id).digest(length=4)


def block_nonce(segment_id: bytes, index: int) -> bytes:
    """The 12-byte GCM nonce of block ``index``."""
    return _nonce_prefix(segment_id) + _U64.pack(index)


def block_aad(segment_id: bytes, index: int, final: bool) -> bytes:
    return segment_id + _U64.pack(index) + (b"\x01" if final else b"\x00")


def block_count(plain_size: int, plain_block_size: int) -> int:
    """Encryption blocks in a segment; an empty segment is one empty (tag-only) block."""
    if plain_size < 0 or plain_block_size <= 0:
        raise ValueError("sizes must be non-negative and the block size positive")
    return max(1, -(-plain_size // plain_block_size))


def ciphertext_size(plain_size: int, plain_block_size: int) -> int:
    return plain_size + TAG_SIZE * block_count(plain_size, plain_block_size)


def encrypt_segment(
    key: Buffer,
    segment_id: bytes,
    plaintext: Buffer,
    plain_block_size: int,
    *,
    out: memoryview | None = None,
) -> memoryview:
    """Encrypt a whole segment into ``out`` (or a new buffer); returns the ciphertext view.

    Block ``i`` lands at ``[i·(P+16), …)`` where ``P = plain_block_size``.
    """
    _check_key(key, "segment key")
    src = memoryview(plaintext).cast("B")
    size = len(src)
    total = ciphertext_size(size, plain_block_size)
    dst = memoryview(bytearray(total)) if out is None else out.cast("B")[:total]
    if len(dst) < total:
        raise ValueError(f"output buffer holds {len(dst)} bytes, ciphertext needs {total}")
    aes = AESGCM(bytes(key))
    prefix = _nonce_prefix(segment_id)
    blocks = block_count(size, plain_block_size)
    cipher_block = plain_block_size + TAG_SIZE
    # One C call per block of ≥ 64 KiB: the Python loop is ~1k iterations per 64 MiB.
    for i in range(blocks):
        p0 = i * plain_block_size
        p1 = min(p0 + plain_block_size, size)
        c0 = i * cipher_block
        idx = _U64.pack(i)
        aad = segment_id + idx + (b"\x01" if i == blocks - 1 else b"\x00")
        aes.encrypt_into(prefix + idx, src[p0:p1], aad, dst[c0 : c0 + (p1 - p0) + TAG_SIZE])
    return dst


def decrypt_blocks(
    key: Buffer,
    segment_id: bytes,
    ciphertext: Buffer,
    *,
    first_block: int,
    total_blocks: int,
    plain_block_size: int,
    out: memoryview | None = None,
) -> memoryview:
    """Decrypt consecutive blocks starting at ``first_block`` of a segment of ``total_blocks``.

    ``ciphertext`` must hold whole blocks: every block but the segment's last is exactly
    ``plain_block_size + 16`` bytes. Returns a view of the plaintext (in ``out`` when given).
    Raises :class:`DecryptionError` if any block fails authentication.
    """
    _check_key(key, "segment key")
    src = memoryview(ciphertext).cast("B")
    cipher_block = plain_block_size + TAG_SIZE
    count = -(-len(src) // cipher_block)
    if count == 0 or not 0 <= first_block < first_block + count <= total_blocks:
        raise DecryptionError(
            f"{len(src)} ciphertext bytes are not blocks [{first_block}, …) of a {total_blocks}-block segment"
        )
    last_len = len(src) - (count - 1) * cipher_block
    reaches_end = first_block + count == total_blocks
    # Only the segment's final block may be short; a short block elsewhere is a truncation.
    if last_len < TAG_SIZE or (last_len != cipher_block and not reaches_end):
        raise DecryptionError(f"ciphertext of {len(src)} bytes is truncated inside a block")
    plain_total = len(src) - count * TAG_SIZE
    dst = memoryview(bytearray(plain_total)) if out is None else out.cast("B")[:plain_total]
    if len(dst) < plain_total:
        raise ValueError(f"output buffer holds {len(dst)} bytes, plaintext needs {plain_total}")
    aes = AESGCM(bytes(key))
    prefix = _nonce_prefix(segment_id)
    try:
        for j in range(count):
            i = first_block + j
            c0 = j * cipher_block
            c1 = min(c0 + cipher_block, len(src))
            p0 = j * plain_block_size
            idx = _U64.pack(i)
            aad = segment_id + idx + (b"\x01" if i == total_blocks - 1 else b"\x00")
            aes.decrypt_into(prefix + idx, src[c0:c1], aad, dst[p0 : p0 + (c1 - c0) - TAG_SIZE])
    except InvalidTag:
        raise DecryptionError(f"ciphertext block {i} of segment failed authentication") from None
    return dst
