"""The node's two listeners (piece store, dashboard) start the same way: one helper binds an app.

``start_site`` sets an aiohttp app up on ``host:port`` and returns its runner with the port
the OS gave (port 0 in tests and for ``--port 0``); :class:`HttpServer` is the piece store's
listener built on it, and the dashboard's server (``storage_node.dashboard.server``) uses it
too, adding its own way of failing softly.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

__all__ = ["HttpServer", "start_site"]

log = logging.getLogger(__name__)


async def start_site(app: web.Application, host: str, port: int, **site: Any) -> tuple[web.AppRunner, int]:
    """Bind ``app`` on ``host:port``; ``(runner, bound port)``. Raises OSError when the port is taken
    (the runner is cleaned up first). ``read_bufsize`` goes to the runner, the rest to the site."""
    runner = web.AppRunner(app, access_log=None, **({"read_bufsize": site.pop("read_bufsize")}
                                                     if "read_bufsize" in site else {}))  # fmt: skip
    await runner.setup()
    tcp = web.TCPSite(runner, host, port, **site)
    try:
        await tcp.start()
    except BaseException:
        await runner.cleanup()
        raise
    server = tcp._server
    if server is not None and getattr(server, "sockets", None):
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


class HttpServer:
    """An aiohttp application on a TCP port; ``started`` is set once the port is bound.

    Subclasses (the dashboard's server) override :meth:`bind` to react to the bound port or
    to a port that cannot be had; running and closing are the same for every listener.
    """

    name = "the piece store"

    def __init__(self, app: web.Application, host: str, port: int, **site: Any) -> None:
        self.app, self.host, self.port = app, host, port
        self.started = asyncio.Event()
        self._site = site
        self._runner: web.AppRunner | None = None

    async def bind(self) -> None:
        self._runner, self.port = await start_site(self.app, self.host, self.port, **self._site)
        log.info("serving %s on %s:%d", self.name, self.host, self.port)

    async def run(self) -> None:
        await self.bind()
        self.started.set()
        await asyncio.Event().wait()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
