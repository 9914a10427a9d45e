"""Nodes report their own lost pieces on the satellite's public port.

``POST /api/v1/nodes/losses`` takes a node-signed :class:`~common.messages.PieceLossReport`
(the node's scrub found pieces corrupt or missing and deleted them). As for the reputation
request, only the node itself may report, to this satellite, with a recent timestamp; the
answer says what was counted and whether the node is warned or suspended
(``satellite.losses``).
"""

from __future__ import annotations

from aiohttp import web

from common.messages import PieceLossReport
from satellite.api.node_requests import read_node_request
from satellite.losses import LossService

__all__ = ["LOSSES_PATH", "LossEndpoint"]

LOSSES_PATH = "/api/v1/nodes/losses"


class LossEndpoint:
    def __init__(self, service: LossService, satellite_id: str) -> None:
        self.service = service
        self.satellite_id = satellite_id

    def routes(self) -> list[web.RouteDef]:
        return [web.post(LOSSES_PATH, self.report)]

    async def report(self, request: web.Request) -> web.Response:
        msg = await read_node_request(
            request, PieceLossReport, "loss report",
            "a node may only report its own losses", self.satellite_id,
        )  # fmt: skip
        answer = await self.service.node_report(msg.node_id, list(msg.piece_ids), msg.reason, msg.detail)
        return web.json_response(answer)
