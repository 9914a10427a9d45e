"""Progress of a long operation as a terminal shows it: ``[#####·····]  50.0%``.

The APIs report a fraction (0.0 … 1.0) and the command lines draw it with :func:`bar`, so a
graceful exit or a repair backlog reads the same in ``node exit --status`` and in
``admin repair status`` as in the JSON a dashboard draws.
"""

from __future__ import annotations

__all__ = ["bar"]


def bar(fraction: float, width: int = 30) -> str:
    """A fixed-width bar and percentage; ``fraction`` is clamped to 0 … 1."""
    f = min(1.0, max(0.0, fraction))
    filled = round(f * width)
    return f"[{'#' * filled}{'·' * (width - filled)}] {f * 100:5.1f}%"
