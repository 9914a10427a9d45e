"""Settlement on the in-process chain: plan a period, step the worker, read balances on chain.

Each test drives :class:`SettlementWorker` one step at a time over a real database (SQLite, and
PostgreSQL where marked) and a real EVM (py-evm); the chain's token balances are the proof.
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest
from eth_account import Account

from satellite.db import create_database, upgrade_schema
from satellite.db.engine import sqlite_url
from satellite.db.payouts import PayoutRepository
from satellite.payouts import (
    BatchState,
    Payee,
    PayoutService,
    SettlementConfig,
    SettlementWorker,
    StepResult,
)
from satellite.payouts.chain import Chain
from satellite.payouts.worker import payee_fee
from tests.loopback import serve_on_loopback
from tests.payout_fixtures import make_payees, tester_chain  # noqa: F401  (pytest fixture)
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

CONFIG = SettlementConfig(confirmations=1, interval=0.05, retry_delay=0.01, rebroadcast_after=0.01)


class StepClock:
    """The worker's clock, moved only by the test: a retry is due when the test says so,
    not when a step happened to take longer than ``retry_delay``."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def sqlite_db(tmp_path):  # type: ignore[no-untyped-def]
    database = create_database(sqlite_url(os.path.join(tmp_path, "satellite.db")))
    await upgrade_schema(database)
    try:
        yield database
    finally:
        await database.close()


def balances(pc, payees) -> list[int]:  # type: ignore[no-untyped-def]
    return [pc.chain.token_balance(pc.token, p.wallet) for p in payees]


async def test_a_planned_period_is_paid_once_on_chain_through_every_state(db, tester_chain) -> None:  # noqa: F811
    repo = PayoutRepository(db)
    service = PayoutService(repo)
    payees = make_payees(5)
    await service.plan_period("2026-11", payees)
    worker = SettlementWorker(repo, dataclasses.replace(CONFIG, batch_size=2), chain=tester_chain)
    seen: list[tuple[BatchState, ...]] = []
    while (r := await worker.step()) is StepResult.BUSY:
        seen.append(tuple(b.state for b in await service.batches("2026-11")))
    assert r is StepResult.IDLE
    # Three batches (2 + 2 + 1), each walked planned → signed → sent → confirmed.
    assert seen[0] == (BatchState.PLANNED,) * 3
    assert (BatchState.SIGNED, BatchState.PLANNED, BatchState.PLANNED) in seen
    assert (BatchState.SENT, BatchState.PLANNED, BatchState.PLANNED) in seen
    assert seen[-1] == (BatchState.CONFIRMED,) * 3
    assert balances(tester_chain, payees) == [p.amount for p in payees]
    batches = await service.batches("2026-11")
    assert [len(b.payees) for b in batches] == [2, 2, 1]
    assert all(b.signed and b.signed.tx_hash.startswith("0x") and b.block_number for b in batches)
    assert len({b.signed.nonce for b in batches if b.signed}) == 3
    (summary,) = await service.periods()
    assert summary.paid == summary.total == sum(p.amount for p in payees)
    assert summary.batches == {"confirmed": 3}
    # Planning the period again, with other payees, changes nothing and pays nothing.
    await service.plan_period("2026-11", make_payees(2, prefix="x"))
    assert await worker.run_until_idle() is StepResult.IDLE
    assert balances(tester_chain, payees) == [p.amount for p in payees]
    assert [len(b.payees) for b in await service.batches()] == [2, 2, 1]


async def test_bad_payees_are_refused_and_store_nothing(sqlite_db) -> None:
    service = PayoutService(PayoutRepository(sqlite_db))
    good = make_payees(1)[0]
    bad_checksum = good.wallet[:2] + good.wallet[2:].swapcase()
    if bad_checksum == good.wallet:  # pragma: no cover - an address of digits only
        pytest.skip("no letters to flip")
    cases = {
        "bad EIP-55 checksum": [dataclasses.replace(good, wallet=bad_checksum)],
        "not an Ethereum address": [dataclasses.replace(good, wallet="0x1234")],
        "positive integer": [dataclasses.replace(good, amount=0)],
        "listed twice": [good, good],
    }
    for message, payees in cases.items():
        with pytest.raises(ValueError, match=message):
            await service.plan_period("p1", payees)
    with pytest.raises(ValueError, match="invalid period id"):
        await service.plan_period("../etc", [good])
    assert await service.periods() == []


