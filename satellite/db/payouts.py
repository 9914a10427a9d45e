"""Settlement's storage (implements ``satellite.payouts.PayoutStore``): periods, payouts, batches.

Every state change is a compare-and-set on the batch's current state, in one transaction with
its payouts, so a worker that lost a race (or a crashed one's successor) never moves a batch
backwards or twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select, update

from satellite.db.engine import Database
from satellite.db.payout_models import PayoutBatchRow, PayoutPeriodRow, PayoutRow
from satellite.payouts.store import Batch, BatchState, PayoutState, PeriodSummary, SignedRecord
from satellite.payouts.types import Payee

__all__ = ["PayoutRepository"]


def _batch(row: PayoutBatchRow, payees: Sequence[Payee]) -> Batch:
    signed = None
    if row.raw_tx is not None and row.tx_hash is not None and row.nonce is not None:
        signed = SignedRecord(
            raw_tx=row.raw_tx,
            tx_hash=row.tx_hash,
            nonce=row.nonce,
            gas_limit=row.gas_limit or 0,
            max_fee_per_gas=int(row.max_fee_per_gas or 0),
        )
    return Batch(
        id=row.id,
        period=row.period,
        seq=row.seq,
        chain_batch=bytes.fromhex(row.chain_batch.removeprefix("0x")),
        state=BatchState(row.state),
        payees=tuple(payees),
        total=int(row.total),
        signed=signed,
        block_number=row.block_number,
        gas_used=row.gas_used,
        attempts=row.attempts,
        last_error=row.last_error,
        retry_at=row.retry_at,
        created_at=row.created_at,
        signed_at=row.signed_at,
        sent_at=row.sent_at,
        confirmed_at=row.confirmed_at,
    )


class PayoutRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def plan(self, period: str, payees: Sequence[Payee], now: dt.datetime) -> bool:
        async with self.db.transaction() as s:
            if await s.get(PayoutPeriodRow, period) is not None:
                return False
            s.add(
                PayoutPeriodRow(
                    period=period,
                    planned_at=now,
                    payee_count=len(payees),
                    total=str(sum(p.amount for p in payees)),
                )
            )
            await s.flush()
            s.add_all(
                PayoutRow(
                    period=period, node_id=p.node_id, wallet=p.wallet, amount=str(p.amount), state=PayoutState.PLANNED
                )
                for p in payees
            )
        return True

    async def has_period(self, period: str) -> bool:
        async with self.db.read() as s:
            return await s.get(PayoutPeriodRow, period) is not None

    async def unbatched_period(self) -> tuple[str, list[Payee]] | None:
        async with self.db.read() as s:
            period = (
                await s.execute(
                    select(PayoutPeriodRow.period)
                    .where(PayoutPeriodRow.batched_at.is_(None))
                    .order_by(PayoutPeriodRow.planned_at, PayoutPeriodRow.period)
                    .limit(1)
                )
            ).scalar_one_or_none()
            if period is None:
                return None
            rows = (
                await s.execute(select(PayoutRow).where(PayoutRow.period == period).order_by(PayoutRow.id))
            ).scalars()
            return period, [Payee(r.node_id, r.wallet, int(r.amount)) for r in rows]

    async def cut_batches(
        self,
        period: str,
        batches: Sequence[tuple[bytes, Sequence[str]]],
        rolled_over: Sequence[str],
        fees: Mapping[str, int],
        now: dt.datetime,
    ) -> bool:
        async with self.db.transaction() as s:
            claimed = await s.execute(
                update(PayoutPeriodRow)
                .where(PayoutPeriodRow.period == period, PayoutPeriodRow.batched_at.is_(None))
                .values(batched_at=now)
            )
            if not claimed.rowcount:
                return False
            rows = {
                r.node_id: r
                for r in (await s.execute(select(PayoutRow).where(PayoutRow.period == period))).scalars()
            }
            for node_id, fee in fees.items():
                rows[node_id].fee = str(fee)
            for node_id in rolled_over:
                rows[node_id].state = PayoutState.ROLLED_OVER
            for seq, (chain_batch, node_ids) in enumerate(batches):
                batch = PayoutBatchRow(
                    period=period,
                    seq=seq,
                    chain_batch="0x" + chain_batch.hex(),
                    state=BatchState.PLANNED,
                    payee_count=len(node_ids),
                    total=str(sum(int(rows[n].amount) for n in node_ids)),
                    attempts=0,
                    last_error="",
                    created_at=now,
                )
                s.add(batch)
                await s.flush()
                for n in node_ids:
                    rows[n].batch_id = batch.id
        return True

    async def _payees(self, s: Any, batch_ids: Sequence[int]) -> dict[int, list[Payee]]:
        out: dict[int, list[Payee]] = defaultdict(list)
        if not batch_ids:
            return out
        q = select(PayoutRow).where(PayoutRow.batch_id.in_(batch_ids)).order_by(PayoutRow.id)
        for r in (await s.execute(q)).scalars():
            out[r.batch_id].append(Payee(r.node_id, r.wallet, int(r.amount)))
        return out

    async def next_batch(self, state: BatchState, now: dt.datetime) -> Batch | None:
        q = select(PayoutBatchRow).where(PayoutBatchRow.state == state)
        if state is BatchState.PLANNED:
            q = q.where((PayoutBatchRow.retry_at.is_(None)) | (PayoutBatchRow.retry_at <= now))
        async with self.db.read() as s:
            row = (await s.execute(q.order_by(PayoutBatchRow.id).limit(1))).scalar_one_or_none()
            if row is None:
                return None
            return _batch(row, (await self._payees(s, [row.id]))[row.id])

    async def highest_open_nonce(self) -> int | None:
        q = select(func.max(PayoutBatchRow.nonce)).where(
            PayoutBatchRow.state.in_([BatchState.SIGNED, BatchState.SENT])
        )
        async with self.db.read() as s:
            value = (await s.execute(q)).scalar_one_or_none()
            return None if value is None else int(value)

    async def _move(self, batch_id: int, from_state: BatchState, to_state: BatchState, **values: Any) -> bool:
        async with self.db.transaction() as s:
            res = await s.execute(
                update(PayoutBatchRow)
                .where(PayoutBatchRow.id == batch_id, PayoutBatchRow.state == from_state)
                .values(state=to_state, **values)
            )
            if not res.rowcount:
                return False
            await s.execute(update(PayoutRow).where(PayoutRow.batch_id == batch_id).values(state=to_state))
        return True

    async def mark_signed(self, batch_id: int, signed: SignedRecord, now: dt.datetime) -> bool:
        return await self._move(
            batch_id,
            BatchState.PLANNED,
            BatchState.SIGNED,
            raw_tx=signed.raw_tx,
            tx_hash=signed.tx_hash,
            nonce=signed.nonce,
            gas_limit=signed.gas_limit,
            max_fee_per_gas=str(signed.max_fee_per_gas),
            signed_at=now,
            retry_at=None,
            attempts=PayoutBatchRow.attempts + 1,
        )

    async def mark_sent(self, batch_id: int, now: dt.datetime) -> bool:
        return await self._move(batch_id, BatchState.SIGNED, BatchState.SENT, sent_at=now)

    async def mark_confirmed(
        self, batch_id: int, from_state: BatchState, block_number: int | None, gas_used: int | None, now: dt.datetime
    ) -> bool:
        return await self._move(
            batch_id,
            from_state,
            BatchState.CONFIRMED,
            block_number=block_number,
            gas_used=gas_used,
            confirmed_at=now,
        )

    async def mark_retry(self, batch_id: int, from_state: BatchState, error: str, retry_at: dt.datetime) -> bool:
        return await self._move(
            batch_id,
            from_state,
            BatchState.PLANNED,
            raw_tx=None,
            tx_hash=None,
            nonce=None,
            gas_limit=None,
            max_fee_per_gas=None,
            signed_at=None,
            sent_at=None,
            last_error=error[:500],
            retry_at=retry_at,
        )

    async def forget_in_flight(self, error: str) -> int:
        """Every signed or sent batch back to planned (a new in-process chain never saw them)."""
        async with self.db.read() as s:
            ids = list(
                (
                    await s.execute(
                        select(PayoutBatchRow.id, PayoutBatchRow.state).where(
                            PayoutBatchRow.state.in_([BatchState.SIGNED, BatchState.SENT])
                        )
                    )
                ).all()
            )
        now = dt.datetime.now(dt.UTC)
        moved = 0
        for batch_id, state in ids:
            moved += await self.mark_retry(batch_id, BatchState(state), error, now)
        return moved

    async def note_error(self, batch_id: int, error: str) -> None:
        async with self.db.transaction() as s:
            await s.execute(update(PayoutBatchRow).where(PayoutBatchRow.id == batch_id).values(last_error=error[:500]))

    async def batches(self, period: str | None = None) -> list[Batch]:
        q = select(PayoutBatchRow).order_by(PayoutBatchRow.id)
        if period is not None:
            q = q.where(PayoutBatchRow.period == period)
        async with self.db.read() as s:
            rows = list((await s.execute(q)).scalars())
            payees = await self._payees(s, [r.id for r in rows])
            return [_batch(r, payees[r.id]) for r in rows]

    async def periods(self) -> list[PeriodSummary]:
        async with self.db.read() as s:
            periods = list(
                (await s.execute(select(PayoutPeriodRow).order_by(PayoutPeriodRow.planned_at))).scalars()
            )
            batches = list((await s.execute(select(PayoutBatchRow))).scalars())
            rolled = Counter(
                (
                    await s.execute(
                        select(PayoutRow.period).where(PayoutRow.state == PayoutState.ROLLED_OVER)
                    )
                ).scalars()
            )
        states: dict[str, Counter[str]] = defaultdict(Counter)
        paid: Counter[str] = Counter()
        for b in batches:
            states[b.period][b.state] += 1
            if b.state == BatchState.CONFIRMED:
                paid[b.period] += int(b.total)
        return [
            PeriodSummary(
                period=p.period,
                planned_at=p.planned_at,
                payee_count=p.payee_count,
                total=int(p.total),
                batched=p.batched_at is not None,
                batches=dict(states[p.period]),
                paid=paid[p.period],
                rolled_over=rolled[p.period],
            )
            for p in periods
        ]

    async def rolled_over(self, period: str) -> list[Payee]:
        q = (
            select(PayoutRow)
            .where(PayoutRow.period == period, PayoutRow.state == PayoutState.ROLLED_OVER)
            .order_by(PayoutRow.id)
        )
        async with self.db.read() as s:
            return [Payee(r.node_id, r.wallet, int(r.amount)) for r in (await s.execute(q)).scalars()]
