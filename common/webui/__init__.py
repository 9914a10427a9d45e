"""Browser code the processes' pages share: the chart drawing and the base stylesheet."""

from pathlib import Path

__all__ = ["STATIC"]

STATIC = Path(__file__).parent / "static"
