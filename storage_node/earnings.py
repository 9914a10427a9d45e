"""``geoshard node earnings``: what this node earned, as the satellite accounts it.

The node asks with a node-signed :class:`~common.messages.EarningsRequest` at ``POST
{satellite}/api/v1/nodes/earnings``. The satellite answers this period's estimate so far
(byte-hours from its own tallies, egress from settled orders), every paystub of a closed
period (byte-hours, egress by kind, gross, held, returned, paid and — once settlement ran —
the transaction hash) and the total held back. Pay never comes from the node's own claims.
"""

from __future__ import annotations

from typing import Any

from common.identity import Identity
from common.messages import EarningsRequest, Signed, now
from storage_node.satellite_rpc import SatelliteUnavailable, post_signed

__all__ = ["EARNINGS_PATH", "EarningsUnavailable", "earnings_request", "fetch_earnings", "format_earnings"]

EARNINGS_PATH = "/api/v1/nodes/earnings"

EarningsUnavailable = SatelliteUnavailable

# How a paystub's settlement state reads to an operator.
_STATES = {"rolled_over": "rolled over (its fee would exceed the allowed share), carried to the next period"}


def _message(identity: Identity, satellite_id: str) -> EarningsRequest:
    return EarningsRequest(node_id=identity.id, satellite_id=satellite_id, timestamp=now())


def earnings_request(identity: Identity, satellite_id: str) -> bytes:
    """The node-signed body of ``POST {satellite}/api/v1/nodes/earnings`` (the dashboard's chore sends it)."""
    return Signed.sign(identity, _message(identity, satellite_id)).dumps().encode()


def fetch_earnings(identity: Identity, satellite_id: str, satellite_url: str, timeout: float = 10.0) -> dict[str, Any]:
    answer: dict[str, Any] = post_signed(identity, _message(identity, satellite_id), satellite_url, EARNINGS_PATH,
                                         timeout)
    return answer


def format_earnings(e: dict[str, Any]) -> list[str]:
    cur = e["currency"]
    c = e["current_period"]
    g = c["egress"]
    lines = [
        f"period       {c['period']} (so far, an estimate)",
        f"stored       {c['byte_hours']} byte-hours at {e['rates']['storage_per_tb_month']} {cur}/TB-month",
        f"egress       {g['get']} B download, {g['repair']} B repair, {g['audit']} B audit",
        f"gross        {c['gross']} {cur}; held {c['held']} ({c['held_percent']}%, month {c['age_month']} of age)",
        f"held total   {e['held_total']} {cur} (returned: half after month 15, all after a graceful exit)",
        f"paid         {e['paid_total']} {cur} in {e['token']['symbol']} confirmed on chain; "
        f"{e['pending_total']} {cur} of closed periods awaiting settlement",
    ]
    if e["paystubs"]:
        lines.append("")
        lines.append(f"{'PERIOD':<17} {'BYTE-HOURS':>14} {'GROSS':>14} {'HELD':>12} {'TO PAY':>14}  STATE / TX")
        for p in e["paystubs"]:
            state = _STATES.get(p.get("settlement_state") or "", p.get("settlement_state") or "awaiting settlement")
            tx = p.get("tx_hash") or ""
            lines.append(
                f"{p['period']:<17} {p['byte_hours']:>14} {p['gross']:>14} {p['held']:>12} {p['to_pay']:>14}  "
                f"{state} {tx}".rstrip()
            )
            if p.get("note"):
                lines.append(f"{'':<17} {p['note']}")
    else:
        lines.append("paystubs     none yet (a period's paystub appears once it closes)")
    return lines
