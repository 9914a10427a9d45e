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


class PieceTransferError(PipelineError):
    """A transfer of one piece with one node failed."""

    def __init__(self, node_id: str, piece_num: int, piece_id: str, message: str) -> None:
        self.node_id = node_id
        self.piece_num = piece_num
        self.piece_id = piece_id
        self.detail = message
        super().__init__(f"piece {piece_num} ({piece_id[:12]}…) on node {node_id[:12]}…: {message}")


class NodeUnavailable(PieceTransferError):
    """The node could not be reached, dropped the connection or exceeded its time."""


class NodeRefused(PieceTransferError):
    """The node answered with an error; ``status`` and ``code`` are what it sent."""

    def __init__(
        self, node_id: str, piece_num: int, piece_id: str, status: int, code: str, message: str
    ) -> None:
        self.status = status
        self.code = code
        super().__init__(node_id, piece_num, piece_id, f"HTTP {status} {code}: {message}")


class BadShare(PieceTransferError):
    """Bytes a node served do not match the piece's Merkle root: never decoded, reported."""


class BadReceipt(PieceTransferError):
    """A node's upload receipt is unsigned, signed by someone else, or names other bytes."""


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
