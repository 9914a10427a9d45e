"""The blob store: piece files with their Merkle trees, trash, expiry and used-space accounting."""

from storage_node.pieces.format import PieceHeader
from storage_node.pieces.store import PieceReader, PieceStore, PieceWriter, SpaceUsage

__all__ = ["PieceHeader", "PieceReader", "PieceStore", "PieceWriter", "SpaceUsage"]
