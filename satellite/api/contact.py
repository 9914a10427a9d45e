"""Public endpoints for storage nodes: check-in and the satellite's identity."""

from __future__ import annotations

from aiohttp import web

from satellite.overlay.service import OverlayService

__all__ = ["ContactEndpoint"]


class ContactEndpoint:
    def __init__(self, overlay: OverlayService) -> None:
        self.overlay = overlay

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/api/v1/nodes/checkin", self.checkin), web.get("/api/v1/identity", self.identity)]

    async def checkin(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(await self.overlay.check_in(body, request.remote))

    async def identity(self, request: web.Request) -> web.Response:
        return web.json_response({"id": self.overlay.satellite_id})
