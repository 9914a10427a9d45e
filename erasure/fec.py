"""Forward error correction backends: ``k`` primary blocks in, ``n`` pieces out, any ``k`` back.

The segment layer never calls a coding library directly; it asks :func:`get_backend` for a
:class:`FecBackend` by the name recorded in the segment's layout. That name is part of the
stored metadata because pieces encoded by one systematic Reed–Solomon implementation are
not, in general, decodable by another (the generator matrices differ), so a segment must
always be decoded, and repaired, by the backend that encoded it.

Two backends: ``zfec`` (Tahoe-LAFS's codec, pure C, everywhere) and ``isal`` (Intel's
ISA-L through :mod:`erasure.isal`, the default where its library loads). The interface is
deliberately the smallest both can serve:

* ``encode(k, n, blocks)`` takes ``k`` equal-length buffers (the *primary* blocks) and
  returns ``n`` pieces; the code is *systematic*, so pieces ``0..k-1`` are the primary
  blocks themselves (zfec returns the very objects it was given, not copies).
* ``decode(k, n, {piece_num: buffer})`` takes exactly ``k`` distinct pieces and returns the
  ``k`` primary blocks in order.

Both are one C call over whole blocks, which releases the GIL, so two segments encoded
from two threads really use two cores. Encoders and decoders are cached per ``(k, n)``:
building zfec's matrices costs more than encoding a small segment. zfec's objects hold no
per-call state, so one cached instance is safe to share between threads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Protocol, runtime_checkable

import zfec

from . import isal
from .errors import BackendError, NotEnoughPiecesError, PieceError
from .scheme import MAX_PIECES

__all__ = ["DEFAULT_BACKEND", "FecBackend", "IsalBackend", "ZfecBackend", "backend_names", "get_backend"]

Buffer = bytes | bytearray | memoryview


@runtime_checkable
class FecBackend(Protocol):
    """A systematic ``k``-of-``n`` erasure code over equal-length byte blocks."""

    name: str

    def encode(self, k: int, n: int, blocks: Sequence[Buffer]) -> list[Buffer]:
        """The ``n`` pieces of ``k`` equal-length primary blocks (pieces ``< k`` are the blocks)."""
        ...

    def decode(self, k: int, n: int, pieces: Mapping[int, Buffer]) -> list[Buffer]:
        """The ``k`` primary blocks from exactly ``k`` distinct pieces."""
        ...


def check_encode_args(name: str, k: int, n: int, blocks: Sequence[Buffer]) -> int:
    """Validate an encode call; returns the common block length."""
    if not 1 <= k <= n <= MAX_PIECES:
        raise BackendError(f"{name} cannot encode {k}-of-{n}")
    if len(blocks) != k:
        raise PieceError(f"encode takes k={k} primary blocks, got {len(blocks)}")
    lengths = {len(b) for b in blocks}
    if len(lengths) != 1:
        raise PieceError("primary blocks must all have the same length")
    return lengths.pop()


def check_decode_args(k: int, n: int, pieces: Mapping[int, Buffer]) -> int:
    """Validate a decode call; returns the common piece length."""
    if len(pieces) < k:
        raise NotEnoughPiecesError(len(pieces), k)
    if len(pieces) > k:
        raise PieceError(f"decode takes exactly k={k} pieces, got {len(pieces)}")
    lengths = {len(p) for p in pieces.values()}
    if len(lengths) != 1:
        raise PieceError(f"pieces to decode differ in length: {sorted(lengths)}")
    bad = [num for num in pieces if not 0 <= num < n]
    if bad:
        raise PieceError(f"piece numbers {bad} are outside [0, {n})")
    return lengths.pop()


@lru_cache(maxsize=64)
def _zfec_encoder(k: int, n: int) -> zfec.Encoder:
    return zfec.Encoder(k, n)


@lru_cache(maxsize=64)
def _zfec_decoder(k: int, n: int) -> zfec.Decoder:
    return zfec.Decoder(k, n)


class ZfecBackend:
    """Reed–Solomon over GF(2⁸) by zfec (Tahoe-LAFS's codec): any ``1 ≤ k ≤ n ≤ 256``."""

    name = "zfec"

    def encode(self, k: int, n: int, blocks: Sequence[Buffer]) -> list[Buffer]:
        if check_encode_args(self.name, k, n, blocks) == 0:
            # zfec rejects empty blocks; the code of nothing is nothing.
            return [b"" for _ in range(n)]
        return list(_zfec_encoder(k, n).encode(tuple(blocks)))

    def decode(self, k: int, n: int, pieces: Mapping[int, Buffer]) -> list[Buffer]:
        length = check_decode_args(k, n, pieces)
        if length == 0:
            return [b"" for _ in range(k)]
        nums = tuple(sorted(pieces))
        return list(_zfec_decoder(k, n).decode(tuple(pieces[i] for i in nums), nums))


class IsalBackend:
    """Reed–Solomon over GF(2⁸) by Intel's ISA-L (Cauchy matrix, :mod:`erasure.isal`): any
    ``1 ≤ k ≤ n ≤ 256``."""

    name = "isal"

    def encode(self, k: int, n: int, blocks: Sequence[Buffer]) -> list[Buffer]:
        length = check_encode_args(self.name, k, n, blocks)
        if length == 0:
            return [b"" for _ in range(n)]
        if n == k:
            return list(blocks)
        return [*blocks, *isal.parity(k, n, blocks, length)]

    def decode(self, k: int, n: int, pieces: Mapping[int, Buffer]) -> list[Buffer]:
        length = check_decode_args(k, n, pieces)
        if length == 0:
            return [b"" for _ in range(k)]
        missing = [j for j in range(k) if j not in pieces]
        if not missing:
            return [pieces[j] for j in range(k)]
        found = dict(zip(missing, isal.recover(k, n, pieces, missing, length), strict=True))
        return [pieces[j] if j in pieces else found[j] for j in range(k)]


_BACKENDS: dict[str, FecBackend] = {ZfecBackend.name: ZfecBackend(), IsalBackend.name: IsalBackend()}


def backend_names() -> list[str]:
    return sorted(_BACKENDS)


def _default_backend() -> str:
    """``GEOSHARD_ERASURE_BACKEND`` if set, else ISA-L where it loads, else zfec."""
    chosen = os.environ.get("GEOSHARD_ERASURE_BACKEND", "").strip()
    if not chosen:
        return IsalBackend.name if isal.load() is not None else ZfecBackend.name
    if chosen not in _BACKENDS:
        raise BackendError(f"GEOSHARD_ERASURE_BACKEND={chosen!r} is not a backend; known: {backend_names()}")
    if chosen == IsalBackend.name and isal.load() is None:
        raise BackendError(f"GEOSHARD_ERASURE_BACKEND=isal, but {isal.MISSING}")
    return chosen


#: What new segments are coded with (old segments keep the backend their layout names).
#: ISA-L codes about 30× faster than zfec here; pin ``GEOSHARD_ERASURE_BACKEND=zfec`` on
#: gateways while any gateway or repair worker still runs a release without ISA-L.
DEFAULT_BACKEND = _default_backend()


def get_backend(name: str = DEFAULT_BACKEND) -> FecBackend:
    """The backend recorded under ``name`` in a segment layout."""
    try:
        return _BACKENDS[name]
    except KeyError:
        raise BackendError(f"unknown erasure-coding backend {name!r}; known: {backend_names()}") from None