async def test_lower_case_wallets_are_accepted_and_stored_checksummed(sqlite_db) -> None:
    service = PayoutService(PayoutRepository(sqlite_db))
    p = make_payees(1)[0]
    await service.plan_period("p", [dataclasses.replace(p, wallet=p.wallet.lower())])
    (_period, payees) = await service.store.unbatched_period()  # type: ignore[misc]
    assert payees == [p]


async def test_payees_whose_fee_exceeds_a_quarter_of_the_amount_roll_over(sqlite_db, tester_chain) -> None:  # noqa: F811
    repo = PayoutRepository(sqlite_db)
    service = PayoutService(repo)
    max_fee, _ = tester_chain.chain.fees()
    config = dataclasses.replace(CONFIG, gas_per_payee=35_000, native_price=3000.0)
    fee = payee_fee(config, max_fee, decimals=6)  # 35k gas at the chain's max fee, ETH at 3000 tokens
    assert fee > 0
    small = Payee("a" * 64, Account.create().address, 4 * fee - 1)  # fee > 25%: rolled over
    large = Payee("b" * 64, Account.create().address, 4 * fee)  # fee = 25%: paid
    await service.plan_period("p", [small, large])
    worker = SettlementWorker(repo, config, chain=tester_chain)
    assert await worker.run_until_idle() is StepResult.IDLE
    assert balances(tester_chain, [small, large]) == [0, 4 * fee]
    assert await service.rolled_over("p") == [small]
    (summary,) = await service.periods()
    assert summary.rolled_over == 1 and summary.paid == 4 * fee


async def test_a_restarted_worker_sends_the_stored_transaction_not_a_new_one(sqlite_db, tester_chain) -> None:  # noqa: F811
    repo = PayoutRepository(sqlite_db)
    payees = make_payees(3)
    await PayoutService(repo).plan_period("p", payees)
    first = SettlementWorker(repo, CONFIG, chain=tester_chain)
    assert await first.step() is StepResult.BUSY  # cut
    assert await first.step() is StepResult.BUSY  # signed
    (signed,) = await repo.batches()
    assert signed.state is BatchState.SIGNED and signed.signed is not None
    # "Dies" here; a new worker (new process state) takes over.
    second = SettlementWorker(repo, CONFIG, chain=tester_chain)
    assert await second.run_until_idle() is StepResult.IDLE
    (done,) = await repo.batches()
    assert done.state is BatchState.CONFIRMED
    assert done.signed == signed.signed and done.attempts == 1
    assert tester_chain.chain.receipt(signed.signed.tx_hash).succeeded
    assert balances(tester_chain, payees) == [p.amount for p in payees]


async def test_a_sent_transaction_sent_again_counts_as_sent_and_pays_once(sqlite_db, tester_chain) -> None:  # noqa: F811
    repo = PayoutRepository(sqlite_db)
    payees = make_payees(2)
    await PayoutService(repo).plan_period("p", payees)
    broadcasts = []

    async def die_after_broadcast(batch):  # type: ignore[no-untyped-def]
        broadcasts.append(batch.id)
        raise SystemExit("killed between broadcast and commit")

    doomed = SettlementWorker(repo, CONFIG, chain=tester_chain, after_broadcast=die_after_broadcast)
    await doomed.step()
    await doomed.step()
    with pytest.raises(SystemExit):
        await doomed.step()
    (b,) = await repo.batches()
    assert b.state is BatchState.SIGNED and broadcasts == [b.id]  # on chain, but the database says signed
    assert await SettlementWorker(repo, CONFIG, chain=tester_chain).run_until_idle() is StepResult.IDLE
    assert balances(tester_chain, payees) == [p.amount for p in payees]
    assert (await repo.batches())[0].state is BatchState.CONFIRMED


