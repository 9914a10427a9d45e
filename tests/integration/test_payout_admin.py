"""Settlement as an admin sees it: a satellite process on the in-process chain, driven with
``geoshard admin settlement …`` — plan a period, watch its batch confirm, read balances on chain."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from eth_account import Account

from satellite.admin.client import AdminClient
from tests.devnet_fixture import free_port
from tests.integration.test_admin_cli import _wait_for_port

GEOSHARD = [sys.executable, "-m", "geoshard.cli"]


def admin(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GEOSHARD, "admin", "--satellite-config", str(config), *args], capture_output=True, text=True, timeout=120
    )


def test_an_admin_plans_a_period_and_sees_it_settled_on_chain(tmp_path: Path) -> None:
    data = tmp_path / "sat"
    admin_port = free_port()
    init = subprocess.run(
        [*GEOSHARD, "satellite", "init", "--data", str(data), "--port", str(free_port()),
         "--admin-port", str(admin_port)], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    config = data / "satellite.json"
    cfg = json.loads(config.read_text())
    cfg.update(payout_confirmations=1, payout_interval=0.2, payout_batch_size=2)
    config.write_text(json.dumps(cfg))
    log = tmp_path / "satellite.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*GEOSHARD, "satellite", "run", "--config", str(config)], stdout=out, stderr=out)
    try:
        _wait_for_port(admin_port, proc, log)
        wallets = [Account.create().address for _ in range(3)]
        bad = wallets[0][:2] + wallets[0][2:].swapcase()
        r = admin(config, "settlement", "plan", "2026-11", "--payee", f"{'a' * 64}:{bad}:5")
        assert r.returncode == 1 and "bad EIP-55 checksum" in r.stderr, r
        assert json.loads(admin(config, "--json", "settlement", "periods").stdout) == {"periods": []}

        payees = [f"{chr(97 + i) * 64}:{w}:{1000 + i}" for i, w in enumerate(wallets)]
        r = admin(config, "settlement", "plan", "2026-11", *[a for p in payees for a in ("--payee", p)])
        assert r.returncode == 0 and "planned period" in r.stdout, r
        client = AdminClient(f"http://127.0.0.1:{admin_port}", cfg["admin_token"])
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # polled in-process: a CLI start costs seconds on a busy box
            batches = client.call("GET", "/v1/settlement/batches")["batches"]
            if batches and all(b["state"] == "confirmed" for b in batches):
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"not settled: {batches}\n{log.read_text()[-3000:]}")
        assert [b["payees"] for b in batches] == [2, 1]
        assert all(b["tx_hash"].startswith("0x") and b["block_number"] for b in batches)
        text = admin(config, "settlement", "batches", "--period", "2026-11").stdout
        assert "confirmed" in text and batches[0]["tx_hash"] in text and wallets[2] in text
        r = admin(config, "--json", "settlement", "balance", wallets[2].lower())
        assert json.loads(r.stdout) == {"wallet": wallets[2], "token_balance": "1002"}
        for i, w in enumerate(wallets):
            assert client.call("GET", f"/v1/settlement/wallets/{w}")["token_balance"] == str(1000 + i)
        (period,) = client.call("GET", "/v1/settlement/periods")["periods"]
        assert period["paid"] == period["total"] == "3003" and period["batches"] == {"confirmed": 2}
        # Planned again: left as it was, nothing paid twice.
        r = admin(config, "settlement", "plan", "2026-11", "--payee", payees[0])
        assert r.returncode == 0 and "already planned" in r.stdout
        chain = client.call("GET", "/v1/settlement/chain")
        assert chain["chain"] == "in-process test chain" and chain["decimals"] == 18  # accounting's decimals
    finally:
        proc.terminate()
        proc.wait(timeout=30)
