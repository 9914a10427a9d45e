"""Payouts: settling what accounting says each node earned, as batch ERC-20 transfers on chain."""

from .types import Payee, PayoutPlanner

__all__ = ["Payee", "PayoutPlanner"]
