"""``geoshard node exit``: ask the satellite to let this node leave, and watch the exit.

The node sends a node-signed :class:`~common.messages.ExitRequest` to ``POST
{satellite}/api/v1/nodes/exit``: ``begin`` starts the exit (the satellite stops placing
pieces here and copies every piece this node holds to other nodes), ``status`` asks how
far it is. The node must keep running (``geoshard node run``) until the status says
``exited``: the satellite downloads each piece from it, and a node offline too long, or
that fails too many transfers, fails its exit. Once exited, its held amount is
releasable and the next retain list lets it delete everything.
"""

from __future__ import annotations

from typing import Any

from common.identity import Identity
from common.messages import ExitRequest, Signed, now
from common.progress import bar
from storage_node.satellite_rpc import SatelliteUnavailable, post_signed

__all__ = ["EXIT_PATH", "ExitUnavailable", "exit_request", "format_exit", "request_exit"]

EXIT_PATH = "/api/v1/nodes/exit"


ExitUnavailable = SatelliteUnavailable  # the satellite could not be asked, or refused


def exit_request(identity: Identity, satellite_id: str, action: str) -> bytes:
    """The node-signed body of ``POST {satellite}/api/v1/nodes/exit``."""
    msg = ExitRequest(node_id=identity.id, satellite_id=satellite_id, action=action, timestamp=now())
    return Signed.sign(identity, msg).dumps().encode()


def request_exit(
    identity: Identity, satellite_id: str, satellite_url: str, action: str, timeout: float = 10.0
) -> dict[str, Any]:
    """``action`` is ``begin`` or ``status``; the satellite's view of the exit."""
    msg = ExitRequest(node_id=identity.id, satellite_id=satellite_id, action=action, timestamp=now())
    state: dict[str, Any] = post_signed(identity, msg, satellite_url, EXIT_PATH, timeout)
    return state


def format_exit(s: dict[str, Any]) -> list[str]:
    status = s["status"]
    if status == "none":
        return ["exit         not requested (start one with `geoshard node exit --config …`)"]
    start = s["pieces_at_start"]
    moved = s["pieces_transferred"]
    lines = [
        f"exit         {status} (requested {s['initiated_at']})",
        f"pieces       {s['pieces_remaining']} remaining of {start} at the start; "
        f"{moved} moved ({s['bytes_transferred']} bytes), {s['pieces_failed']} failed",
    ]
    if "progress" in s:
        lines.insert(1, f"progress     {bar(float(s['progress']))}")
    if status == "exiting":
        lines.append("keep the node running (`geoshard node run`) until the exit completes")
    elif status == "exited":
        lines.append(f"finished     {s['finished_at']}: the held amount is releasable; the node may be shut down")
    elif status == "failed":
        lines.append(f"FAILED       {s['finished_at']}: {s['reason']}")
    return lines
