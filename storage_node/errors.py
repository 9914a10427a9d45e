"""Domain errors of the storage node.

They say what went wrong in words an operator or a client developer can act on and carry
no HTTP: ``piecestore/errors.py`` is the one place that maps them to status codes.
"""

from __future__ import annotations

from common.errors import GeoshardError, OrderError

__all__ = [
    "BadRequest",
    "BodyTooLarge",
    "CorruptPiece",
    "IncompleteBody",
    "InsufficientSpace",
    "InvalidPieceId",
    "InvalidRange",
    "NodeError",
    "OrderExpired",
    "OrderLimitExceeded",
    "OrderNotForThisNode",
    "PieceExists",
    "PieceNotFound",
    "SerialAlreadyUsed",
    "WrongAction",
]


class NodeError(GeoshardError):
    """Base of the storage node's own errors."""


class BadRequest(NodeError):
    """A request is malformed: missing or unparsable header, bad parameter."""


class InvalidPieceId(BadRequest):
    """A piece id is not 64 lowercase hex characters (which also rules out path traversal)."""


class InvalidRange(NodeError):
    """A byte range lies outside the piece, or is not leaf-aligned when a proof is asked for."""


class PieceNotFound(NodeError):
    """This node does not hold the piece (never had it, or it was deleted)."""


class PieceExists(NodeError):
    """A piece with this id is already stored; pieces are immutable."""


class InsufficientSpace(NodeError):
    """Storing the piece would exceed the capacity the operator allocated."""


class BodyTooLarge(NodeError):
    """The upload is larger than its order limit allows."""


class IncompleteBody(NodeError):
    """The upload ended before the declared Content-Length."""


class CorruptPiece(NodeError):
    """A piece file's header is damaged or of an unknown version."""


class OrderNotForThisNode(OrderError):
    """The order limit names another satellite, node or piece."""


class WrongAction(OrderError):
    """The order limit allows a different action than this request performs."""


class OrderExpired(OrderError):
    """The order limit (or audit challenge) is past its expiry."""


class SerialAlreadyUsed(OrderError):
    """The order's serial was already used: an upload order is good for one upload."""


class OrderLimitExceeded(OrderError):
    """A download would move more bytes than the order limit allows."""