async def test_a_nonce_taken_by_another_transaction_is_signed_again_and_paid_once(sqlite_db, tester_chain) -> None:  # noqa: F811
    repo = PayoutRepository(sqlite_db)
    payees = make_payees(2)
    await PayoutService(repo).plan_period("p", payees)
    clock = StepClock()
    worker = SettlementWorker(repo, CONFIG, chain=tester_chain, clock=clock)
    await worker.step()
    await worker.step()
    (signed,) = await repo.batches()
    # An admin transaction from the payer takes the stored nonce before the batch is sent.
    tester_chain.chain.mint(tester_chain.token, tester_chain.chain.address, 1)
    assert tester_chain.chain.nonce(pending=False) > signed.signed.nonce
    assert await worker.run_until_idle() is StepResult.IDLE
    (back,) = await repo.batches()  # back to planned, waiting out the retry delay
    assert back.state is BatchState.PLANNED and "used by another transaction" in back.last_error
    assert balances(tester_chain, payees) == [0, 0]
    clock.advance(CONFIG.retry_delay)
    assert await worker.run_until_idle() is StepResult.IDLE
    (done,) = await repo.batches()
    assert done.state is BatchState.CONFIRMED and done.attempts == 2
    assert done.signed.nonce != signed.signed.nonce and "used by another transaction" in done.last_error
    assert balances(tester_chain, payees) == [p.amount for p in payees]


async def test_a_reverted_transaction_is_signed_again_without_paying_twice(sqlite_db, tester_chain) -> None:  # noqa: F811
    repo = PayoutRepository(sqlite_db)
    payees = make_payees(2)
    await PayoutService(repo).plan_period("p", payees)
    clock = StepClock()
    worker = SettlementWorker(repo, CONFIG, chain=tester_chain, clock=clock)
    await worker.step()
    await worker.step()  # signed while the allowance suffices
    c = tester_chain.chain
    c.approve(tester_chain.token, tester_chain.contract, 0)  # takes nonce n: the batch must re-sign
    await worker.run_until_idle()
    (b,) = await repo.batches()
    assert b.state is BatchState.PLANNED and "used by another transaction" in b.last_error
    clock.advance(CONFIG.retry_delay)
    await worker.run_until_idle()  # signing again fails: the contract may not spend the payer's tokens
    (b,) = await repo.batches()
    assert b.state is BatchState.PLANNED and "allowance too low" in b.last_error
    assert balances(tester_chain, payees) == [0, 0]
    c.approve(tester_chain.token, tester_chain.contract, 2**256 - 1)
    clock.advance(CONFIG.retry_delay)
    assert await worker.run_until_idle() is StepResult.IDLE
    assert (await repo.batches())[0].state is BatchState.CONFIRMED
    assert balances(tester_chain, payees) == [p.amount for p in payees]


async def test_a_chain_that_is_down_changes_nothing_and_is_retried(sqlite_db, tester_chain, tmp_path) -> None:  # noqa: F811
    from satellite.payouts import PayoutChain
    from satellite.payouts.chain import save_key
    from tests.devnet_fixture import free_port

    repo = PayoutRepository(sqlite_db)
    payees = make_payees(2)
    await PayoutService(repo).plan_period("p", payees)
    ok = SettlementWorker(repo, CONFIG, chain=tester_chain)
    await ok.step()  # cut on the live chain
    key = tmp_path / "k"
    save_key(key)
    down = Chain.connect(f"http://127.0.0.1:{free_port()}", str(key), timeout=1)
    dead = PayoutChain(chain=down, token=tester_chain.token, contract=tester_chain.contract, staking="", decimals=6)
    worker = SettlementWorker(repo, CONFIG, chain=dead)
    assert await worker.step() is StepResult.THROTTLED
    (b,) = await repo.batches()
    assert b.state is BatchState.PLANNED and b.signed is None and "ConnectionError" in b.last_error
    assert await ok.run_until_idle() is StepResult.IDLE
    assert balances(tester_chain, payees) == [p.amount for p in payees]


