"""What settlement costs on chain: payees settled per second and gas per payee, for one batch
payout of many payees against a plain ERC-20 ``transfer`` per payee, on the in-process chain.

The settlement path is the real one: a planned period in SQLite, the worker cutting it into
batches of 200, signing (gas estimated by executing the call), storing, broadcasting, reading
receipts and confirming — every step through py-evm. The baseline pays the same payees with
one signed ``transfer`` transaction each, from the same payer, in the same run. Payees are
fresh addresses (the first token a wallet receives costs the most storage gas), as a new
period's new nodes are. ``gas_per_payee_ratio`` = batch gas per payee / transfer gas per
payee (below 1: the batch is cheaper); ``payees_per_s_ratio`` = batch rate / transfer rate.

    python bench/payouts.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_account import Account

from satellite.db import create_database, upgrade_schema
from satellite.db.engine import sqlite_url
from satellite.db.payouts import PayoutRepository
from satellite.payouts import Payee, PayoutChain, PayoutService, SettlementConfig, SettlementWorker, StepResult
from satellite.payouts.chain import Chain


async def settle(pc: PayoutChain, payees: list[Payee], data: str) -> tuple[float, int]:
    db = create_database(sqlite_url(os.path.join(data, "bench.db")))
    await upgrade_schema(db)
    try:
        repo = PayoutRepository(db)
        await PayoutService(repo).plan_period("bench", payees)
        worker = SettlementWorker(repo, SettlementConfig(confirmations=1), chain=pc)
        t0 = time.perf_counter()
        assert await worker.run_until_idle() is StepResult.IDLE
        elapsed = time.perf_counter() - t0
        gas = sum(b.gas_used or 0 for b in await repo.batches())
    finally:
        await db.close()
    for p in payees:
        assert pc.chain.token_balance(pc.token, p.wallet) == p.amount
    return elapsed, gas


def transfers(pc: PayoutChain, payees: list[Payee]) -> tuple[float, int]:
    t0 = time.perf_counter()
    gas = sum(pc.chain.transfer(pc.token, p.wallet, p.amount).gas_used for p in payees)
    return time.perf_counter() - t0, gas


def measure(quick: bool) -> dict[str, float]:
    n = 40 if quick else 400
    chain = Chain.in_process()
    d = chain.deploy_devnet()
    pc = PayoutChain(chain=chain, token=d.token, contract=d.payout, staking="", decimals=6)
    batch_payees = [Payee(f"{i:064x}", Account.create().address, 1_000 + i) for i in range(n)]
    plain_payees = [Payee(f"{i:064x}", Account.create().address, 1_000 + i) for i in range(n)]
    with tempfile.TemporaryDirectory() as data:
        batch_s, batch_gas = asyncio.run(settle(pc, batch_payees, data))
    plain_s, plain_gas = transfers(pc, plain_payees)
    out = {
        "payees": float(n),
        "batch_payees_per_s": n / batch_s,
        "batch_gas_per_payee": batch_gas / n,
        "transfer_payees_per_s": n / plain_s,
        "transfer_gas_per_payee": plain_gas / n,
    }
    out["gas_per_payee_ratio"] = out["batch_gas_per_payee"] / out["transfer_gas_per_payee"]
    out["payees_per_s_ratio"] = out["batch_payees_per_s"] / out["transfer_payees_per_s"]
    out["load_average_1m"] = os.getloadavg()[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="40 payees instead of 400")
    ap.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = ap.parse_args()
    fig = measure(args.quick)
    print(f"{fig['payees']:.0f} fresh payees on the in-process chain, load average {fig['load_average_1m']:.1f}")
    print(f"batch payout     {fig['batch_payees_per_s']:8.1f} payees/s  {fig['batch_gas_per_payee']:8.0f} gas/payee")
    print(f"ERC-20 transfer  {fig['transfer_payees_per_s']:8.1f} payees/s  "
          f"{fig['transfer_gas_per_payee']:8.0f} gas/payee")
    print(f"gas per payee, batch / transfer = {fig['gas_per_payee_ratio']:.2f}; "
          f"payees per second, batch / transfer = {fig['payees_per_s_ratio']:.2f}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2) + "\n")


if __name__ == "__main__":
    main()
