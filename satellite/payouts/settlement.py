"""Settlement as the satellite's peer wires it: the service accounting calls, the worker chore,
and a read-out of the payer on chain for the admin API."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from common.lifecycle import Service

from .network import SettlementConfig
from .service import PayoutService
from .staking import StakeChore, StakeStore, stake_json
from .store import PayoutStore
from .worker import SettlementWorker

__all__ = ["Settlement"]


class Settlement:
    def __init__(
        self,
        store: PayoutStore,
        config: SettlementConfig,
        *,
        stakes: StakeStore | None = None,
        on_stakes_changed: Callable[[], None] = lambda: None,
        **worker_options: Any,
    ) -> None:
        self.config = config
        self.worker = SettlementWorker(store, config, **worker_options)
        self.service = PayoutService(store, on_planned=self.worker.wake)
        # The stake policy: only when the network requires stake (and a store is given).
        self.stakes: StakeChore | None = None
        if config.stake_required and stakes is not None:
            self.stakes = StakeChore(stakes, config, self.worker.chain, on_change=on_stakes_changed)

    async def chain_status(self) -> dict[str, Any]:
        """The chain, the contracts and the payer's balances (``ChainError`` when unreachable)."""
        pc = await self.worker.chain()

        def read() -> dict[str, Any]:
            c = pc.chain
            return {
                "chain": "in-process test chain" if c.in_process else self.config.chain_url,
                "chain_id": c.chain_id,
                "block": c.block_number(),
                "payer": c.address,
                "token": pc.token,
                "decimals": pc.decimals,
                "payout_contract": pc.contract,
                "staking_contract": pc.staking or None,
                "payer_token_balance": str(c.token_balance(pc.token, c.address)),
                "payer_allowance": str(c.allowance(pc.token, c.address, pc.contract)),
                "payer_native_balance": str(c.native_balance(c.address)),
            }

        return await asyncio.to_thread(read)

    async def node_stake(self, node_id: str) -> dict[str, Any] | None:
        """The node's stake as its earnings answer carries it (None when the network requires none).

        Read from the cache the stake chore refreshes every ``stake_refresh_interval``, not from the
        chain: any API process can answer it, and a node polling its dashboard costs no chain calls."""
        if self.stakes is None:
            return None
        record = await self.stakes.store.get(node_id)
        return stake_json(record, self.config.stake_minimum, dt.datetime.now(dt.UTC))

    async def balance_of(self, wallet: str) -> int:
        """A wallet's balance of the payout token (what a node operator was paid, on chain)."""
        pc = await self.worker.chain()
        return int(await asyncio.to_thread(pc.chain.token_balance, pc.token, wallet))

    def services(self) -> list[Service]:
        out = [Service("payouts", self.worker.run, self.worker.close)]
        if self.stakes is not None:
            out.append(Service("stakes", self.stakes.run, self.stakes.close))
        return out
