"""The node's HTTP transport: piece, audit and retain endpoints, order checks, error mapping."""

from storage_node.piecestore.endpoint import PiecestoreEndpoint
from storage_node.piecestore.verification import OrderVerifier

__all__ = ["OrderVerifier", "PiecestoreEndpoint"]
