"""Graceful exit: a node that leaves hands its pieces to other compliant nodes before its held amount is released."""

from .chore import ExitChore, ExitConfig, ExitPassReport, TransferOutcome, exit_config
from .endpoint import GracefulExitEndpoint
from .service import ExitNode, ExitPiece, ExitRefused, ExitState, ExitStore, GracefulExitService

__all__ = [
    "ExitChore",
    "ExitConfig",
    "ExitNode",
    "ExitPassReport",
    "ExitPiece",
    "ExitRefused",
    "ExitState",
    "ExitStore",
    "GracefulExitEndpoint",
    "GracefulExitService",
    "TransferOutcome",
    "exit_config",
]
