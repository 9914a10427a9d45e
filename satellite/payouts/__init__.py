"""Payouts: settling what accounting says each node earned, as batch ERC-20 transfers on chain.

``types`` is the seam with accounting; ``service`` takes planned periods; ``worker`` settles
them (``planned → signed → sent → confirmed``); ``chain`` is the only module that imports web3;
``staking`` keeps placement's view of node stakes and slashes disqualified nodes.
"""

from .errors import ChainError, ChainReverted
from .network import PayoutChain, SettlementConfig, open_chain
from .service import PayoutService
from .settlement import Settlement
from .store import Batch, BatchState, PayoutState, PayoutStore, PeriodSummary
from .types import Payee, PayoutPlanner
from .worker import SettlementWorker, StepResult

__all__ = [
    "Batch",
    "BatchState",
    "ChainError",
    "ChainReverted",
    "Payee",
    "PayoutChain",
    "PayoutPlanner",
    "PayoutService",
    "PayoutState",
    "PayoutStore",
    "PeriodSummary",
    "Settlement",
    "SettlementConfig",
    "SettlementWorker",
    "StepResult",
    "open_chain",
]
