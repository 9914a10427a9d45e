"""Settlement against a real chain node (anvil on loopback) with workers that die.

The worker runs in its own process and is SIGKILLed between every pair of steps, and inside
the broadcast window (on chain, not yet recorded as sent); anvil itself is stopped mid-batch
and restarted from its saved state. After each, the payees' token balances on chain are
exactly what was planned — nobody paid twice, nobody zero.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from satellite.db import create_database, upgrade_schema
from satellite.db.engine import sqlite_url
from satellite.db.payouts import PayoutRepository
from satellite.payouts import BatchState, PayoutChain, PayoutService, SettlementConfig, SettlementWorker, StepResult
from satellite.payouts.chain import Chain
from tests.payout_fixtures import ANVIL_KEY, Anvil, anvil, make_payees, settle_all  # noqa: F401  (pytest fixture)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def setup(anvil: Anvil, tmp_path: Path):  # type: ignore[no-untyped-def]  # noqa: F811
    key = tmp_path / "payer.key"
    key.write_text(ANVIL_KEY + "\n")
    os.chmod(key, 0o600)
    chain = Chain.connect(anvil.url, str(key))
    d = await asyncio.to_thread(chain.deploy_devnet)
    db = create_database(sqlite_url(str(tmp_path / "satellite.db")))
    await upgrade_schema(db)
    pc = PayoutChain(chain=chain, token=d.token, contract=d.payout, staking="", decimals=6)
    try:
        yield db, pc, key
    finally:
        await db.close()


async def worker_process(
    db_url: str, node: Anvil, key: Path, pc: PayoutChain, batch: int, mode: str
) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.payout_crash_worker", db_url, node.url, str(key), pc.token, pc.contract,
        str(batch), mode, stdout=asyncio.subprocess.PIPE, cwd=str(ROOT),
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def paid(pc: PayoutChain, payees) -> list[int]:  # type: ignore[no-untyped-def]
    return [pc.chain.token_balance(pc.token, p.wallet) for p in payees]


async def test_worker_killed_between_every_pair_of_steps_pays_everyone_exactly_once(setup, anvil) -> None:  # noqa: F811
    db, pc, key = setup
    payees = make_payees(5)
    await PayoutService(PayoutRepository(db)).plan_period("2026-11", payees)
    payer_before = pc.chain.token_balance(pc.token, pc.chain.address)
    repo = PayoutRepository(db)
    history = []
    for _ in range(30):
        code, out = await worker_process(db.url, anvil, key, pc, 2, "steps:1")
        assert code == -signal.SIGKILL, out
        history.append(out.split("states ")[1].strip())
        if all(b.state is BatchState.CONFIRMED for b in await repo.batches()):
            break
    # Killed after planned, after signed (before send), after sent (before confirm), for each batch.
    assert history[0] == "planned,planned,planned"
    assert "signed,planned,planned" in history and "sent,planned,planned" in history
    assert "confirmed,confirmed,sent" in history
    assert history[-1] == "confirmed,confirmed,confirmed"
    assert paid(pc, payees) == [p.amount for p in payees]
    assert payer_before - pc.chain.token_balance(pc.token, pc.chain.address) == sum(p.amount for p in payees)
    assert [b.attempts for b in await repo.batches()] == [1, 1, 1]  # each batch signed once, never anew


async def test_worker_killed_after_broadcast_before_recording_it_pays_once(setup, anvil) -> None:  # noqa: F811
    db, pc, key = setup
    payees = make_payees(3)
    await PayoutService(PayoutRepository(db)).plan_period("p", payees)
    code, out = await worker_process(db.url, anvil, key, pc, 200, "broadcast")
    assert code == -signal.SIGKILL and "broadcast" in out, out
    (b,) = await PayoutRepository(db).batches()
    assert b.state is BatchState.SIGNED  # the chain has it; the database does not know
    assert pc.chain.receipt(b.signed.tx_hash).succeeded  # type: ignore[union-attr]
    code, out = await worker_process(db.url, anvil, key, pc, 200, "idle")
    assert code == 0, out
    (done,) = await PayoutRepository(db).batches()
    assert done.state is BatchState.CONFIRMED and done.signed == b.signed and done.attempts == 1
    assert paid(pc, payees) == [p.amount for p in payees]


async def test_anvil_stopped_mid_batch_and_restarted_pays_everyone_once(setup, anvil) -> None:  # noqa: F811
    db, pc, _key = setup
    repo = PayoutRepository(db)
    payees = make_payees(6)
    await PayoutService(repo).plan_period("p", payees)
    config = SettlementConfig(confirmations=1, batch_size=2, interval=0.05, retry_delay=0.05, rebroadcast_after=0.05)
    worker = SettlementWorker(repo, config, chain=pc)
    for _ in range(4):  # cut, then batch 0 signed, sent, confirmed
        assert await worker.step() is StepResult.BUSY
    assert await worker.step() is StepResult.BUSY  # batch 1 signed, not sent
    assert [b.state for b in await repo.batches()] == ["confirmed", "signed", "planned"]
    await asyncio.to_thread(anvil.stop)
    assert await worker.step() is StepResult.THROTTLED  # the chain is down: nothing changes
    batches = await repo.batches()
    assert [b.state for b in batches] == ["confirmed", "signed", "planned"] and batches[1].last_error
    await asyncio.to_thread(anvil.start)  # same port, state reloaded
    assert await worker.step() is StepResult.BUSY  # batch 1 sent (the stored bytes)
    assert await worker.step() is StepResult.BUSY  # confirmed
    assert await worker.step() is StepResult.BUSY  # batch 2 signed
    assert await worker.step() is StepResult.BUSY  # sent and mined
    await asyncio.to_thread(anvil.stop)  # stopped with batch 2 sent, not yet confirmed
    assert await worker.step() is StepResult.THROTTLED
    await asyncio.to_thread(anvil.start)
    for _ in range(50):
        if await worker.step() is StepResult.IDLE:
            break
        await asyncio.sleep(0.05)
    assert [b.state for b in await repo.batches()] == ["confirmed"] * 3
    assert [b.attempts for b in await repo.batches()] == [1, 1, 1]
    assert paid(pc, payees) == [p.amount for p in payees]


async def test_more_than_two_hundred_payees_take_two_transactions(setup) -> None:
    db, pc, _key = setup
    repo = PayoutRepository(db)
    payees = make_payees(201)
    await PayoutService(repo).plan_period("p", payees)
    worker = SettlementWorker(repo, SettlementConfig(confirmations=1), chain=pc)
    assert await settle_all(worker) is StepResult.IDLE
    batches = await repo.batches()
    assert [len(b.payees) for b in batches] == [200, 1]
    assert len({b.signed.tx_hash for b in batches if b.signed}) == 2
    assert paid(pc, payees) == [p.amount for p in payees]
