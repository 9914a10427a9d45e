"""What a node tells its satellite its garbage collection did: the pieces it moved to its trash.

A node answers a retain list (``POST /v1/retain``) with the piece ids its earlier retain
passes trashed and had not yet reported, signed by the node and addressed to the satellite,
so the satellite's residency ledger can record *the node's* word that the bytes left it
(``satellite/db/residency_ledger.py``, event ``gc``). A trashed piece is deleted after the
node's grace period; the report is sent when it is moved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from common.messages import Message, MessageError, is_peer_id, is_piece_id

__all__ = ["TrashReport"]


@dataclass(frozen=True)
class TrashReport(Message):
    TYPE: ClassVar[str] = "trash_report"
    MAX_PIECES: ClassVar[int] = 5000  # per answer; the rest waits for the next retain list

    node_id: str
    satellite_id: str
    piece_ids: tuple[str, ...]
    timestamp: int

    def validate(self) -> None:
        for name in ("node_id", "satellite_id"):
            if not is_peer_id(getattr(self, name)):
                raise MessageError(f"{name} is not a peer id (64 lowercase hex characters)")
        if len(self.piece_ids) > self.MAX_PIECES:
            raise MessageError(f"piece_ids must name at most {self.MAX_PIECES} pieces")
        for i, piece_id in enumerate(self.piece_ids):
            if not is_piece_id(piece_id):
                raise MessageError(f"piece_ids[{i}] is not a piece id (64 lowercase hex characters): {piece_id!r}")
