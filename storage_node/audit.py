"""Answers the satellite's audit challenges with leaves and Merkle paths read from disk.

A challenge names random leaf indexes of one piece. The node reads exactly those leaves
and, from the tree levels stored in the piece header, the sibling hashes on each path to
the root: O(log n) hashes of 32 bytes, never the whole piece. The satellite verifies every
leaf against the root it recorded at upload (``erasure.merkle.verify_proof``). The node
cannot precompute answers, because it cannot predict the indexes.
"""

from __future__ import annotations

import asyncio

from common.identity import Identity
from common.messages import AuditChallenge, AuditProof, Signed
from storage_node.errors import InvalidRange
from storage_node.pieces.store import PieceStore
from storage_node.piecestore.verification import OrderVerifier

__all__ = ["AuditResponder"]


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

    def _read(self, c: AuditChallenge) -> tuple[tuple[bytes, ...], tuple[tuple[bytes, ...], ...]]:
        with self.store.reader(c.piece_id) as r:
            n = r.header.leaf_count
            bad = [i for i in c.leaf_indexes if i >= n]
            if bad:
                raise InvalidRange(
                    f"audit asks for leaves {bad} but piece {c.piece_id} has {n} leaves"
                )
            leaves = tuple(r.leaf(i) for i in c.leaf_indexes)
            proofs = tuple(tuple(r.proof(i)) for i in c.leaf_indexes)
        return leaves, proofs
