"""The values that cross the pipeline's boundary: what the satellite hands it, what it hands back.

The pipeline does not talk to the satellite itself. An upload asks a
:class:`SegmentPlacer` (the gateway adapts its satellite client to it) to begin each
segment, and returns :class:`SegmentUpload` values that the caller commits; a download is
given :class:`SegmentSource` values (from get-object) and a :class:`BadPieceReporter`. That
keeps the pipeline testable against real nodes with a test satellite identity, and keeps
the commit — the one step that makes an object visible — in the caller's hands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Piece-level values belong to the piece client, shared with the satellite's repairer.
from common.piece_client import PieceSource, PieceTarget, UploadedPiece
from erasure import RedundancyScheme, SegmentLayout

__all__ = [
    "BadPieceReporter",
    "BegunSegment",
    "PieceSource",
    "PieceTarget",
    "SegmentPlacer",
    "SegmentSource",
    "SegmentUpload",
    "UploadedPiece",
]


@dataclass(frozen=True, slots=True)
class BegunSegment:
    """The satellite's answer to begin-segment: a token for commit, the scheme, the targets."""

    token: str
    scheme: RedundancyScheme
    targets: Sequence[PieceTarget]


class SegmentPlacer(Protocol):
    """Begins segments of one upload (one object, or one multipart part)."""

    async def begin_segment(self, index: int, max_piece_size: int) -> BegunSegment:
        """Place segment ``index`` whose pieces are at most ``max_piece_size`` bytes."""
        ...


@dataclass(frozen=True, slots=True)
class SegmentUpload:
    """One segment ready to commit: inline ciphertext, or a layout and its landed pieces.

    ``segment_id`` is the random id the block nonces are derived from (the satellite keeps
    it as the segment's nonce); ``wrapped_key`` is the segment key under the bucket key.
    """

    index: int
    plain_size: int
    encrypted_size: int
    segment_id: bytes
    wrapped_key: bytes
    inline_data: bytes | None = None
    layout: SegmentLayout | None = None
    token: str | None = None
    pieces: Sequence[UploadedPiece] = field(default_factory=tuple)

    @property
    def is_inline(self) -> bool:
        return self.inline_data is not None


@dataclass(frozen=True, slots=True)
class SegmentSource:
    """A stored segment as get-object describes it; ``offset`` is its place in the object."""

    index: int
    offset: int
    plain_size: int
    segment_id: bytes
    wrapped_key: bytes
    inline_data: bytes | None = None
    layout: SegmentLayout | None = None
    pieces: Sequence[PieceSource] = field(default_factory=tuple)


class BadPieceReporter(Protocol):
    """Tells the satellite that a node served a share that failed its Merkle proof."""

    async def report_bad_piece(self, source: PieceSource, segment: SegmentSource, reason: str) -> None: ...
