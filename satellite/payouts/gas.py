"""Gas estimates on the in-process chain in two executions, not a dozen.

py-evm estimates gas by binary search between the intrinsic gas and the block's gas limit
(``eth.estimators.gas.binary_gas_search``, 21,000 gas tolerance): about a dozen executions of
the transaction in Python for every estimate. A devnet signs a payout batch every period (20
seconds), and those executions were the largest share of its idle satellite's CPU.

:func:`estimate_gas` executes the transaction once at the block's gas limit, takes the gas
it used before refunds (what it must have at hand while it runs) and checks that limit with
a second execution; where the 63/64 rule of nested calls needs more, it tries 64/63 of it
once more and only then falls back to py-evm's search. Whatever it returns, an execution
with that gas limit succeeded, as with the search; the settlement worker adds its headroom
on top (``Chain.gas_headroom``). Real chains estimate in their own node: this is installed on
the in-process chain only (``Chain.in_process``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["estimate_gas"]


def estimate_gas(state: Any, transaction: Any) -> int:
    """A gas limit with which ``transaction`` succeeds on ``state`` (py-evm's estimator signature)."""
    from eth.estimators.gas import binary_gas_search_intrinsic_tolerance
    from eth.vm.spoof import SpoofTransaction

    def run(gas: int) -> Any:
        snapshot = state.snapshot()
        try:
            return state.apply_transaction(SpoofTransaction(transaction, gas=gas, gas_price=0))
        finally:
            state.revert(snapshot)

    at_most = run(state.gas_limit)
    if at_most.is_error:
        raise at_most.error
    used = transaction.intrinsic_gas + at_most.get_gas_used()
    for guess in (used, used * 64 // 63 + 1):
        if guess <= state.gas_limit and not run(guess).is_error:
            return guess
    return int(binary_gas_search_intrinsic_tolerance(state, transaction))
