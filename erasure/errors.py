"""The errors the erasure package raises, drawn as one hierarchy.

Every error is an :class:`ErasureError`, itself a :class:`common.errors.GeoshardError`, so
a caller can catch the package as a whole. The ones that describe a bad *argument* also
derive from ``ValueError``; the ones that describe bad *data* (a tampered ciphertext, a
corrupt piece, too few pieces) do not, because the caller's reaction differs: it fetches
another piece, reports a node, or fails the request, rather than fixing its code.
"""

from __future__ import annotations

from collections.abc import Iterable

from common.errors import GeoshardError

__all__ = [
    "BackendError",
    "CorruptPieceError",
    "DecryptionError",
    "ErasureError",
    "LayoutError",
    "NotEnoughPiecesError",
    "PieceError",
    "SchemeError",
]


class ErasureError(GeoshardError):
    """Base of every error raised by the erasure package."""


class SchemeError(ErasureError, ValueError):
    """A redundancy scheme breaks 1 ≤ k ≤ repair ≤ success ≤ total ≤ 256, or cannot be parsed."""


class LayoutError(ErasureError, ValueError):
    """A segment layout is inconsistent, has an unknown version, or a range falls outside it."""


class BackendError(ErasureError, LookupError):
    """No erasure-coding backend of that name, or it cannot serve this scheme."""


class PieceError(ErasureError, ValueError):
    """A piece has the wrong length or a piece number outside ``[0, total)``."""


class NotEnoughPiecesError(ErasureError):
    """Fewer than ``k`` distinct pieces were given; ``have`` and ``need`` say how many."""

    def __init__(self, have: int, need: int) -> None:
        super().__init__(f"need {need} pieces to decode, got {have}")
        self.have = have
        self.need = need


class CorruptPieceError(ErasureError):
    """Pieces whose bytes do not match their Merkle root; ``piece_nums`` names them so the
    caller can fetch replacements and report the nodes that served them."""

    def __init__(self, piece_nums: Iterable[int]) -> None:
        self.piece_nums = tuple(sorted(piece_nums))
        super().__init__(f"pieces {list(self.piece_nums)} do not match their Merkle roots")


class DecryptionError(ErasureError):
    """A ciphertext block, its tag or a wrapped key failed authentication (tampered, or the
    wrong key or segment id was used)."""
