"""What settlement stores, as types: batch and payout states, a batch as the worker sees it, and
the storage the worker needs (:class:`PayoutStore`, implemented by ``satellite.db.payouts``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from .types import Payee

__all__ = ["Batch", "BatchState", "PayoutState", "PayoutStore", "PeriodSummary", "SignedRecord"]


class BatchState(StrEnum):
    PLANNED = "planned"  # payees chosen, nothing signed (or a failed transaction to re-sign)
    SIGNED = "signed"  # raw transaction, hash and nonce stored; maybe not broadcast
    SENT = "sent"  # broadcast; waiting for the receipt and then the confirmation depth
    CONFIRMED = "confirmed"  # the contract records the batch as paid, deep enough


class PayoutState(StrEnum):
    """A payout's state: its batch's (kept in step in the same transaction), or rolled over."""

    PLANNED = "planned"
    SIGNED = "signed"
    SENT = "sent"
    CONFIRMED = "confirmed"
    ROLLED_OVER = "rolled_over"  # its fee would exceed the allowed share: accounting carries it


@dataclass(frozen=True, slots=True)
class SignedRecord:
    raw_tx: bytes
    tx_hash: str
    nonce: int
    gas_limit: int
    max_fee_per_gas: int


@dataclass(frozen=True, slots=True)
class Batch:
    id: int
    period: str
    seq: int
    chain_batch: bytes  # the 32-byte id the payout contract records as paid
    state: BatchState
    payees: tuple[Payee, ...]
    total: int
    signed: SignedRecord | None
    block_number: int | None
    gas_used: int | None
    attempts: int
    last_error: str
    retry_at: dt.datetime | None
    created_at: dt.datetime
    signed_at: dt.datetime | None
    sent_at: dt.datetime | None
    confirmed_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    period: str
    planned_at: dt.datetime
    payee_count: int
    total: int
    batched: bool
    batches: Mapping[str, int]  # batch state -> count
    paid: int  # token units in confirmed batches
    rolled_over: int  # payees rolled over


class PayoutStore(Protocol):
    async def plan(self, period: str, payees: Sequence[Payee], now: dt.datetime) -> bool:
        """Record the period and its payouts; ``False`` (and nothing changed) if it exists."""
        ...

    async def has_period(self, period: str) -> bool: ...

    async def unbatched_period(self) -> tuple[str, list[Payee]] | None:
        """The oldest period not yet cut into batches, with its payees."""
        ...

    async def cut_batches(
        self,
        period: str,
        batches: Sequence[tuple[bytes, Sequence[str]]],
        rolled_over: Sequence[str],
        fees: Mapping[str, int],
        now: dt.datetime,
    ) -> bool:
        """Create the batches (chain id, node ids) and roll over ``rolled_over``, in one
        transaction; ``False`` if another worker did it first."""
        ...

    async def next_batch(self, state: BatchState, now: dt.datetime) -> Batch | None:
        """The lowest-id batch in ``state`` (a planned one only once its ``retry_at`` passed)."""
        ...

    async def highest_open_nonce(self) -> int | None:
        """The highest nonce of a signed or sent batch: the next signature must not reuse it."""
        ...

    async def mark_signed(self, batch_id: int, signed: SignedRecord, now: dt.datetime) -> bool: ...

    async def mark_sent(self, batch_id: int, now: dt.datetime) -> bool: ...

    async def mark_confirmed(
        self, batch_id: int, from_state: BatchState, block_number: int | None, gas_used: int | None, now: dt.datetime
    ) -> bool:
        """Paid: by our stored transaction (with its block and gas), or found paid already."""
        ...

    async def mark_retry(self, batch_id: int, from_state: BatchState, error: str, retry_at: dt.datetime) -> bool:
        """Back to planned, the old transaction forgotten (its hash kept in the error)."""
        ...

    async def forget_in_flight(self, error: str) -> int:
        """Signed and sent batches back to planned; how many (for a fresh in-process chain)."""
        ...

    async def note_error(self, batch_id: int, error: str) -> None: ...

    async def batches(self, period: str | None = None) -> list[Batch]: ...

    async def periods(self) -> list[PeriodSummary]: ...

    async def rolled_over(self, period: str) -> list[Payee]: ...
