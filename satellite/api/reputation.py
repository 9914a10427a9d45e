"""The node's view of its own reputation, on the satellite's public port.

``POST /api/v1/nodes/reputation`` takes a node-signed
:class:`~common.messages.ReputationRequest` (``{node_id, satellite_id, timestamp}``) and
answers the node's scores, counts, flags with their reasons, warnings and its recent
audits (``satellite.reputation.service``). Only the node itself may ask: the request must
be signed by the key whose id it names, be addressed to this satellite (so it cannot be
replayed to another) and be recent by the satellite's clock. A node whose clock is off is
told by how much, since a wrong clock is worth knowing about in its own right. The answer
also says whether the satellite counts the node online right now (``online``, with
``online_window`` and the ``checkin_interval`` it expects), which is what placement and
exits go by — a high online *score* does not mean the node is reachable today.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from common.messages import ReputationRequest, now
from satellite.api.node_requests import read_node_request
from satellite.errors import NotFound
from satellite.reputation.service import ReputationService

__all__ = ["REPUTATION_PATH", "ReputationEndpoint"]

REPUTATION_PATH = "/api/v1/nodes/reputation"


class ReputationEndpoint:
    def __init__(
        self, service: ReputationService, satellite_id: str, *, recent: int = 20, online_window: float | None = None
    ) -> None:
        self.service = service
        self.satellite_id = satellite_id
        self.recent = recent
        self.online_window = online_window

    def routes(self) -> list[web.RouteDef]:
        return [web.post(REPUTATION_PATH, self.reputation)]

    async def reputation(self, request: web.Request) -> web.Response:
        t = now()
        msg = await read_node_request(
            request, ReputationRequest, "reputation request",
            "a node may only ask for its own reputation", self.satellite_id, at=t,
        )  # fmt: skip
        report = await self.service.report(msg.node_id, recent=self.recent)
        if report is None:
            raise NotFound(f"node {msg.node_id[:16]}… has never checked in with this satellite")
        report["satellite_time"] = t
        last = report.get("last_contact_at")
        if self.online_window is not None and isinstance(last, str):
            since = (dt.datetime.now(dt.UTC) - _parse_iso(last)).total_seconds()
            report["online"] = since <= self.online_window
            report["online_window"] = self.online_window
            report["seconds_since_contact"] = round(since, 1)
        return web.json_response(report)


def _parse_iso(text: str) -> dt.datetime:
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
