"""Egress: nodes submit the download orders they served; the satellite pays each serial once.

A node sends a node-signed :class:`~common.messages.OrderSettlement`: the satellite-signed
order limits exactly as it received them and the bytes served under each. Each order is
judged on its own and either accepted or rejected with a reason the node logs:

- ``forged``: not signed by this satellite (or not an order limit at all);
- ``other node``: issued to a different node than the one submitting it;
- ``not a download``: PUT and DELETE orders move no paid egress;
- ``expired``: its settlement window (``order_settlement_window`` after expiry) is over;
- ``over limit``: the node claims more bytes than the order allowed (or none at all);
- ``already settled``: the serial was accepted before — by this batch or an earlier one.

Accepted orders are written with one ``INSERT … ON CONFLICT (serial) DO NOTHING RETURNING
serial`` (SQLite and PostgreSQL alike), so two concurrent submissions of one serial, even
to two satellite API processes, pay it exactly once. ``GET`` is customer egress, ``REPAIR_GET``
(repair and graceful-exit transfers) and ``AUDIT`` are counted apart, each at its own rate.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from common.errors import MessageError, SignatureError
from common.messages import Action, OrderLimit, OrderSettlement, Signed, now
from satellite.db.accounting import AccountingRepository, SettledOrder
from satellite.overlay.service import verify_node_request

__all__ = ["OrderSettler", "SettlementResult"]

log = logging.getLogger(__name__)

PAID_ACTIONS = (Action.GET, Action.REPAIR_GET, Action.AUDIT)


@dataclass
class SettlementResult:
    accepted: list[str] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected, "accepted_bytes": self.bytes}


class OrderSettler:
    def __init__(self, repo: AccountingRepository, satellite_id: str, *, settlement_window: int) -> None:
        self.repo = repo
        self.satellite_id = satellite_id
        self.settlement_window = settlement_window

    async def settle(self, envelope: Any, at: int | None = None) -> SettlementResult:
        """Verify a ``Signed[OrderSettlement]`` JSON envelope; record what it rightly claims."""
        t = now() if at is None else at
        msg = verify_node_request(
            envelope, OrderSettlement, "order settlement", "a node settles only its own orders", self.satellite_id, at=t
        )
        result = SettlementResult()
        candidates: dict[str, SettledOrder] = {}
        for text, amount in zip(msg.orders, msg.amounts, strict=True):
            order, reason = self._judge(text, amount, msg.node_id, t)
            if order is None:
                result.rejected.append({"serial": _serial_of(text), "reason": reason})
            elif order.serial in candidates:
                result.rejected.append(
                    {"serial": order.serial, "reason": "already settled: serial repeated in this batch"}
                )
            else:
                candidates[order.serial] = order
        new = await self.repo.settle_orders(list(candidates.values()), dt.datetime.fromtimestamp(t, dt.UTC))
        for serial, order in candidates.items():
            if serial in new:
                result.accepted.append(serial)
                result.bytes += order.bytes
            else:
                result.rejected.append({"serial": serial, "reason": "already settled: this serial was paid before"})
        if result.rejected:
            log.info(
                "node %s settled %d orders, %d rejected (%s)",
                msg.node_id[:16],
                len(result.accepted),
                len(result.rejected),
                result.rejected[0]["reason"],
            )
        return result

    def _judge(self, text: str, amount: int, node_id: str, t: int) -> tuple[SettledOrder | None, str]:
        try:
            signed = Signed.loads(text, OrderLimit)
            limit = signed.verify(expected_signer=self.satellite_id)
        except (MessageError, SignatureError) as e:
            return None, f"forged: not an order limit signed by this satellite ({e})"
        if limit.satellite_id != self.satellite_id:
            return None, "forged: the order names another satellite"
        if limit.node_id != node_id:
            return None, f"other node: the order was issued to node {limit.node_id[:16]}…, not to the submitter"
        if limit.action not in PAID_ACTIONS:
            return None, f"not a download: {limit.action.value} orders are not paid as egress"
        if limit.expires + self.settlement_window < t:
            return None, (
                f"expired: the order expired {t - limit.expires}s ago and could be settled for "
                f"{self.settlement_window}s after expiry"
            )
        if amount <= 0 or amount > limit.max_bytes:
            return None, f"over limit: {amount} bytes claimed, the order allows 1 to {limit.max_bytes}"
        return SettledOrder(limit.serial, node_id, limit.action.value, limit.max_bytes, limit.expires, amount), ""


def _serial_of(text: str) -> str:
    """The serial an unreadable order claims, for the node's log (it may be missing)."""
    import json

    try:
        serial = json.loads(text)["message"]["serial"]
    except (ValueError, KeyError, TypeError):
        return ""
    return serial if isinstance(serial, str) else ""
