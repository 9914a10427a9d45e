"""Storage-side residency evidence: node-signed audit answers, checked without the satellite.

A residency audit (``geoshard admin residency-audit BUCKET``) challenges every piece of a
bucket with the ordinary Merkle audit and writes one ``audit`` line per piece: the bucket,
object key, segment and piece, the node, its address and declared country (as the satellite
holds them), the piece's Merkle root, sizes, the satellite-signed challenge and the
node-signed proof exactly as they were exchanged (``proof`` is null when the node gave none:
offline, piece missing). Lines are hash-chained as the ledger is: each carries ``prev`` (the
previous line's ``hash``, 64 zeros for the first) and ``hash``, SHA-256 over its canonical
JSON; an ``audit_head`` line closes the file with the bucket, the number of lines and the last
hash, signed by the satellite. A changed line fails at that line.

The auditor's check needs the satellite's public key and nothing else: a node's id *is* its
public key, so every proof is checked against the node named in its line. A proof counts when
the challenge is the satellite's, for that node and piece, the proof is signed by that node,
echoes the challenge's nonce and leaves, and every leaf's Merkle path leads to the line's root.
The satellite's signature over the chain binds the roots, addresses and countries to the
proofs, so a line cannot be moved to another country or another root after the fact.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from common.identity import verify_signature
from common.messages import AuditChallenge, AuditProof, Signed
from erasure.merkle import leaf_count, verify_proof

from .chain import GENESIS, HEAD_CONTEXT, canonical

__all__ = ["AUDIT_FIELDS", "AuditDigest", "audit_head", "audit_line_hash", "check_head", "judge_line"]

AUDIT_FIELDS = ("bucket", "key", "segment", "piece", "node", "address", "country", "region", "piece_id",
                "root", "piece_size", "share_size", "challenge", "proof", "outcome", "reason", "at")  # fmt: skip


def audit_line_hash(line: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: line.get(k) for k in (*AUDIT_FIELDS, "prev")})).hexdigest()


class AuditDigest:
    """The chain over audit lines whose last hash the satellite signs at the end."""

    def __init__(self) -> None:
        self.last = GENESIS
        self.count = 0

    def add(self, line: dict[str, Any]) -> None:
        """Chain a line being written (sets its ``prev`` and ``hash``)."""
        line["prev"] = self.last
        line["hash"] = self.last = audit_line_hash(line)
        self.count += 1

    def check(self, line: dict[str, Any]) -> str | None:
        """Follow a line being read; why it breaks the chain, or None."""
        why = None
        if line.get("hash") != audit_line_hash(line):
            why = "the audit line does not match its hash (changed after writing)"
        elif line.get("prev") != self.last:
            why = "the audit line does not link to the line before it (lines removed, added or reordered)"
        self.last = str(line.get("hash"))
        self.count += 1
        return why

    def hexdigest(self) -> str:
        return self.last


def audit_head(sign: Callable[[bytes], bytes], head: dict[str, Any]) -> dict[str, Any]:
    return {"type": "audit_head", "head": head, "signature": base64.b64encode(sign(HEAD_CONTEXT + canonical(head)))
            .decode()}  # fmt: skip


def judge_line(line: dict[str, Any], satellite_id: str) -> tuple[bool, str]:
    """``(proven, why)``: whether the node named in ``line`` proved it held the piece.

    Raises ValueError when the line itself is malformed or its challenge is not the satellite's
    (the file is then not evidence at all, which the caller reports by line)."""
    missing = [k for k in AUDIT_FIELDS if k not in line]
    if missing:
        raise ValueError(f"audit line lacks {', '.join(missing)}")
    challenge = Signed.from_json(line["challenge"], AuditChallenge).verify(satellite_id)
    node = str(line["node"])
    if challenge.node_id != node or challenge.piece_id != line["piece_id"]:
        raise ValueError("the challenge names another node or piece than its line")
    if line["proof"] is None:
        return False, "no proof: the node did not answer with one"
    try:
        signed = Signed.from_json(line["proof"], AuditProof)
        proof = signed.verify(node)
    except Exception as exc:  # malformed or signed by another key: not this node's proof
        return False, f"the proof is not signed by node {node[:16]}…: {exc}"
    if proof.node_id != node or proof.piece_id != challenge.piece_id:
        return False, "the proof names another node or piece"
    if proof.nonce != challenge.nonce or proof.leaf_indexes != challenge.leaf_indexes:
        return False, "the proof does not answer this challenge (nonce or leaves differ)"
    root = bytes.fromhex(str(line["root"]))
    size, share = int(line["piece_size"]), int(line["share_size"])
    n = leaf_count(size, share)
    for index, leaf, path in zip(proof.leaf_indexes, proof.leaves, proof.proofs, strict=True):
        if len(leaf) != min(share, size - index * share) or not verify_proof(root, index, leaf, path, n):
            return False, f"leaf {index} does not verify against the piece's Merkle root"
    return True, "proven"


def check_head(head: dict[str, Any], signature: str, satellite_id: str) -> None:
    """Raise unless ``head`` is signed by the satellite."""
    verify_signature(satellite_id, base64.b64decode(signature, validate=True), HEAD_CONTEXT + canonical(head))
