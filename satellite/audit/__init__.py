"""Audits: Merkle-challenge proofs of storage for pieces drawn at random by bytes."""

from satellite.audit.chore import (
    AuditChore,
    AuditChoreState,
    AuditDone,
    AuditStore,
    Containment,
    PendingTarget,
    StepKind,
)
from satellite.audit.selection import PieceRef, WeightedReservoir
from satellite.audit.verifier import AuditReport, AuditTarget, AuditVerifier, pick_leaves

__all__ = [
    "AuditChore",
    "AuditChoreState",
    "AuditDone",
    "AuditReport",
    "AuditStore",
    "AuditTarget",
    "AuditVerifier",
    "Containment",
    "PendingTarget",
    "PieceRef",
    "StepKind",
    "WeightedReservoir",
    "pick_leaves",
]
