"""The seam between accounting (what each node earned) and settlement (paying it on chain).

Accounting closes a period, prices each node's byte-hours and egress, subtracts the held-back
share and rolls over amounts below the payout minimum; what is left to pay now is handed to a
:class:`PayoutPlanner` as a list of :class:`Payee`. Settlement owns everything after that:
batches, signing, broadcast, confirmation. Planning a period is idempotent: a second call with
the same period changes nothing (a crashed accounting pass may call it again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Payee", "PayoutPlanner"]


@dataclass(frozen=True, slots=True)
class Payee:
    """One node's amount to pay for one period, in the token's base units (``10**-decimals``)."""

    node_id: str
    wallet: str  # EIP-55 checksummed address
    amount: int  # > 0, token base units


class PayoutPlanner(Protocol):
    """What accounting needs from settlement."""

    async def plan_period(self, period: str, payees: Sequence[Payee]) -> None:
        """Record ``payees`` as the payouts of ``period`` (state ``planned``), once.

        ``period`` is accounting's period id (e.g. ``2026-12`` or a devnet's ``20261201T104500``).
        Calling again for a period already planned is a no-op, whatever ``payees`` says.
        """
        ...
