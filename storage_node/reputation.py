"""The node's view of its own reputation: ask the satellite, show it with warnings.

The satellite keeps the scores (``satellite.reputation``); the node asks for them with a
node-signed :class:`~common.messages.ReputationRequest` at ``POST
{satellite}/api/v1/nodes/reputation`` and shows the operator every score beside its
threshold, why the node is suspended or disqualified if it is, and the last audits with
their reasons — the warning Storj operators say they never got before disqualification.
"""

from __future__ import annotations

from typing import Any

from common.identity import Identity
from common.messages import ReputationRequest, Signed, now
from storage_node.satellite_rpc import SatelliteUnavailable, post_signed

__all__ = [
    "REPUTATION_PATH",
    "ReputationUnavailable",
    "add_clock_warning",
    "fetch_reputation",
    "format_contact",
    "format_reputation",
    "reputation_request",
]

REPUTATION_PATH = "/api/v1/nodes/reputation"


ReputationUnavailable = SatelliteUnavailable  # the satellite could not be asked, or refused


def reputation_request(identity: Identity, satellite_id: str) -> bytes:
    """The node-signed body of ``POST {satellite}/api/v1/nodes/reputation``."""
    msg = ReputationRequest(node_id=identity.id, satellite_id=satellite_id, timestamp=now())
    return Signed.sign(identity, msg).dumps().encode()


def add_clock_warning(report: dict[str, Any]) -> dict[str, Any]:
    """Warn first when this machine's clock is more than a minute off the satellite's."""
    skew = report.get("satellite_time", now()) - now()
    if abs(skew) > 60:
        report.setdefault("warnings", []).insert(
            0, f"this machine's clock is {-skew:+d}s off the satellite's: set it right (NTP)"
        )
    return report


def fetch_reputation(
    identity: Identity, satellite_id: str, satellite_url: str, timeout: float = 10.0
) -> dict[str, Any]:
    msg = ReputationRequest(node_id=identity.id, satellite_id=satellite_id, timestamp=now())
    report: dict[str, Any] = post_signed(identity, msg, satellite_url, REPUTATION_PATH, timeout)
    return add_clock_warning(report)


def format_contact(r: dict[str, Any]) -> list[str]:
    """Whether the satellite counts this node online now: what placement and exits go by."""
    if "online" not in r:
        return []
    ago, window = r.get("seconds_since_contact", 0.0), r.get("online_window", 0)
    if r["online"]:
        return [f"satellite    sees this node ONLINE (last check-in {ago:.0f}s ago)"]
    return [
        f"satellite    sees this node OFFLINE: last check-in {ago:.0f}s ago, offline after {window:.0f}s",
        "WARNING      is `geoshard node run` running, and can it reach the satellite? Offline nodes get "
        "no new pieces, lose their online score and fail a graceful exit",
    ]


def format_reputation(r: dict[str, Any]) -> list[str]:
    sc, th, n = r["scores"], r["thresholds"], r["counts"]
    lines = [*format_contact(r),
        f"audit score  {sc['audit']:.4f} (disqualified at {th['audit_disqualify']})",
        f"unknown      {sc['unknown']:.3f} (suspended at {th['unknown_suspend']})",
        f"online score {sc['online']:.3f} (suspended below {th['online_suspend']})",
        f"audits       {n['audits']}: {n['success']} ok, {n['failure']} failed, {n['offline']} offline, "
        f"{n['unknown']} unknown, {n['timeout']} timed out",
        "vetted       " + ("yes" if r["vetted"] else f"no ({r['audits_to_vetting']} more successful audits)"),
    ]
    if r["contained"]:
        lines.append(f"contained    yes: an audit timed out and is being retried ({r['contained_misses']} miss(es))")
    if r["disqualified"]:
        lines.append(f"DISQUALIFIED {r['disqualified_at']}: {r['disqualification_reason']}")
    if r["suspended"]:
        lines.append(f"SUSPENDED    {r['suspended_at']}: {r['suspension_reason']}")
    loss = r.get("self_reported_losses")
    if loss and loss["losses"]:
        lines.append(
            f"lost pieces  {loss['losses_in_window']} reported recently ({loss['losses']} all time; "
            f"suspension at {loss['suspend_at']:g}) — found by this node's scrub, not counted as failed audits"
        )
    if loss and loss["suspended"]:
        lines.append(f"SUSPENDED    for lost pieces: {loss['suspension_reason']}")
    lines += [f"WARNING      {w}" for w in r.get("warnings", [])]
    bad = [a for a in r.get("recent_audits", []) if a["outcome"] != "success"]
    if bad:
        lines.append("recent audits that did not pass:")
        lines += [f"  {a['at']}  {a['outcome']:<9}  piece {a['piece_id'][:16]}…  {a['reason']}" for a in bad[:10]]
    return lines
