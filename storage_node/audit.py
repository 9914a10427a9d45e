"""Answers the satellite's audit challenges with leaves and Merkle paths read from disk.

A challenge names random leaf indexes of one piece. The node reads exactly those leaves
and, from the tree levels stored in the piece header, the sibling hashes on each path to
the root: O(log n) hashes of 32 bytes, never the whole piece. The satellite verifies every
leaf against the root it recorded at upload (``erasure.merkle.verify_proof``). The node
cannot precompute answers, because it cannot predict the indexes.

A batch (``common.audit_batch``) names many pieces: the node reads them all in one worker
thread and signs one proof carrying, per piece, its leaves and paths or the code of the error
that kept it from answering, so a missing piece fails its own audit and no other.
"""

from __future__ import annotations

import asyncio
import logging

from common.audit_batch import AuditBatchChallenge, AuditBatchProof
from common.identity import Identity
from common.messages import AuditChallenge, AuditProof, Signed
from storage_node.errors import InvalidRange, NodeError
from storage_node.pieces.store import PieceStore
from storage_node.piecestore.verification import OrderVerifier

__all__ = ["AuditResponder"]

log = logging.getLogger(__name__)

Answer = tuple[str, tuple[bytes, ...], tuple[tuple[bytes, ...], ...]]  # (error code or "", leaves, paths)


class AuditResponder:
    """Turns a satellite-signed challenge into a node-signed proof."""

    def __init__(self, identity: Identity, store: PieceStore, verifier: OrderVerifier) -> None:
        self.identity = identity
        self.store = store
        self.verifier = verifier

    async def answer(self, signed: Signed[AuditChallenge]) -> Signed[AuditProof]:
        challenge = self.verifier.challenge(signed)
        # A handful of small preads; off the loop anyway, since a cold disk seek is ~10 ms.
        leaves, proofs = await asyncio.to_thread(self._read, challenge)
        proof = AuditProof(
            node_id=self.identity.id,
            piece_id=challenge.piece_id,
            nonce=challenge.nonce,
            leaf_indexes=challenge.leaf_indexes,
            leaves=leaves,
            proofs=proofs,
        )
        return Signed.sign(self.identity, proof)

    async def answer_batch(self, signed: Signed[AuditBatchChallenge]) -> Signed[AuditBatchProof]:
        c = self.verifier.batch_challenge(signed)
        answers = await asyncio.to_thread(self._read_batch, c)
        proof = AuditBatchProof(
            node_id=self.identity.id,
            nonce=c.nonce,
            piece_ids=c.piece_ids,
            leaf_indexes=c.leaf_indexes,
            errors=tuple(a[0] for a in answers),
            leaves=tuple(a[1] for a in answers),
            proofs=tuple(a[2] for a in answers),
        )
        return Signed.sign(self.identity, proof)

    def _read_batch(self, c: AuditBatchChallenge) -> list[Answer]:
        out: list[Answer] = []
        for piece_id, indexes in zip(c.piece_ids, c.leaf_indexes, strict=True):
            try:
                out.append(("", *self._leaves(piece_id, indexes)))
            except NodeError as e:  # PieceNotFound, InvalidRange, CorruptPiece: this piece's answer
                out.append((type(e).__name__, (), ()))
            except OSError as e:
                log.error("audit of piece %s failed: %s", piece_id, e)
                out.append(("InternalError", (), ()))
        return out

    def _read(self, c: AuditChallenge) -> tuple[tuple[bytes, ...], tuple[tuple[bytes, ...], ...]]:
        return self._leaves(c.piece_id, c.leaf_indexes)

    def _leaves(
        self, piece_id: str, indexes: tuple[int, ...]
    ) -> tuple[tuple[bytes, ...], tuple[tuple[bytes, ...], ...]]:
        with self.store.reader(piece_id) as r:
            n = r.header.leaf_count
            bad = [i for i in indexes if i >= n]
            if bad:
                raise InvalidRange(f"audit asks for leaves {bad} but piece {piece_id} has {n} leaves")
            leaves = tuple(r.leaf(i) for i in indexes)
            proofs = tuple(tuple(r.proof(i)) for i in indexes)
        return leaves, proofs
