"""Fixtures shared across test packages (each fixture module documents its own)."""

from tests.devnet_fixture import devnet  # noqa: F401 - a real `geoshard devnet`, one per xdist group
