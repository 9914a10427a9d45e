"""The piece client moved to :mod:`common.piece_client` (the satellite's repairer uses it too);
re-exported here so the pipeline's imports stay as they were."""

from common.piece_client import PieceClient, PieceClientConfig, order_header

__all__ = ["PieceClient", "PieceClientConfig", "order_header"]
