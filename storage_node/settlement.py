"""Egress settlement: the node submits the download orders it served, to be paid for them.

Every ``settlement_interval`` the node takes the download orders (GET, repair GET, audit)
that expired with bytes served and not yet settled (``OrderArchive.unsettled``: once an
order expired no more bytes can be served under it), at most 1000 per request, and POSTs
them, signed by the node, to ``{satellite}/api/v1/nodes/orders/settle``. The satellite
answers which serials it accepted and why it rejected the others; both are marked settled
here (a rejected order will never be accepted: it is forged, expired, over its limit or paid
already), and every rejection is logged with its reason so an operator sees what was not
paid and why. A satellite that cannot be reached is retried on the next pass, with nothing
marked.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import aiohttp

from common.identity import Identity
from common.messages import OrderSettlement, Signed, now
from storage_node.config import NodeConfig
from storage_node.nodedb import NodeDB

__all__ = ["SETTLE_PATH", "SettlementChore", "SettlementState"]

log = logging.getLogger(__name__)

SETTLE_PATH = "/api/v1/nodes/orders/settle"


@dataclass
class SettlementState:
    submitted: int = 0
    accepted: int = 0
    accepted_bytes: int = 0
    rejected: int = 0
    last_error: str | None = None
    last_rejections: list[dict[str, str]] = field(default_factory=list)


class SettlementChore:
    def __init__(self, identity: Identity, config: NodeConfig, db: NodeDB, *, batch: int = 1000) -> None:
        self.identity = identity
        self.config = config
        self.db = db
        self.batch = min(batch, OrderSettlement.MAX_ORDERS)
        self.url = config.satellite_url.rstrip("/") + SETTLE_PATH
        self.state = SettlementState()
        self._session: aiohttp.ClientSession | None = None

    async def run_once(self) -> int:
        """Submit one batch of settlable orders; how many were submitted (0: nothing to do)."""
        orders = self.db.orders.unsettled(limit=self.batch, expired_before=now())
        if not orders:
            return 0
        msg = OrderSettlement(
            node_id=self.identity.id,
            satellite_id=self.config.satellite_id,
            timestamp=now(),
            orders=tuple(o.order.dumps() for o in orders),
            amounts=tuple(o.bytes for o in orders),
        )
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        try:
            async with self._session.post(self.url, json=Signed.sign(self.identity, msg).to_json()) as resp:
                body = await resp.json(content_type=None)
                if resp.status >= 300:
                    raise RuntimeError(f"satellite answered {resp.status}: {body.get('message', body)}")
        except (aiohttp.ClientError, TimeoutError, RuntimeError, ValueError) as e:
            self.state.last_error = str(e) or type(e).__name__
            log.warning("settling %d orders with %s failed (%s); retrying next pass", len(orders), self.url,
                        self.state.last_error)  # fmt: skip
            return 0
        accepted = [s for s in body.get("accepted", []) if isinstance(s, str)]
        rejected = [r for r in body.get("rejected", []) if isinstance(r, dict)]
        for r in rejected:
            log.warning("satellite rejected order %s: %s", r.get("serial", "?"), r.get("reason", "no reason given"))
        mine = {o.serial for o in orders}
        self.db.orders.mark_settled([s for s in accepted if s in mine] + [
            r["serial"] for r in rejected if r.get("serial") in mine
        ])  # fmt: skip
        st = self.state
        st.submitted += len(orders)
        st.accepted += len(accepted)
        st.accepted_bytes += int(body.get("accepted_bytes", 0))
        st.rejected += len(rejected)
        st.last_error = None
        st.last_rejections = rejected[-20:]
        log.info("settled %d orders (%d bytes) with the satellite; %d rejected", len(accepted),
                 int(body.get("accepted_bytes", 0)), len(rejected))  # fmt: skip
        return len(orders)

    async def run(self) -> None:
        while True:
            try:
                while await self.run_once() == self.batch:  # a backlog: keep going
                    pass
            except Exception:
                log.exception("order settlement pass failed")
            await asyncio.sleep(self.config.settlement_interval)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
