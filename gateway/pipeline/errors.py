"""The errors of the data pipeline, drawn as one hierarchy (no HTTP here).

Transfers with one node fail in three ways that the caller treats differently: the node
could not be reached or did not answer in time (:class:`NodeUnavailable`: try another),
it answered with an error (:class:`NodeRefused`: try another, and its code says why), or
it answered with bytes or a receipt that do not check out (:class:`BadShare`,
:class:`BadReceipt`: try another *and report the node*). Each names the node, the piece
number and the piece id, so logs and reports point at one share on one disk.

Whole-segment failures are :class:`NotEnoughPieces` (an upload landed fewer than
``success`` pieces, or a download found fewer than ``k`` good shares) and
:class:`PipelineDataError` (a decryption failure: the metadata or key is wrong).
"""

from __future__ import annotations

from common.errors import GeoshardError
from common.piece_client import (  # per-piece errors: the piece client's, shared with the repairer
    BadReceipt,
    BadShare,
    NodeRefused,
    NodeUnavailable,
    PieceTransferError,
)

__all__ = [
    "BadReceipt",
    "BadShare",
    "NodeRefused",
    "NodeUnavailable",
    "NotEnoughPieces",
    "PieceTransferError",
    "PipelineDataError",
    "PipelineError",
]


class PipelineError(GeoshardError):
    """Base of every error raised by :mod:`gateway.pipeline`."""


class NotEnoughPieces(PipelineError):
    """Fewer pieces than needed landed (upload) or could be read (download)."""

    def __init__(self, what: str, have: int, need: int, failures: list[PieceTransferError]) -> None:
        self.have = have
        self.need = need
        self.failures = failures
        reasons = "; ".join(str(f) for f in failures[:5])
        more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        tail = f" — {reasons}{more}" if reasons else ""
        super().__init__(f"{what}: {have} of the {need} pieces needed{tail}")


class PipelineDataError(PipelineError):
    """Stored metadata does not decrypt or decode: a wrong key, nonce or layout."""
