"""Nodes report their own lost pieces on the satellite's public port.

``POST /api/v1/nodes/losses`` takes a node-signed :class:`~common.messages.PieceLossReport`
(the node's scrub found pieces corrupt or missing and deleted them). As for the reputation
request, only the node itself may report, to this satellite, with a recent timestamp; the
answer says what was counted and whether the node is warned or suspended
(``satellite.losses``).
"""

from __future__ import annotations

from aiohttp import web

from common.errors import MessageError, SignatureError
from common.messages import PieceLossReport, Signed, now
from satellite.errors import InvalidArgument, NodeRejected
from satellite.losses import LossService
from satellite.overlay.service import MAX_CLOCK_SKEW

__all__ = ["LOSSES_PATH", "LossEndpoint"]

LOSSES_PATH = "/api/v1/nodes/losses"


class LossEndpoint:
    def __init__(self, service: LossService, satellite_id: str) -> None:
        self.service = service
        self.satellite_id = satellite_id

    def routes(self) -> list[web.RouteDef]:
        return [web.post(LOSSES_PATH, self.report)]

    async def report(self, request: web.Request) -> web.Response:
        try:
            signed = Signed.loads(await request.read(), PieceLossReport)
        except SignatureError as e:
            raise NodeRejected(f"loss report rejected: {e}") from None
        except MessageError as e:
            raise InvalidArgument(f"malformed loss report: {e}") from None
        msg = signed.message
        try:
            signed.verify(expected_signer=msg.node_id)
        except SignatureError as e:
            raise NodeRejected(f"a node may only report its own losses: {e}") from None
        if msg.satellite_id != self.satellite_id:
            raise NodeRejected(f"loss report is addressed to satellite {msg.satellite_id[:16]}…, not this one")
        t = now()
        if abs(t - msg.timestamp) > MAX_CLOCK_SKEW:
            raise NodeRejected(
                f"loss report timestamp is {msg.timestamp - t:+d}s off the satellite's clock "
                f"(allowed ±{MAX_CLOCK_SKEW}s): set the node's clock right (NTP)"
            )
        answer = await self.service.node_report(msg.node_id, list(msg.piece_ids), msg.reason, msg.detail)
        return web.json_response(answer)
