"""Settlement's errors, importable without loading web3 (``chain`` raises them)."""

from __future__ import annotations

from common.errors import GeoshardError

__all__ = ["ChainError", "ChainReverted"]


class ChainError(GeoshardError):
    """The chain is unreachable, slow, or answered something unusable. Retry later."""


class ChainReverted(ChainError):
    """A call or transaction was refused by a contract; ``reason`` is its revert message."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason
