"""The settlement worker: moves each period's payouts through ``planned → signed → sent →
confirmed``, one step per pass, so that a crash anywhere pays no one twice and no one zero.

**The steps.** A period accounting planned is first *cut*: each payee's fee is estimated (gas
per payee × the chain's max fee × the native coin's price in tokens); a payee whose fee would
exceed ``max_fee_share`` of the amount is *rolled over*: accounting is told
(``on_rolled_over``) and adds the amount to what the node is owed, so the next period's payout
carries it, as Storj does — never lost, never paid twice (accounting's write is idempotent, and
a worker that crashed before telling it tells it again at its first pass); the rest is cut
into batches of at most ``batch_size``, each with a fixed 32-byte id that the payout contract
records as paid. A planned batch is then *signed* with the next free nonce, and the raw
transaction, its hash and nonce are committed before anything is broadcast. A signed batch is
*sent*: the same stored bytes, as often as needed. A sent batch is *confirmed* once its receipt
is ``confirmations`` blocks deep and the contract says the batch is paid.

**Crashes.** Each step commits one state change after its chain call; the next pass reads the
state back. Killed after cutting: batches are planned, nothing is signed. Killed after signing,
before or after the broadcast: the next pass sends the stored bytes again (a node that has them
says so, which counts as sent), never a new signature. Killed after sending: the receipt is
looked up by the stored hash. A transaction that never lands (a chain restarted without its
mempool) is re-broadcast after ``rebroadcast_after``.

**Failures.** A chain that is down or answers garbage raises ``ChainError``: the step changes
nothing, notes the error on the batch and the worker waits. A transaction that reverted, or
whose nonce was taken by another of our transactions, is checked against the contract: if the
batch is paid (by an earlier transaction) it is confirmed, otherwise the batch goes back to
planned and is signed anew after ``retry_delay``, with the same batch id — so even two signed
transactions for one batch cannot both pay.

**Pace.** While transactions are in flight the worker looks again every ``interval``: the
chain moves on its own. With nothing to settle it waits for :meth:`SettlementWorker.wake`
(the payout service calls it when accounting plans a period in this process) or for a retry
it scheduled, and polls the store only every ``IDLE_POLL_FACTOR × interval`` — for periods
planned by another process. An idle devnet asked the store four questions every two seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from fractions import Fraction
from typing import Any

from .errors import ChainError, ChainReverted
from .network import PayoutChain, SettlementConfig, open_chain
from .store import Batch, BatchState, PayoutStore, SignedRecord
from .types import Payee

__all__ = ["IDLE_POLL_FACTOR", "SettlementWorker", "StepResult", "chain_batch_id", "payee_fee"]

IDLE_POLL_FACTOR = 10  # an idle worker, unless woken, polls this many intervals apart

log = logging.getLogger(__name__)


class StepResult(StrEnum):
    BUSY = "busy"  # did a step; more may follow at once
    WAITING = "waiting"  # transactions in flight, nothing to do until the chain moves
    IDLE = "idle"  # nothing to settle
    THROTTLED = "throttled"  # the chain failed; try again later


def chain_batch_id(period: str, seq: int) -> bytes:
    """The payout contract's id of batch ``seq`` of ``period``: the same whatever is re-signed."""
    return hashlib.sha256(f"geoshard/payout/{period}/{seq}".encode()).digest()


def payee_fee(config: SettlementConfig, max_fee_per_gas: int, decimals: int) -> int:
    """What one more payee in a batch costs, in token base units (0 when no price is set)."""
    price = Fraction(str(config.native_price))
    return int(config.gas_per_payee * max_fee_per_gas * price * 10**decimals / 10**18)


