"""Residency without exceptions: where the satellite's metadata lives, and evidence of every place a piece has been."""

from .location import MetadataLocation

__all__ = ["MetadataLocation"]
# The ledger's export (service) and its verification (evidence) are imported from their modules:
# placement code needs only the location, and must not pull the rest in.
