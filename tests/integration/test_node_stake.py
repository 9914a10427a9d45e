"""A node's stake, as its operator sees it: the satellite's earnings answer carries it when the
network requires stake, and ``geoshard node earnings``, ``geoshard node status`` and the node
dashboard's stake panel show it — bonded, then unbonding until a given time after an exit.

A real satellite (API on loopback) requiring stake, on its own in-process chain; a real node
whose wallet is a devnet wallet (``geoshard.devnet.node_wallet``), so the satellite's stake
chore stakes for it as in ``geoshard devnet --stake``. The chore is stepped by the test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from eth_account import Account

from common.identity import Identity
from geoshard.devnet import node_wallet
from satellite.config import SatelliteConfig
from satellite.payouts.staking import StakeStep, devnet_node_key
from satellite.peer import Satellite
from storage_node.earnings import fetch_earnings, format_earnings
from tests.durability_helpers import wait_until
from tests.node_fixtures import running_node
from tests.satellite_fixtures import db, db_backend, stop_satellite  # noqa: F401  (pytest fixtures)

INDEX = 3  # devnet node 3's wallet
UNBONDING = 3600


async def _until(cond: Any, what: str) -> Any:
    return await wait_until(cond, 60.0, what, every=0.1)


async def test_a_nodes_stake_is_in_its_earnings_its_cli_and_its_dashboard_bonded_then_unbonding(
    db,  # noqa: F811
    tmp_path: Path,
) -> None:
    config = SatelliteConfig.for_tests(
        str(tmp_path / "satellite"), stake_required=True, stake_refresh_interval=0.2, stake_unbonding=UNBONDING
    )
    os.makedirs(config.data_dir, exist_ok=True)
    sat = Satellite(config, db, Identity.generate())
    await sat.start()
    chore = sat.settlement.stakes
    assert chore is not None
    try:
        wallet = node_wallet(INDEX)
        async with running_node(tmp_path / "node", satellite=sat.identity, satellite_url=sat.api_url, wallet=wallet,
                                dashboard_port=0, dashboard_refresh=0.2) as node:  # fmt: skip
            node_id = node.node_id

            async def checked_in() -> bool:
                return node_id in await sat.nodes.nodes([node_id])

            await _until(checked_in, what="the node's check-in")

            async def stake_in(state: str) -> dict[str, Any] | None:
                if await chore.step() is StakeStep.THROTTLED:
                    return None
                st = await sat.settlement.node_stake(node_id)
                return st if st is not None and st["state"] == state else None

            await _until(lambda: stake_in("bonded"), what="the devnet stake to be posted and read back")
            pc = await sat.settlement.worker.chain()
            staked = 1000 * 10**pc.decimals  # what the stake chore posts for a devnet node

            earnings = await asyncio.to_thread(fetch_earnings, node.peer.identity, sat.identity.id, sat.api_url)
            st = earnings["stake"]
            assert st["state"] == "bonded" and st["counts_for_placement"] is True
            assert st["wallet"] == wallet and int(st["bonded_units"]) == int(st["amount_units"]) == staked
            assert st["unbonding_until"] is None
            symbol = earnings["token"]["symbol"]
            assert f"stake        1000 {symbol} bonded" in format_earnings(earnings)

            cfg_path = tmp_path / "node" / "config.toml"
            node.peer.config.save(cfg_path)
            out = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "geoshard.cli", "node", "status", "--config", str(cfg_path)],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert out.returncode == 0, out.stderr
            assert f"stake        1000 {symbol} bonded" in out.stdout

            assert node.peer.dashboard_server is not None
            await asyncio.wait_for(node.peer.dashboard_server.started.wait(), 10)
            url = node.peer.dashboard_server.url
            async with aiohttp.ClientSession() as http:

                async def panel(state: str) -> dict[str, Any] | None:
                    async with http.get(f"{url}/api/payouts") as r:
                        p = (await r.json())["stake"]
                    return p if p["available"] and p["state"] == state else None

                p = await _until(lambda: panel("bonded"), what="the dashboard's stake panel")
                assert p["bonded"] == "1000" and p["symbol"] == symbol and "Stake is off" not in p["message"]

                # The operator asks to exit from the node's wallet: the stake no longer counts and
                # unbonds for the contract's unbonding period from the exit's block time.
                owner = Account.from_key(devnet_node_key(INDEX))
                await asyncio.to_thread(pc.chain.request_exit, pc.staking, node_id, owner)
                requested = await asyncio.to_thread(pc.chain.exit_requested_at, pc.staking, node_id)
                st = await _until(lambda: stake_in("unbonding"), what="the exit to be read back")
                until = dt.datetime.fromtimestamp(requested + UNBONDING, dt.UTC)
                assert st["unbonding_until"] == until.isoformat() and st["counts_for_placement"] is False
                assert st["amount_units"] == "0" and int(st["bonded_units"]) == staked
                earnings = await asyncio.to_thread(fetch_earnings, node.peer.identity, sat.identity.id, sat.api_url)
                assert f"stake        1000 {symbol} unbonding until {until.isoformat()}" in "\n".join(
                    format_earnings(earnings)
                )
                p = await _until(lambda: panel("unbonding"), what="the dashboard to show the unbonding")
                assert p["unbonding_until"] == until.isoformat() and until.isoformat() in p["message"]
    finally:
        await stop_satellite(sat)
