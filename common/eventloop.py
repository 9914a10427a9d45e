"""The event loop every Geoshard server process runs on: uvloop where it is installed.

aiohttp, asyncpg and large piece bodies all spend markedly less CPU per request and per
byte on uvloop; without it (it is not built for every platform) asyncio's own loop serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["loop_factory"]


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """For ``asyncio.Runner(loop_factory=...)``: uvloop's, or None for asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
