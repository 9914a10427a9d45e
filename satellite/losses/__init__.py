"""Piece losses: a reader's or a node's report of a bad piece lowers its segment's health and queues repair."""

from .service import LossConfig, LossService

__all__ = ["LossConfig", "LossService"]
