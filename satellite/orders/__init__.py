"""Signed order limits, piece id derivation and the short-lived segment tokens of begin/commit."""

from satellite.orders.service import OrderSigner, SegmentToken, TokenPiece, derive_piece_id, fresh_piece_id

__all__ = ["OrderSigner", "SegmentToken", "TokenPiece", "derive_piece_id", "fresh_piece_id"]
