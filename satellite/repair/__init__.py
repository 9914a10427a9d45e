"""Repair: the checker queues segments at risk or out of policy; repairers rebuild their pieces on compliant nodes."""

from .checker import CheckerState, CheckerStep, RepairChecker
from .chore import RepairConfig, RepairService
from .health import PieceState, RepairReason, SegmentHealth, segment_health
from .queue import RepairQueue
from .repairer import Repairer, RepairError, RepairIntegrityError, RepairOutcome, RepairResult

__all__ = [
    "CheckerState",
    "CheckerStep",
    "PieceState",
    "RepairChecker",
    "RepairConfig",
    "RepairError",
    "RepairIntegrityError",
    "RepairOutcome",
    "RepairQueue",
    "RepairReason",
    "RepairResult",
    "RepairService",
    "Repairer",
    "SegmentHealth",
    "segment_health",
]