def _at(t: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(t, dt.UTC)


class SettlementWorker:
    """One unit of settlement per :meth:`step`; :meth:`run` loops for ``peer.py``.

    ``chain`` is opened on first need (``open_chain`` by default), so a satellite with nothing
    to pay never starts a test chain. ``after_broadcast`` is called after a batch's transaction
    was broadcast and before ``sent`` is committed: the crash tests kill the process there.
    """

    def __init__(
        self,
        store: PayoutStore,
        config: SettlementConfig,
        *,
        chain: PayoutChain | None = None,
        open: Callable[[SettlementConfig], PayoutChain] = open_chain,
        after_broadcast: Callable[[Batch], Awaitable[None]] | None = None,
        on_confirmed: Callable[[Batch], Awaitable[None]] | None = None,
        on_rolled_over: Callable[[str, list[Payee]], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config
        self._chain = chain
        self._open = open
        self._opening = asyncio.Lock()
        self.after_broadcast = after_broadcast
        # Told of each batch once it is final (accounting writes the state and hash on its paystubs).
        self.on_confirmed = on_confirmed
        # Told of a period's rolled-over payees (accounting carries their amounts to the next period).
        self.on_rolled_over = on_rolled_over
        self._rollovers_announced = False  # every recorded rollover re-told once per process
        self.clock = clock
        self._broadcast_at: dict[int, float] = {}  # batch id -> last broadcast by this process
        self._stopping = asyncio.Event()
        self._work = asyncio.Event()  # set by wake(): a period was planned
        self._retry_due: float | None = None  # clock time of the earliest retry this process scheduled

    async def chain(self) -> PayoutChain:
        async with self._opening:
            if self._chain is None:
                pc = await asyncio.to_thread(self._open, self.config)
                if pc.chain.in_process:
                    # A new in-process chain (devnet restarted) has none of the transactions a
                    # previous one was sent: re-sign them here rather than wait for them forever.
                    moved = await self.store.forget_in_flight("the in-process chain was restarted")
                    if moved:
                        log.warning("in-process chain restarted: %d batches in flight will be signed again", moved)
                self._chain = pc
            return self._chain

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

    # -- one pass -----------------------------------------------------------------------------

    async def step(self) -> StepResult:
        at = _at(self.clock())
        if not self._rollovers_announced:
            await self._announce_rollovers()
        handlers: tuple[tuple[BatchState, Callable[[Batch, dt.datetime], Awaitable[bool]]], ...] = (
            (BatchState.SENT, self._confirm),
            (BatchState.SIGNED, self._send),
            (BatchState.PLANNED, self._sign),
        )
        waiting = False
        for state, handler in handlers:
            batch = await self.store.next_batch(state, at)
            if batch is None:
                continue
            try:
                if self._chain is None:  # opened on first need; opening may re-plan batches in flight
                    await self.chain()
                    batch = await self.store.next_batch(state, at)
                    if batch is None:
                        return StepResult.BUSY
                if await handler(batch, at):
                    return StepResult.BUSY
                waiting = True
            except ChainError as e:
                log.warning("settlement of batch %s/%d (%s): %s", batch.period, batch.seq, batch.state, e)
                await self.store.note_error(batch.id, str(e))
                return StepResult.THROTTLED
        pending = await self.store.unbatched_period()  # a new period need not wait for the last
        if pending is None:
            return StepResult.WAITING if waiting else StepResult.IDLE
        try:
            await self._cut(*pending, at)
        except ChainError as e:
            log.warning("settlement of period %s: %s", pending[0], e)
            return StepResult.THROTTLED
        return StepResult.BUSY

    async def _cut(self, period: str, payees: list[Payee], at: dt.datetime) -> None:
        pc = await self.chain()
        if self.config.token_decimals is not None and pc.decimals != self.config.token_decimals:
            raise ChainError(
                f"the payout token has {pc.decimals} decimals but accounting prices in {self.config.token_decimals} "
                "(accounting.token_decimals): paying would be off by a factor of "
                f"10**{abs(pc.decimals - self.config.token_decimals)}; nothing is paid until they agree"
            )
        fee = 0
        if self.config.native_price > 0 and payees:
            max_fee, _tip = await self._call(pc.chain.fees)
            fee = payee_fee(self.config, max_fee, pc.decimals)
        share = Fraction(str(self.config.max_fee_share))
        rolled = [p.node_id for p in payees if fee > share * p.amount]
        kept = [p.node_id for p in payees if fee <= share * p.amount]
        size = self.config.batch_size
        batches = [(chain_batch_id(period, i // size), kept[i : i + size]) for i in range(0, len(kept), size)]
        fees = {p.node_id: fee for p in payees} if fee else {}
        if await self.store.cut_batches(period, batches, rolled, fees, at):
            log.info("period %s: %d batches, %d payees rolled over", period, len(batches), len(rolled))
            if rolled and self.on_rolled_over is not None:
                try:
                    await self.on_rolled_over(period, [p for p in payees if fee > share * p.amount])
                except Exception:  # told again (with every other rollover) at the next pass
                    log.exception("period %s: telling accounting of %d rolled-over payees failed", period, len(rolled))
                    self._rollovers_announced = False

    async def _announce_rollovers(self) -> None:
        """Tell accounting of every rollover and every confirmed batch on record, once per process:
        a worker killed between cutting a period (or confirming a batch) and telling accounting
        must not leave a rolled-over payee unpaid forever, nor a paid one shown as awaiting
        settlement. Accounting ignores what it already carried and writes the same confirmation
        again unchanged, so telling twice changes nothing."""
        try:
            if self.on_rolled_over is not None:
                for summary in await self.store.periods():
                    if summary.rolled_over:
                        await self.on_rolled_over(summary.period, await self.store.rolled_over(summary.period))
            if self.on_confirmed is not None:
                for batch in await self.store.batches():
                    if batch.state is BatchState.CONFIRMED:
                        await self.on_confirmed(batch)
        except Exception:  # accounting could not take them: the next pass tells it again
            log.exception("telling accounting of rollovers and confirmations failed; trying again at the next pass")
            return
        self._rollovers_announced = True

    async def _sign(self, batch: Batch, at: dt.datetime) -> bool:
        pc = await self.chain()
        if await self._call(pc.chain.batch_paid, pc.contract, batch.chain_batch):
            # Paid by an earlier transaction whose record was dropped: nothing to sign.
            return await self._confirmed(batch, BatchState.PLANNED, None, None, at)
        chain_nonce = await self._call(pc.chain.nonce)
        ours = await self.store.highest_open_nonce()
        nonce = max(chain_nonce, -1 if ours is None else ours + 1)
        try:
            tx = await self._call(
                pc.chain.sign_payout,
                pc.contract,
                pc.token,
                batch.chain_batch,
                [p.wallet for p in batch.payees],
                [p.amount for p in batch.payees],
                nonce,
            )
        except ChainReverted as e:  # e.g. allowance or balance too low: an admin must act
            retry = self._retry_at()
            await self.store.mark_retry(batch.id, BatchState.PLANNED, f"cannot sign: {e}", retry)
            return True
        signed = SignedRecord(tx.raw, tx.tx_hash, tx.nonce, tx.gas, tx.max_fee_per_gas)
        return await self.store.mark_signed(batch.id, signed, at)

    async def _send(self, batch: Batch, at: dt.datetime) -> bool:
        assert batch.signed is not None  # a signed batch always has its transaction
        pc = await self.chain()
        from .chain import SendOutcome, SignedTx

        s = batch.signed
        tx = SignedTx(s.raw_tx, s.tx_hash, s.nonce, s.gas_limit, s.max_fee_per_gas)
        outcome = await self._call(pc.chain.send_raw, tx)
        self._broadcast_at[batch.id] = self.clock()
        if self.after_broadcast is not None:
            await self.after_broadcast(batch)
        if outcome is SendOutcome.NONCE_TAKEN:
            log.warning("batch %s/%d: nonce %d was taken by another transaction", batch.period, batch.seq, s.nonce)
        # Either way it is "sent": the confirm step tells a mined transaction from a lost nonce.
        return await self.store.mark_sent(batch.id, at)

    async def _confirm(self, batch: Batch, at: dt.datetime) -> bool:
        assert batch.signed is not None
        pc = await self.chain()
        s = batch.signed
        receipt = await self._call(pc.chain.receipt, s.tx_hash)
        if receipt is None and await self._call(pc.chain.nonce, pending=False) > s.nonce:
            receipt = await self._call(pc.chain.receipt, s.tx_hash)  # it may have landed meanwhile
            if receipt is None:
                return await self._settle_lost(batch, f"nonce {s.nonce} used by another transaction", at)
        if receipt is None:
            last = self._broadcast_at.get(batch.id)
            if last is None or self.clock() - last >= self.config.rebroadcast_after:
                from .chain import SignedTx

                await self._call(
                    pc.chain.send_raw, SignedTx(s.raw_tx, s.tx_hash, s.nonce, s.gas_limit, s.max_fee_per_gas)
                )
                self._broadcast_at[batch.id] = self.clock()
            return False
        if not receipt.succeeded:
            return await self._settle_lost(batch, f"transaction {s.tx_hash} reverted", at)
        depth = await self._call(pc.chain.block_number) - receipt.block_number + 1
        if depth < self.config.confirmations:
            return False
        if not await self._call(pc.chain.batch_paid, pc.contract, batch.chain_batch):
            return False  # a reorganisation dropped it; the receipt will change or vanish
        self._broadcast_at.pop(batch.id, None)
        done = await self._confirmed(batch, BatchState.SENT, receipt.block_number, receipt.gas_used, at)
        if done:
            log.info("batch %s/%d confirmed: %d payees, tx %s", batch.period, batch.seq, len(batch.payees), s.tx_hash)
        return done

    async def _confirmed(
        self, batch: Batch, state: BatchState, block: int | None, gas: int | None, at: dt.datetime
    ) -> bool:
        done = await self.store.mark_confirmed(batch.id, state, block, gas, at)
        if done and self.on_confirmed is not None:
            try:
                await self.on_confirmed(batch)
            except Exception:  # the write-back is a view; the payout itself is final and recorded
                log.exception("batch %s/%d: recording the confirmation on paystubs failed", batch.period, batch.seq)
        return done

    async def _settle_lost(self, batch: Batch, why: str, at: dt.datetime) -> bool:
        """Our transaction will not pay: confirmed if the contract says paid, else sign again."""
        pc = await self.chain()
        self._broadcast_at.pop(batch.id, None)
        if await self._call(pc.chain.batch_paid, pc.contract, batch.chain_batch):
            return await self._confirmed(batch, BatchState.SENT, None, None, at)
        retry = self._retry_at()
        log.warning("batch %s/%d: %s; signing again after %s", batch.period, batch.seq, why, retry)
        return await self.store.mark_retry(batch.id, BatchState.SENT, why, retry)

    # -- the loop -----------------------------------------------------------------------------

    async def run_until_idle(self, max_steps: int = 10_000) -> StepResult:
        """Step until nothing is left or only waiting remains (tests, the admin's "settle now")."""
        result = StepResult.IDLE
        for _ in range(max_steps):
            result = await self.step()
            if result is not StepResult.BUSY:
                return result
        return result

    def _retry_at(self) -> dt.datetime:
        due = self.clock() + self.config.retry_delay
        self._retry_due = due if self._retry_due is None else min(self._retry_due, due)
        return _at(due)

    def wake(self) -> None:
        """There may be work (a period was planned): an idle worker steps now."""
        self._work.set()

    def rest(self, result: StepResult) -> float:
        """Seconds to wait after a step that did no work (the module doc's pace)."""
        interval = self.config.interval
        if result is StepResult.THROTTLED:
            return min(self.config.retry_delay, interval * 5)
        if result is StepResult.WAITING:
            return interval
        wait = interval * IDLE_POLL_FACTOR
        if self._retry_due is not None:
            left = self._retry_due - self.clock()
            if left <= 0:
                self._retry_due = None  # due: the step just taken saw it, or the next one will
            wait = min(wait, max(left, interval))
        return wait

    async def run(self) -> None:
        while not self._stopping.is_set():
            self._work.clear()
            try:
                result = await self.step()
            except Exception:  # the database was unreachable: try again later, do not die
                log.exception("settlement step failed")
                result = StepResult.THROTTLED
            if result is not StepResult.BUSY:
                stop, work = asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(self._work.wait())
                try:
                    await asyncio.wait((stop, work), timeout=self.rest(result), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stop.cancel()
                    work.cancel()

    async def close(self) -> None:
        self._stopping.set()
