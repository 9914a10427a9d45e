"""Chains for settlement tests: the in-process test chain with fresh contracts, and anvil.

Anvil (npm ``@foundry-rs/anvil``, installed by ``scripts/install-test-tools.sh``) runs as a
real process on a free loopback port with ``--state``, so it survives the death of the worker
and can itself be stopped and restarted with its chain intact. A missing anvil fails the test
that needs it, loudly: these tests must run in CI.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.devnet_fixture import free_port

__all__ = ["ANVIL_KEY", "Anvil", "anvil", "make_payees", "settle_all", "tester_chain"]

# Anvil's first default account (its well-known test mnemonic): funded with 10,000 ETH.
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


async def settle_all(worker: Any, timeout: float = 60.0) -> Any:
    """Step ``worker`` until nothing is left to settle: a node that has not mined (or indexed) a
    receipt yet makes a pass end ``WAITING``; waiting for it is the chain's pace, not a flake."""
    import asyncio
    import time

    from satellite.payouts import StepResult

    deadline = time.monotonic() + timeout
    while (result := await worker.run_until_idle()) is StepResult.WAITING and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return result


def make_payees(n: int, amount: int = 1_000_000, prefix: str = "n") -> list[Any]:
    from eth_account import Account

    from satellite.payouts import Payee

    return [Payee(f"{prefix}{i:03d}".ljust(64, "0"), Account.create().address, amount + i) for i in range(n)]


@pytest.fixture
def tester_chain() -> Any:
    """A fresh in-process chain with the test token, payout and staking contracts deployed."""
    from eth_account import Account

    from satellite.payouts import PayoutChain
    from satellite.payouts.chain import Chain

    chain = Chain.in_process()
    reserve = Account.create().address
    d = chain.deploy_devnet(staking=True, reserve=reserve, unbonding=100)
    pc = PayoutChain(chain=chain, token=d.token, contract=d.payout, staking=d.staking, decimals=6)
    pc.reserve = reserve  # type: ignore[attr-defined]
    return pc


def _rpc_ready(url: str) -> bool:
    req = urllib.request.Request(
        url, data=b'{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}',
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=1) as r:
            return b"result" in r.read()
    except OSError:
        return False


@dataclass
class Anvil:
    """One anvil process on loopback; :meth:`stop` (SIGTERM dumps its state) and :meth:`start` again."""

    state: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("anvil")
        if binary is None:
            pytest.fail("anvil is not installed: run scripts/install-test-tools.sh (npm @foundry-rs/anvil)")
        log = open(self.state.with_suffix(".log"), "ab")  # noqa: SIM115 - the process keeps it
        self.proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(self.port), "--state", str(self.state),
             "--hardfork", "shanghai", "--silent"],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not _rpc_ready(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"anvil did not start on {self.url}; see {self.state.with_suffix('.log')}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)  # anvil writes --state on a clean exit
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # the npm wrapper and the real binary: the whole group
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[Anvil]:
    node = Anvil(state=tmp_path / "anvil-state.json")
    node.start()
    try:
        yield node
    finally:
        node.stop()
        if os.environ.get("GEOSHARD_KEEP_ANVIL_STATE") is None:
            node.state.unlink(missing_ok=True)
