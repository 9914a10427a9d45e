"""The node-facing exit API: ``POST /api/v1/nodes/exit`` with a node-signed ``ExitRequest``."""

from __future__ import annotations

from aiohttp import web

from .service import GracefulExitService

__all__ = ["EXIT_PATH", "GracefulExitEndpoint"]

EXIT_PATH = "/api/v1/nodes/exit"


class GracefulExitEndpoint:
    def __init__(self, service: GracefulExitService) -> None:
        self.service = service

    def routes(self) -> list[web.RouteDef]:
        return [web.post(EXIT_PATH, self.exit)]

    async def exit(self, request: web.Request) -> web.Response:
        state = await self.service.handle(await request.json())
        return web.json_response(state.to_json())
