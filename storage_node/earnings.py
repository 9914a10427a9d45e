"""``geoshard node earnings``: what this node earned, as the satellite accounts it.

The node asks with a node-signed :class:`~common.messages.EarningsRequest` at ``POST
{satellite}/api/v1/nodes/earnings``. The satellite answers this period's estimate so far
(byte-hours from its own tallies, egress from settled orders), every paystub of a closed
period (byte-hours, egress by kind, gross, held, returned, paid and — once settlement ran —
the transaction hash), the total held back and, when the network requires stake, the node's
stake (bonded amount, unbonding and its end). Pay never comes from the node's own claims.
"""

from __future__ import annotations

from typing import Any

from common.identity import Identity
from common.messages import EarningsRequest, Signed, now
from storage_node.satellite_rpc import SatelliteUnavailable, post_signed

__all__ = [
    "EARNINGS_PATH",
    "EarningsUnavailable",
    "earnings_request",
    "fetch_earnings",
    "format_earnings",
    "format_stake",
]

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


def _tokens(units: str | int, decimals: int) -> str:
    whole, frac = divmod(int(units), 10**decimals)
    return f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".") if decimals else str(whole)


def format_stake(e: dict[str, Any]) -> str | None:
    """One line on the node's stake, or None when the network requires none (``stake`` absent or null)."""
    st = e.get("stake")
    if not st:
        return None
    token = e.get("token") or {}
    decimals, symbol = int(token.get("decimals", 0)), token.get("symbol", "")
    state = st.get("state")
    bonded = f"{_tokens(st.get('bonded_units', 0), decimals)} {symbol}"
    if state == "bonded":
        counts = "" if st.get("counts_for_placement") else f" (below the minimum {st.get('minimum_units')} units)"
        return f"stake        {bonded} bonded{counts}"
    if state == "unbonding":
        return f"stake        {bonded} unbonding until {st.get('unbonding_until')} (then withdrawable to its wallet)"
    if state == "withdrawable":
        return f"stake        {bonded} withdrawable to {st['wallet']} since {st.get('unbonding_until')}"
    if state == "withdrawn":
        return "stake        withdrawn (the exit completed)"
    if state == "slashed":
        return f"stake        slashed into the reserve fund at {st.get('slashed_at')} (tx {st.get('slash_tx') or '—'})"
    if state == "unstaked":
        return f"stake        none posted from {st.get('wallet')}: this network selects only staked nodes for uploads"
    return "stake        the satellite has not registered this node's wallet with the staking contract yet"


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
    stake = format_stake(e)
    if stake is not None:
        lines.append(stake)
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
