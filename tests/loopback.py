"""An aiohttp app served on a free loopback port, for tests that stand in front of a real peer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

__all__ = ["serve_on_loopback"]


@contextlib.asynccontextmanager
async def serve_on_loopback(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` on a free loopback port (a cheating node's front, a fake chain); its URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
