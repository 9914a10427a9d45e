"""The node's side of the economy, on the satellite's public port: settle orders, read earnings.

``POST /api/v1/nodes/orders/settle`` takes a node-signed
:class:`~common.messages.OrderSettlement` and answers which serials were accepted and, for
each rejected one, why (``satellite.accounting.orders``). ``POST /api/v1/nodes/earnings``
takes a node-signed :class:`~common.messages.EarningsRequest` and answers this period's
estimate, the node's paystubs, its held total and — when the network requires stake — its stake
(amount, state, end of unbonding). Both are about the signing node only, must
be addressed to this satellite and be recent by its clock.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from common.messages import EarningsRequest, now
from satellite.accounting.service import AccountingService
from satellite.api.node_requests import read_json, read_node_request

__all__ = ["EARNINGS_PATH", "SETTLE_PATH", "AccountingEndpoint"]

SETTLE_PATH = "/api/v1/nodes/orders/settle"
EARNINGS_PATH = "/api/v1/nodes/earnings"


class AccountingEndpoint:
    def __init__(
        self,
        accounting: AccountingService,
        satellite_id: str,
        *,
        stake: Callable[[str], Awaitable[dict[str, Any] | None]] | None = None,
    ) -> None:
        self.accounting = accounting
        self.satellite_id = satellite_id
        # The node's stake (settlement's cache of the staking contract), when the network requires stake.
        self.stake = stake

    def routes(self) -> list[web.RouteDef]:
        return [web.post(SETTLE_PATH, self.settle), web.post(EARNINGS_PATH, self.earnings)]

    async def settle(self, request: web.Request) -> web.Response:
        result = await self.accounting.settler.settle(await read_json(request, "order settlement"))
        return web.json_response(result.to_json())

    async def earnings(self, request: web.Request) -> web.Response:
        t = now()
        msg = await read_node_request(
            request, EarningsRequest, "earnings request", "a node may only ask for its own earnings",
            self.satellite_id, at=t,
        )  # fmt: skip
        body = await self.accounting.earnings(msg.node_id)
        body["stake"] = await self.stake(msg.node_id) if self.stake is not None else None
        body["satellite_time"] = t
        return web.json_response(body)
