"""Beginning an exit and reporting its progress, for the node (signed requests) and admins.

A node asks to leave with a node-signed :class:`~common.messages.ExitRequest` (``begin``);
the same message with ``status`` asks how far it is. Both must be signed by the node they
name, addressed to this satellite, and recent (the check-in's 15-minute clock rule), so no
one can start another node's exit, and a captured request cannot be replayed later.

Beginning marks the node ``exiting`` (``nodes.exit_initiated_at``, which placement and the
repair checker read: no new pieces; its pieces no longer count as healthy) and records
how many pieces it held. Asking again is harmless and returns the state. A disqualified
node cannot exit: its held amount is already forfeit and its pieces are repaired anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from common.messages import ExitRequest, now
from satellite.errors import NodeRejected, NotFound
from satellite.nodeselection import PlacementPolicy
from satellite.overlay.service import verify_node_signed

__all__ = [
    "EXITED",
    "EXITING",
    "FAILED",
    "ExitNode",
    "ExitPiece",
    "ExitRefused",
    "ExitState",
    "ExitStore",
    "GracefulExitService",
]

MAX_CLOCK_SKEW = 15 * 60  # as for check-ins (satellite.overlay.service)

# An exit's status (``graceful_exits.status``); "none" is reported for a node that never asked.
EXITING, EXITED, FAILED = "exiting", "exited", "failed"


class ExitRefused(NodeRejected):
    """The node may not exit (disqualified)."""


@dataclass(frozen=True)
class ExitNode:
    id: str
    address: str
    last_contact: dt.datetime
    disqualified: bool
    initiated_at: dt.datetime | None


@dataclass(frozen=True)
class ExitPiece:
    """A piece on the exiting node, with what a transfer needs to place and verify its copy."""

    segment_id: int
    number: int
    piece_id: str
    merkle_root: bytes
    size: int
    root_piece_id: str
    layout: dict[str, Any]
    policy: PlacementPolicy
    holders: tuple[str, ...]  # nodes holding the segment's other pieces


@dataclass(frozen=True)
class ExitState:
    node_id: str
    status: str  # "none" (never asked), "exiting", "exited", "failed"
    initiated_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    reason: str = ""
    pieces_at_start: int = 0
    pieces_remaining: int = 0
    pieces_transferred: int = 0
    bytes_transferred: int = 0
    pieces_failed: int = 0

    @property
    def progress(self) -> float:
        """Share of the pieces held at the start that have left the node, 0.0 … 1.0."""
        if self.status == "exited":
            return 1.0
        if self.pieces_at_start <= 0:
            return 0.0
        return round(min(1.0, max(0.0, 1 - self.pieces_remaining / self.pieces_at_start)), 4)

    def to_json(self) -> dict[str, Any]:
        def iso(t: dt.datetime | None) -> str | None:
            return None if t is None else t.astimezone(dt.UTC).isoformat()

        return {
            "node_id": self.node_id,
            "status": self.status,
            "initiated_at": iso(self.initiated_at),
            "finished_at": iso(self.finished_at),
            "reason": self.reason,
            "pieces_at_start": self.pieces_at_start,
            "pieces_remaining": self.pieces_remaining,
            "pieces_transferred": self.pieces_transferred,
            "bytes_transferred": self.bytes_transferred,
            "pieces_failed": self.pieces_failed,
            "progress": self.progress,
            # The payouts issue releases the held amount of an exit that completed.
            "held_amount_releasable": self.status == "exited",
        }


class ExitStore(Protocol):
    async def node(self, node_id: str) -> ExitNode | None: ...
    async def begin(self, node_id: str, at: dt.datetime) -> None:
        """Mark the node exiting and record its piece count; a no-op if an exit exists."""
        ...

    async def state(self, node_id: str) -> ExitState: ...
    async def exiting(self) -> list[ExitNode]: ...
    async def pieces(self, node_id: str, after: tuple[int, int] | None, limit: int) -> list[ExitPiece]: ...
    async def swap_piece(self, node_id: str, piece: ExitPiece, new_node_id: str, new_piece_id: str) -> bool:
        """Point the piece at its copy, only if the row still names ``node_id`` and the old id."""
        ...

    async def drop_piece(self, node_id: str, piece: ExitPiece) -> bool: ...
    async def add_progress(self, node_id: str, transferred: int, nbytes: int, failed: int, at: dt.datetime) -> None: ...
    async def finish(self, node_id: str, status: str, reason: str, at: dt.datetime) -> None: ...


class GracefulExitService:
    def __init__(self, store: ExitStore, *, satellite_id: str, on_nodes_changed: Any = None) -> None:
        self.store = store
        self.satellite_id = satellite_id
        self.on_nodes_changed = on_nodes_changed

    def verify(self, envelope: Any) -> ExitRequest:
        """The request, if signed by the node it names, for this satellite, and recent."""
        msg = verify_node_signed(envelope, ExitRequest, "exit request", "only a node may ask about its own exit")
        if msg.satellite_id != self.satellite_id:
            raise NodeRejected(f"exit request is for satellite {msg.satellite_id[:16]}…, not this one")
        skew = abs(now() - msg.timestamp)
        if skew > MAX_CLOCK_SKEW:
            raise NodeRejected(f"exit request timestamp is {skew}s away from the satellite's clock")
        return msg

    async def handle(self, envelope: Any) -> ExitState:
        msg = self.verify(envelope)
        if msg.action == "begin":
            return await self.begin(msg.node_id)
        return await self.status(msg.node_id)

    async def begin(self, node_id: str) -> ExitState:
        node = await self.store.node(node_id)
        if node is None:
            raise NotFound(f"node {node_id[:16]}… has never checked in with this satellite")
        if node.disqualified:
            raise ExitRefused(f"node {node_id[:16]}… is disqualified and cannot exit gracefully")
        if node.initiated_at is None:
            await self.store.begin(node_id, dt.datetime.now(dt.UTC))
            if self.on_nodes_changed is not None:
                self.on_nodes_changed()  # placement must stop choosing it now, not after the cache
        return await self.store.state(node_id)

    async def status(self, node_id: str) -> ExitState:
        if await self.store.node(node_id) is None:
            raise NotFound(f"node {node_id[:16]}… has never checked in with this satellite")
        return await self.store.state(node_id)
