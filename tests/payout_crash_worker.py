"""A settlement worker in its own process, for the crash tests.

    python -m tests.payout_crash_worker DB_URL RPC_URL KEY TOKEN CONTRACT BATCH_SIZE MODE

MODE ``steps:N`` does N worker steps, prints the batch states and SIGKILLs itself (no cleanup,
no finally blocks); ``broadcast`` SIGKILLs itself right after the first broadcast, before the
``sent`` state is committed; ``idle`` steps until nothing is left and exits 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from satellite.db import create_database
from satellite.db.payouts import PayoutRepository
from satellite.payouts import SettlementConfig, SettlementWorker, StepResult


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


async def main(db_url: str, rpc: str, key: str, token: str, contract: str, batch_size: str, mode: str) -> None:
    db = create_database(db_url)
    repo = PayoutRepository(db)
    config = SettlementConfig(
        chain_url=rpc, key_path=key, token=token, contract=contract, batch_size=int(batch_size),
        confirmations=1, interval=0.05, retry_delay=0.05, rebroadcast_after=0.5,
    )  # fmt: skip

    async def after_broadcast(batch) -> None:  # type: ignore[no-untyped-def]
        print("broadcast", batch.id, flush=True)
        die()

    worker = SettlementWorker(repo, config, after_broadcast=after_broadcast if mode == "broadcast" else None)
    if mode == "idle":
        for _ in range(1000):
            result = await worker.run_until_idle()
            if result is StepResult.IDLE:
                print("idle", flush=True)
                await db.close()
                return
            await asyncio.sleep(0.05)
        sys.exit(4)
    if mode.startswith("steps:"):
        for _ in range(int(mode.split(":")[1])):
            print("step", await worker.step(), flush=True)
        print("states", ",".join(b.state for b in await repo.batches()), flush=True)
        die()
    while True:  # broadcast: step until the hook kills us
        if await worker.step() is StepResult.IDLE:
            print("no broadcast", flush=True)
            sys.exit(3)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:8]))
