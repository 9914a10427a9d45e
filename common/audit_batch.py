"""Many audit challenges to one node in one request, answered in one node-signed proof.

One :class:`AuditBatchChallenge` (signed by the satellite) names up to :data:`MAX_PIECES`
pieces of one node and, for each, the leaf indexes it must prove, with one fresh 32-byte
``nonce`` for the whole batch. The node answers with one :class:`AuditBatchProof` signed by
its own key: for every piece, in the asked order, either the leaves and their Merkle paths
or the error code that kept it from answering (``PieceNotFound``, ``InvalidRange``,
``CorruptPiece``, ...; the codes of ``storage_node/piecestore/errors.py``).

Security is that of one challenge per piece. The node cannot predict any piece's indexes;
its one signature covers the nonce, every piece id, every asked index and every answer, so
no answer can be replayed from another batch, moved to another piece or denied later; and
the satellite verifies every leaf against the root it recorded at upload, piece by piece, so
one wrong proof fails that piece's audit only. Wire format: parallel tuples (messages carry
no nested messages), ``leaves[i]`` and ``proofs[i]`` empty where ``errors[i]`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from common.messages import Message, MessageError, is_peer_id, is_piece_id

__all__ = ["MAX_PIECES", "AuditBatchChallenge", "AuditBatchProof"]

MAX_PIECES = 64  # pieces in one batch: a few kB of answer per piece, one request's worth


def _check(name: str, value: str, piece: bool = False) -> None:
    if not (is_piece_id(value) if piece else is_peer_id(value)):
        kind = "piece" if piece else "peer"
        raise MessageError(f"{name} is not a {kind} id (64 lowercase hex characters): {value!r}")


def _check_pieces(piece_ids: tuple[str, ...], leaf_indexes: tuple[tuple[int, ...], ...]) -> None:
    if not 1 <= len(piece_ids) <= MAX_PIECES:
        raise MessageError(f"an audit batch names 1 to {MAX_PIECES} pieces, not {len(piece_ids)}")
    if len(set(piece_ids)) != len(piece_ids):
        raise MessageError("an audit batch names each piece once")
    if len(leaf_indexes) != len(piece_ids):
        raise MessageError("an audit batch has one tuple of leaf indexes per piece")
    for i, piece_id in enumerate(piece_ids):
        _check(f"piece_ids[{i}]", piece_id, piece=True)
        indexes = leaf_indexes[i]
        if not 1 <= len(indexes) <= 64:
            raise MessageError(f"piece {i} of the batch asks for {len(indexes)} leaves, not 1 to 64")
        if any(x < 0 for x in indexes):
            raise MessageError(f"piece {i} of the batch asks for a negative leaf index")


@dataclass(frozen=True)
class AuditBatchChallenge(Message):
    """Prove you hold each of ``piece_ids``: the leaves ``leaf_indexes[i]`` of piece ``i``."""

    TYPE: ClassVar[str] = "audit_batch_challenge"

    satellite_id: str
    node_id: str
    piece_ids: tuple[str, ...]
    leaf_indexes: tuple[tuple[int, ...], ...]
    nonce: bytes
    expires: int

    def validate(self) -> None:
        _check("satellite_id", self.satellite_id)
        _check("node_id", self.node_id)
        _check_pieces(self.piece_ids, self.leaf_indexes)
        if not 16 <= len(self.nonce) <= 64:
            raise MessageError("nonce must be 16-64 bytes")


@dataclass(frozen=True)
class AuditBatchProof(Message):
    """The node's answer to an :class:`AuditBatchChallenge`, piece by piece in the asked order."""

    TYPE: ClassVar[str] = "audit_batch_proof"

    node_id: str
    nonce: bytes
    piece_ids: tuple[str, ...]
    leaf_indexes: tuple[tuple[int, ...], ...]
    errors: tuple[str, ...]  # "" where the piece is answered, else the node's error code
    leaves: tuple[tuple[bytes, ...], ...]
    proofs: tuple[tuple[tuple[bytes, ...], ...], ...]

    def validate(self) -> None:
        _check("node_id", self.node_id)
        _check_pieces(self.piece_ids, self.leaf_indexes)
        n = len(self.piece_ids)
        if not len(self.errors) == len(self.leaves) == len(self.proofs) == n:
            raise MessageError("errors, leaves and proofs must have one entry per piece")
        for i in range(n):
            want = 0 if self.errors[i] else len(self.leaf_indexes[i])
            if len(self.errors[i]) > 40:
                raise MessageError(f"error code of piece {i} is longer than 40 characters")
            if len(self.leaves[i]) != want or len(self.proofs[i]) != want:
                raise MessageError(f"piece {i} of the proof must carry {want} leaves and as many paths")
            for path in self.proofs[i]:
                if any(len(h) != 32 for h in path):
                    raise MessageError("every Merkle path element must be 32 bytes")