@pytest.mark.parametrize(
    "answer",
    [b"<html>502 Bad Gateway</html>", b'{"jsonrpc":"2.0","id":ID,"result":"banana"}', b'{"jsonrpc":"2.0","id":ID}'],
)
async def test_a_chain_that_answers_garbage_raises_one_typed_error(tmp_path, answer: bytes) -> None:
    import asyncio
    import json

    from aiohttp import web

    from satellite.payouts import ChainError
    from satellite.payouts.chain import save_key

    async def rpc(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        return web.Response(body=answer.replace(b"ID", str(body.get("id", 0)).encode()))

    app = web.Application()
    app.router.add_post("/", rpc)
    async with serve_on_loopback(app) as url:
        save_key(tmp_path / "k")
        chain = Chain.connect(url, str(tmp_path / "k"), timeout=2)
        for call in (chain.block_number, chain.nonce, lambda: chain.receipt("0x" + "00" * 32)):
            with pytest.raises(ChainError):
                await asyncio.to_thread(call)


async def test_a_fresh_in_process_chain_re_signs_what_the_old_one_was_sent(sqlite_db, tester_chain) -> None:  # noqa: F811
    """A devnet satellite restarted: its in-process chain is new; batches in flight are paid on it."""
    from satellite.payouts import PayoutChain

    repo = PayoutRepository(sqlite_db)
    payees = make_payees(2)
    await PayoutService(repo).plan_period("p", payees)
    old = SettlementWorker(repo, CONFIG, chain=tester_chain)
    for _ in range(3):  # cut, signed, sent
        await old.step()
    assert (await repo.batches())[0].state is BatchState.SENT

    def fresh(_config: SettlementConfig) -> PayoutChain:
        chain = Chain.in_process()
        d = chain.deploy_devnet()
        return PayoutChain(chain=chain, token=d.token, contract=d.payout, staking="", decimals=6)

    restarted = SettlementWorker(repo, CONFIG, open=fresh)
    assert await restarted.run_until_idle() is StepResult.IDLE
    (b,) = await repo.batches()
    assert b.state is BatchState.CONFIRMED and b.attempts == 2 and "restarted" in b.last_error
    assert balances(await restarted.chain(), payees) == [p.amount for p in payees]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"payout_batch_size": 201}, "payout_batch_size must be between 1 and 200"),
        ({"payout_confirmations": 0}, "payout_confirmations must be at least 1"),
        ({"payout_gas_headroom": 0.9}, "payout_gas_headroom must be at least 1.0"),
        ({"payout_native_price": -1.0}, "must not be negative"),
        ({"payout_max_fee_share": 0.0}, "payout_max_fee_share"),
        ({"payout_chain_url": "http://127.0.0.1:8545"}, "needs payout_token and payout_contract"),
    ],
)
def test_an_absurd_settlement_config_stops_the_satellite_with_a_clear_message(tmp_path, override, message) -> None:
    from satellite.config import SatelliteConfig

    with pytest.raises(ValueError, match=message):
        SettlementConfig.from_satellite(SatelliteConfig.for_tests(str(tmp_path), **override))


async def test_an_idle_running_worker_pays_a_period_as_soon_as_it_is_planned_not_at_its_next_poll(
    sqlite_db,
    tester_chain,  # noqa: F811
) -> None:
    """The pace (satellite/payouts/worker.py): idle, the worker polls ten intervals apart, but the
    service's plan wakes it at once."""
    import asyncio

    from satellite.payouts import Settlement

    config = dataclasses.replace(CONFIG, interval=3.0)  # an idle poll every 30 s
    settlement = Settlement(PayoutRepository(sqlite_db), config, chain=tester_chain)
    worker = settlement.worker
    assert worker.rest(StepResult.IDLE) == 30.0 and worker.rest(StepResult.WAITING) == 3.0
    steps: list[StepResult] = []
    step = worker.step

    async def counted() -> StepResult:
        steps.append(await step())
        return steps[-1]

    worker.step = counted  # type: ignore[method-assign]
    task = asyncio.create_task(worker.run())
    try:
        while not steps:  # the first step found nothing: the worker now rests for 30 s
            await asyncio.sleep(0.01)
        assert steps == [StepResult.IDLE]
        payees = make_payees(2)
        started = time.monotonic()
        await settlement.service.plan_period("2026-12", payees)
        while balances(tester_chain, payees) != [p.amount for p in payees]:
            assert time.monotonic() - started < 15, "the planned period waited for the idle poll"
            await asyncio.sleep(0.05)
    finally:
        await worker.close()
        await asyncio.wait_for(task, 10)


def test_an_idle_worker_rests_no_longer_than_until_the_retry_it_scheduled() -> None:
    clock = StepClock()
    worker = SettlementWorker(None, dataclasses.replace(CONFIG, interval=1.0, retry_delay=4.0), clock=clock)  # type: ignore[arg-type]
    assert worker.rest(StepResult.IDLE) == 10.0
    worker._retry_at()
    assert worker.rest(StepResult.IDLE) == 4.0
    clock.advance(3.5)
    assert worker.rest(StepResult.IDLE) == 1.0  # never sooner than one interval
    clock.advance(1.0)
    assert worker.rest(StepResult.IDLE) == 1.0 and worker.rest(StepResult.IDLE) == 10.0  # due, then forgotten
