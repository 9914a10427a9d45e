"""Residency without exceptions: where the satellite's metadata lives, and evidence of every place a piece has been."""

from .location import MetadataLocation

__all__ = ["MetadataLocation"]
