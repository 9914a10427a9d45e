"""The segment codec: plaintext → encrypted blocks → stripes → ``n`` pieces, and back.

Layout
------
A segment's plaintext (up to 64 MiB) is encrypted in **blocks** (see :mod:`erasure.crypto`)
and the ciphertext is laid out, zero-padded at the end, as **stripes** of ``k`` **shares**
of ``S`` bytes (the share size, a power of two; 4096 by default)::

    ciphertext  | block 0                         | block 1                  | … last ‖pad|
    stripes     | stripe 0 | stripe 1 | … | m-1   | stripe m | …             | … |
    stripe s    = share s·k+0 ‖ share s·k+1 ‖ … ‖ share s·k+k-1       (k·S bytes)

The ciphertext block size is chosen as a whole number ``m`` of stripes (``m·k·S`` bytes,
so the plaintext block is ``m·k·S − 16``), with ``m`` the smallest count reaching 64 KiB:
per-call AES overhead is then negligible, and block ``b`` is exactly stripes
``[b·m, (b+1)·m)``. A plaintext byte range therefore maps to a block range, which maps to
a stripe range: a ranged read fetches and decodes only those stripes.

Reed–Solomon coding is linear at each byte position, so all stripes are coded in **one**
backend call: the padded ciphertext viewed as ``(stripes, k, S)`` is transposed to
``(k, stripes, S)`` and made contiguous by numpy (one strided copy in C), giving ``k``
primary blocks of ``stripes·S`` bytes; the backend turns them into ``n`` pieces. Byte
``[s·S, (s+1)·S)`` of piece ``j`` is stripe ``s``'s share ``j`` (for ``j ≥ k``, its parity
share). Decoding runs the same steps backwards on any ``k`` pieces — or on the same byte
range ``[s0·S, s1·S)`` of any ``k`` pieces, for stripes ``[s0, s1)`` only.

Each piece is hashed as a Merkle tree (:mod:`erasure.merkle`) with one leaf per share, so
leaf ``s`` of every piece belongs to stripe ``s``: a stripe range is also a leaf range,
and :func:`verify_piece_range` checks downloaded shares with one range proof per piece.

Small segments get a smaller share size: the smallest power of two (≥ 64 bytes) whose
single stripe holds the whole ciphertext, so a 1-byte object costs ``n`` pieces of 64
bytes, not of 4 KiB. Large segments with a small ``k`` get a larger one: the largest power
of two with ``k`` shares in 64 KiB, never under 4 KiB (16 KiB for k = 4;
:func:`large_share_size` says why). The share size is recorded in the layout, so readers
never guess.

Everything heavy here — AES-GCM, the numpy transpose, zfec, blake3 — is a C call over a
large buffer that releases the GIL. The Python loops are per block (~1k per 64 MiB) and per
Merkle leaf (one short blake3 call per 4 KiB share); none walks bytes. Upper layers call
these functions through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import blake3
import numpy as np

from . import crypto
from .errors import CorruptPieceError, LayoutError, NotEnoughPiecesError, PieceError
from .fec import DEFAULT_BACKEND, get_backend
from .merkle import EMPTY_ROOT, MerkleTree, leaf_hash, root_from_range, verify_range
from .scheme import RedundancyScheme

__all__ = [
    "DEFAULT_SHARE_SIZE",
    "LAYOUT_VERSION",
    "MAX_SHARE_SIZE",
    "MIN_SHARE_SIZE",
    "TARGET_BLOCK_SIZE",
    "EncodedSegment",
    "RangePlan",
    "SegmentLayout",
    "decode_range",
    "decode_range_view",
    "decode_segment",
    "decrypt_stripes",
    "encode_segment",
    "large_share_size",
    "piece_root",
    "piece_tree",
    "rebuild_pieces",
    "stripe_buffer",
    "verify_piece",
    "verify_piece_range",
    "verify_share_rows",
]

LAYOUT_VERSION = 1
DEFAULT_SHARE_SIZE = 4096
MIN_SHARE_SIZE = 64
MAX_SHARE_SIZE = 1 << 20
TARGET_BLOCK_SIZE = 64 * 1024

Buffer = bytes | bytearray | memoryview


def _is_pow2(x: int) -> bool:
    return x > 0 and x & (x - 1) == 0


def large_share_size(k: int, target_block_size: int = TARGET_BLOCK_SIZE) -> int:
    """The share size of a large segment: the smallest power of two, at least 4 KiB, whose
    stripe of ``k`` shares fills a target block — so one stripe is one encryption block.

    A share is one Merkle leaf, and hashing a leaf is one blake3 call that holds the GIL:
    with 4 KiB shares a 64 MiB 4/10 segment is ~41,000 calls, and two encoding threads
    take turns at them. Rounding the share *up* to fill the block (16 KiB for k = 4, 8 KiB
    for k = 9–16) rather than down and then putting two stripes in a block keeps every
    encryption block the size it was — what a ranged read fetches does not change — and
    halves the leaves (docs/erasure.md). From k = 17 on it is 4 KiB.
    """
    by_block = 1 << max(0, (-(-target_block_size // k) - 1).bit_length())
    return min(MAX_SHARE_SIZE, max(DEFAULT_SHARE_SIZE, by_block))


@dataclass(frozen=True, slots=True)
class RangePlan:
    """What to fetch and decode for plaintext bytes ``[offset, offset + length)``.

    Fetch bytes ``[piece_offset, piece_offset + piece_length)`` of any ``k`` pieces (stripes
    ``[stripe_start, stripe_stop)``), which hold encryption blocks ``[first_block,
    stop_block)``; the range is ``[slice_start, slice_start + length)`` of their plaintext.
    """

    offset: int
    length: int
    first_block: int
    stop_block: int
    stripe_start: int
    stripe_stop: int
    slice_start: int
    share_size: int

    @property
    def piece_offset(self) -> int:
        return self.stripe_start * self.share_size

    @property
    def piece_length(self) -> int:
        return (self.stripe_stop - self.stripe_start) * self.share_size


@dataclass(frozen=True, slots=True)
class SegmentLayout:
    """Everything needed to decode a segment besides its key and pieces; stored as JSON.

    Only the independent parameters are stored; every size below is derived from them.
    """

    scheme: RedundancyScheme
    plain_size: int
    share_size: int = DEFAULT_SHARE_SIZE
    block_stripes: int = 1
    backend: str = DEFAULT_BACKEND
    version: int = LAYOUT_VERSION

    def __post_init__(self) -> None:
        if self.version != LAYOUT_VERSION:
            raise LayoutError(f"unsupported segment layout version {self.version!r}")
        if not isinstance(self.scheme, RedundancyScheme):
            raise LayoutError("layout scheme must be a RedundancyScheme")
        for name in ("plain_size", "share_size", "block_stripes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise LayoutError(f"layout {name} must be a non-negative integer, got {value!r}")
        if not (_is_pow2(self.share_size) and MIN_SHARE_SIZE <= self.share_size <= MAX_SHARE_SIZE):
            raise LayoutError(
                f"share size {self.share_size} must be a power of two in [{MIN_SHARE_SIZE}, {MAX_SHARE_SIZE}]"
            )
        if self.block_stripes < 1:
            raise LayoutError("an encryption block spans at least one stripe")
        get_backend(self.backend)  # unknown backend → BackendError now, not at decode time

    @classmethod
    def for_segment(
        cls,
        scheme: RedundancyScheme,
        plain_size: int,
        *,
        share_size: int | None = None,
        backend: str = DEFAULT_BACKEND,
        target_block_size: int = TARGET_BLOCK_SIZE,
    ) -> SegmentLayout:
        """The layout for ``plain_size`` bytes; ``share_size=None`` picks it (module prose)."""
        if plain_size < 0:
            raise LayoutError("segment size must be non-negative")
        k = scheme.k
        if share_size is None:
            need = -(-(plain_size + crypto.TAG_SIZE) // k)
            share_size = min(large_share_size(k, target_block_size), max(MIN_SHARE_SIZE, 1 << (need - 1).bit_length()))
        block_stripes = max(1, -(-target_block_size // (k * share_size)))
        return cls(scheme, plain_size, share_size, block_stripes, backend)

    # Derived sizes -----------------------------------------------------------------

    @property
    def stripe_size(self) -> int:
        return self.scheme.k * self.share_size

    @property
    def cipher_block_size(self) -> int:
        return self.block_stripes * self.stripe_size

    @property
    def plain_block_size(self) -> int:
        return self.cipher_block_size - crypto.TAG_SIZE

    @property
    def blocks(self) -> int:
        return crypto.block_count(self.plain_size, self.plain_block_size)

    @property
    def cipher_size(self) -> int:
        return self.plain_size + crypto.TAG_SIZE * self.blocks

    @property
    def stripes(self) -> int:
        return -(-self.cipher_size // self.stripe_size)

    @property
    def padded_size(self) -> int:
        return self.stripes * self.stripe_size

    @property
    def piece_size(self) -> int:
        """Bytes in every piece; also ``stripes`` Merkle leaves of ``share_size``."""
        return self.stripes * self.share_size

    def stripe_range(self, offset: int, length: int) -> RangePlan:
        """The stripes, blocks and in-block slice that cover plaintext ``[offset, offset+length)``."""
        if offset < 0 or length < 0 or offset + length > self.plain_size:
            raise LayoutError(f"range [{offset}, {offset + length}) is outside a segment of {self.plain_size} bytes")
        if length == 0:
            return RangePlan(offset, 0, 0, 0, 0, 0, 0, self.share_size)
        pb = self.plain_block_size
        first = offset // pb
        stop = (offset + length - 1) // pb + 1
        # A block starts on a stripe boundary; only the segment's last block ends inside one.
        stripe_stop = self.stripes if stop == self.blocks else stop * self.block_stripes
        return RangePlan(
            offset,
            length,
            first,
            stop,
            first * self.block_stripes,
            stripe_stop,
            offset - first * pb,
            self.share_size,
        )

    # Serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "scheme": self.scheme.to_dict(),
            "plain_size": self.plain_size,
            "share_size": self.share_size,
            "block_stripes": self.block_stripes,
            "backend": self.backend,
        }

    @classmethod
    def from_dict(cls, data: Any) -> SegmentLayout:
        fields = {"version", "scheme", "plain_size", "share_size", "block_stripes", "backend"}
        if not isinstance(data, dict) or set(data) != fields:
            raise LayoutError(f"segment layout must be an object with exactly {sorted(fields)}")
        if not isinstance(data["backend"], str):
            raise LayoutError("layout backend must be a string")
        return cls(
            scheme=RedundancyScheme.from_dict(data["scheme"]),
            plain_size=data["plain_size"],
            share_size=data["share_size"],
            block_stripes=data["block_stripes"],
            backend=data["backend"],
            version=data["version"],
        )


@dataclass(frozen=True, slots=True)
class EncodedSegment:
    """The ``n`` pieces of a segment (``pieces[j]`` is piece number ``j``) and their Merkle roots."""

    layout: SegmentLayout
    pieces: list[Buffer]
    roots: list[bytes]


# Merkle helpers ----------------------------------------------------------------------


# The per-leaf loop below is the one part of the codec bound to the GIL. When two threads
# run it at once, blake3 drops and retakes the GIL around every 4 KiB leaf and the two
# threads hand it back and forth between cores on each call, which measured slower than
# one thread alone (~0.75 GB/s for two against ~1.3 GB/s for one). Taking turns costs no
# parallelism, since the loop cannot run in parallel anyway, while the other thread's zfec
# and AES calls, which release the GIL, still overlap with it.
_LEAF_LOOP = threading.Lock()
_SCRATCH_LOCK = threading.Lock()
_SCRATCH: list[np.ndarray] = []  # idle buffers, largest last
_SCRATCH_KEEP = 2  # as many as encoding threads usually run; more are freed


@contextlib.contextmanager
def _scratch(size: int) -> Iterator[np.ndarray]:
    """A buffer of ``size`` bytes for data that never leaves the ``with`` block.

    A 64 MiB segment's ciphertext is over glibc's mmap ceiling, so a fresh one would be new
    pages each time, zeroed by the kernel (13 % of a 2-thread encode's CPU here). Buffers go
    back to a small shared pool instead: at most ``_SCRATCH_KEEP`` stay allocated when idle,
    whichever threads encode, so memory stays bounded by a few segments.
    """
    with _SCRATCH_LOCK:
        i = next((j for j, b in enumerate(_SCRATCH) if b.size >= size), None)
        buf = _SCRATCH.pop(i) if i is not None else None
    if buf is None:
        buf = np.empty(size, dtype=np.uint8)
    try:
        yield buf[:size]
    finally:
        with _SCRATCH_LOCK:
            _SCRATCH.append(buf)
            _SCRATCH.sort(key=lambda b: b.size)
            del _SCRATCH[:-_SCRATCH_KEEP]  # keep the largest


def _leaf_hashes(piece: Buffer, share_size: int) -> list[bytes]:
    # Same bytes as merkle.leaf_hash (blake3(0x00 ‖ leaf)), in one blake3 call per leaf
    # instead of three: this loop runs ~4k times per piece of a 64 MiB segment.
    mv = memoryview(piece).cast("B")
    b3, zero = blake3.blake3, b"\x00"
    with _LEAF_LOOP:
        return [b3(zero + mv[i : i + share_size]).digest() for i in range(0, len(mv), share_size)]


def piece_tree(piece: Buffer, share_size: int) -> MerkleTree:
    """The Merkle tree of a piece, one leaf per share (nodes build proofs from it)."""
    return MerkleTree(_leaf_hashes(piece, share_size))


def piece_root(piece: Buffer, share_size: int) -> bytes:
    """The 32-byte Merkle root the satellite stores for a piece."""
    hashes = _leaf_hashes(piece, share_size)
    return MerkleTree(hashes).root if hashes else EMPTY_ROOT


def verify_piece(layout: SegmentLayout, root: bytes, piece: Buffer) -> bool:
    """True when ``piece`` is a whole piece of ``layout`` with Merkle ``root``."""
    return len(piece) == layout.piece_size and piece_root(piece, layout.share_size) == root


def verify_piece_range(
    layout: SegmentLayout, root: bytes, stripe_start: int, data: Buffer, proof: Sequence[bytes]
) -> bool:
    """True when ``data`` is exactly the shares of stripes ``[stripe_start, …)`` of a piece
    with Merkle ``root``, as proven by ``proof`` (``MerkleTree.range_proof``)."""
    s = layout.share_size
    if not data or len(data) % s:
        return False
    return verify_range(root, stripe_start, data, s, proof, layout.stripes)


def verify_share_rows(
    layout: SegmentLayout, root: bytes, stripe_start: int, rows: np.ndarray, proof: Sequence[bytes]
) -> bool:
    """:func:`verify_piece_range` for shares held as the rows of a ``(stripes, S)`` array.

    The rows need not be adjacent in memory: a reader gathers the ``k`` primary pieces'
    shares straight into a :func:`stripe_buffer`, where piece ``j``'s shares are the
    strided column ``buf[:, j, :]``, and checks them there, so no piece is gathered to be
    hashed. Each row (one share, one Merkle leaf) is contiguous.
    """
    s = layout.share_size
    if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] != s or rows.dtype != np.uint8:
        return False
    hashes = [leaf_hash(memoryview(row)) for row in rows]
    try:
        return root_from_range(stripe_start, hashes, proof, layout.stripes) == root
    except ValueError:
        return False


# Encode / decode -----------------------------------------------------------------------


def encode_segment(
    plaintext: Buffer,
    scheme: RedundancyScheme,
    segment_key: bytes,
    segment_id: bytes,
    *,
    share_size: int | None = None,
    backend: str = DEFAULT_BACKEND,
) -> EncodedSegment:
    """Encrypt and erasure-code one segment into ``scheme.total`` pieces with their roots."""
    layout = SegmentLayout.for_segment(scheme, len(plaintext), share_size=share_size, backend=backend)
    k, n, s, stripes = scheme.k, scheme.total, layout.share_size, layout.stripes
    primary = []
    with _scratch(layout.padded_size) as buf:
        crypto.encrypt_segment(segment_key, segment_id, plaintext, layout.plain_block_size, out=memoryview(buf))
        buf[layout.cipher_size :] = 0  # padding is zeros, so it is deterministic and leaks nothing
        # (stripes, k, S) → (k, stripes, S): row j is primary block j = share j of every stripe.
        # Each block is its own allocation: blocks are returned as pieces and freed one by one,
        # and blocks under glibc's 32 MiB mmap ceiling are recycled from the heap, where one
        # (k, stripes·S) array of a 64 MiB segment would be fresh, zero-filled pages every time.
        strided = buf.reshape(stripes, k, s)
        for j in range(k):
            block = np.empty((stripes, s), dtype=np.uint8)
            block[...] = strided[:, j, :]
            primary.append(block.reshape(stripes * s))
    coded = get_backend(backend).encode(k, n, primary)
    pieces: list[Buffer] = [memoryview(p) if isinstance(p, np.ndarray) else p for p in coded]
    roots = [piece_root(p, s) for p in pieces]
    return EncodedSegment(layout, pieces, roots)


def _choose(layout: SegmentLayout, pieces: Mapping[int, Buffer], length: int) -> dict[int, Buffer]:
    k, n = layout.scheme.k, layout.scheme.total
    bad_nums = [num for num in pieces if not (isinstance(num, int) and 0 <= num < n)]
    if bad_nums:
        raise PieceError(f"piece numbers {bad_nums} are outside [0, {n})")
    wrong = {num: len(p) for num, p in pieces.items() if len(p) != length}
    if wrong:
        raise PieceError(f"pieces must be {length} bytes here; got {wrong}")
    if len(pieces) < k:
        raise NotEnoughPiecesError(len(pieces), k)
    # Lowest numbers first: primary pieces need no arithmetic to decode.
    return {num: pieces[num] for num in sorted(pieces)[:k]}


def rebuild_pieces(
    layout: SegmentLayout, pieces: Mapping[int, Buffer], numbers: Sequence[int]
) -> dict[int, Buffer]:
    """Pieces ``numbers`` of a segment, rebuilt from any ``k`` of its whole pieces.

    Repair works on ciphertext only: decoding ``k`` pieces gives the ``k`` primary blocks
    (pieces ``0..k-1`` of a systematic code), and encoding those again gives every piece,
    byte for byte what the uploader made, so no key is needed and each rebuilt piece's
    Merkle root equals the one stored at upload. Callers verify the pieces they pass in.
    """
    n = layout.scheme.total
    bad = [num for num in numbers if not (isinstance(num, int) and 0 <= num < n)]
    if bad:
        raise PieceError(f"piece numbers {bad} are outside [0, {n})")
    chosen = _choose(layout, pieces, layout.piece_size)
    backend = get_backend(layout.backend)
    primary = backend.decode(layout.scheme.k, n, chosen)
    coded = backend.encode(layout.scheme.k, n, primary)
    return {num: coded[num] for num in numbers}


def _check_roots(
    layout: SegmentLayout,
    chosen: Mapping[int, Buffer],
    roots: Sequence[bytes] | Mapping[int, bytes],
    stripe_start: int,
    proofs: Mapping[int, Sequence[bytes]] | None,
) -> None:
    corrupt = []
    for num, data in chosen.items():
        if proofs is None:
            ok = verify_piece(layout, roots[num], data)
        else:
            ok = num in proofs and verify_piece_range(layout, roots[num], stripe_start, data, proofs[num])
        if not ok:
            corrupt.append(num)
    if corrupt:
        raise CorruptPieceError(corrupt)


def stripe_buffer(layout: SegmentLayout, stripes: int) -> np.ndarray:
    """An uninitialised ``(stripes, k, S)`` array: the ciphertext of ``stripes`` stripes.

    Piece ``j``'s shares of those stripes are the column ``buf[:, j, :]``; a reader that
    writes the ``k`` primary pieces there as they arrive holds the stripes' ciphertext in
    order without any transpose (``buf.reshape(-1)``, for :func:`decrypt_stripes`).
    """
    return np.empty((stripes, layout.scheme.k, layout.share_size), dtype=np.uint8)


def _decode_stripes(
    layout: SegmentLayout, chosen: Mapping[int, Buffer], stripes: int, out: np.ndarray | None = None
) -> np.ndarray:
    """The ciphertext of ``stripes`` consecutive stripes from ``k`` pieces' matching bytes
    (in ``out``, a :func:`stripe_buffer`-shaped array, when given)."""
    k, s = layout.scheme.k, layout.share_size
    if sorted(chosen) == list(range(k)):  # the primary pieces: nothing to decode
        primary: Sequence[Buffer] = [chosen[j] for j in range(k)]
    else:
        primary = get_backend(layout.backend).decode(k, layout.scheme.total, chosen)
    if out is None:
        out = stripe_buffer(layout, stripes)
    for j, block in enumerate(primary):  # k strided copies, each over every stripe at once
        out[:, j, :] = np.frombuffer(block, dtype=np.uint8).reshape(stripes, s)
    return out.reshape(-1)


def decode_segment(
    layout: SegmentLayout,
    segment_key: bytes,
    segment_id: bytes,
    pieces: Mapping[int, Buffer],
    *,
    roots: Sequence[bytes] | Mapping[int, bytes] | None = None,
) -> bytearray:
    """The plaintext of a segment from any ``k`` of its whole pieces.

    With ``roots`` (indexed by piece number), the pieces used are first checked against
    them and :class:`CorruptPieceError` names any that differ, so the caller can replace
    them. Tampered ciphertext raises :class:`DecryptionError`.
    """
    chosen = _choose(layout, pieces, layout.piece_size)
    if roots is not None:
        _check_roots(layout, chosen, roots, 0, None)
    out = bytearray(layout.plain_size)
    # The ciphertext never leaves this call: a pooled buffer spares a segment of fresh pages.
    with _scratch(layout.padded_size) as buf:
        shape = (layout.stripes, layout.scheme.k, layout.share_size)
        cipher = _decode_stripes(layout, chosen, layout.stripes, out=buf.reshape(shape))
        crypto.decrypt_blocks(
            segment_key,
            segment_id,
            memoryview(cipher)[: layout.cipher_size],
            first_block=0,
            total_blocks=layout.blocks,
            plain_block_size=layout.plain_block_size,
            out=memoryview(out),
        )
    return out


def decode_range(
    layout: SegmentLayout,
    segment_key: bytes,
    segment_id: bytes,
    offset: int,
    length: int,
    pieces: Mapping[int, Buffer],
    *,
    roots: Sequence[bytes] | Mapping[int, bytes] | None = None,
    proofs: Mapping[int, Sequence[bytes]] | None = None,
) -> bytes:
    """Plaintext ``[offset, offset + length)`` from any ``k`` pieces' bytes of its stripe range.

    ``pieces[j]`` holds bytes ``[plan.piece_offset, plan.piece_offset + plan.piece_length)``
    of piece ``j``, where ``plan = layout.stripe_range(offset, length)``. With ``roots``,
    ``proofs[j]`` must be the Merkle range proof of piece ``j``'s leaves for those stripes.
    """
    view = decode_range_view(layout, segment_key, segment_id, offset, length, pieces, roots=roots, proofs=proofs)
    return bytes(view)


def decode_range_view(
    layout: SegmentLayout,
    segment_key: bytes,
    segment_id: bytes,
    offset: int,
    length: int,
    pieces: Mapping[int, Buffer],
    *,
    roots: Sequence[bytes] | Mapping[int, bytes] | None = None,
    proofs: Mapping[int, Sequence[bytes]] | None = None,
) -> memoryview:
    """:func:`decode_range` as a view into the decrypted window (a streaming reader sends it
    as it is, sparing a copy of every byte); the view owns its buffer."""
    plan = layout.stripe_range(offset, length)
    if length == 0:
        return memoryview(b"")
    if roots is not None and proofs is None:
        raise ValueError("verifying a stripe range needs a Merkle range proof per piece")
    chosen = _choose(layout, pieces, plan.piece_length)
    if roots is not None:
        _check_roots(layout, chosen, roots, plan.stripe_start, proofs)
    cipher = _decode_stripes(layout, chosen, plan.stripe_stop - plan.stripe_start)
    return decrypt_stripes(layout, segment_key, segment_id, offset, length, cipher)


def decrypt_stripes(
    layout: SegmentLayout, segment_key: bytes, segment_id: bytes, offset: int, length: int, cipher: Buffer | np.ndarray
) -> memoryview:
    """Plaintext ``[offset, offset + length)`` from the ciphertext of its whole stripe range,
    in stripe order (what :func:`stripe_buffer` holds once the primary pieces are in it).

    Returns a view of the decrypted blocks, cut to the range; nothing is copied after the
    decryption. Tampered ciphertext raises :class:`DecryptionError`.
    """
    plan = layout.stripe_range(offset, length)
    if length == 0:
        return memoryview(b"")
    flat = memoryview(cipher.reshape(-1) if isinstance(cipher, np.ndarray) else cipher).cast("B")
    want = (plan.stripe_stop - plan.stripe_start) * layout.stripe_size
    if len(flat) != want:
        raise PieceError(f"stripes [{plan.stripe_start}, {plan.stripe_stop}) are {want} bytes, got {len(flat)}")
    # The range's first block starts at its first stripe; the last block may stop short of
    # the last stripe (padding), so cut the ciphertext at the end of that block.
    cipher_len = min(plan.stop_block * layout.cipher_block_size, layout.cipher_size) - (
        plan.first_block * layout.cipher_block_size
    )
    plain = crypto.decrypt_blocks(
        segment_key,
        segment_id,
        flat[:cipher_len],
        first_block=plan.first_block,
        total_blocks=layout.blocks,
        plain_block_size=layout.plain_block_size,
        # Uninitialised: every byte of the view is written by the decryption (a bytearray
        # would first be zeroed, ≈ 2 % of a GET's gateway CPU).
        out=memoryview(np.empty(cipher_len, dtype=np.uint8)),
    )
    return plain[plan.slice_start : plan.slice_start + length]
