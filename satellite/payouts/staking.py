"""Stake, a network policy (off by default): placement selects only nodes holding an active
stake in the staking contract, and a disqualified node's stake is slashed into the reserve fund.

Placement stays pure: it reads each node's stake from the node snapshot, which carries the
amount cached in the database (``node_stakes``). :class:`StakeChore` keeps that cache, one
unit of work per pass, in this order: slash a disqualified node that still has stake (the hook
into disqualification is the database itself — whoever disqualified the node, reputation or an
admin, the next pass slashes, and a crash before recording it only means slashing again, which
takes nothing twice); register with the contract the wallet of a node that reported one, so
that only that wallet may stake for it; re-read the stake of nodes not checked for
``stake_refresh_interval``.

On the in-process chain (devnet's stake profile) nobody outside the satellite can reach the
chain, so after registering a devnet node whose wallet is one of :func:`devnet_node_key`'s, the
chore stakes for it from that key — the satellite pays the gas and lends the tokens.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .errors import ChainError, ChainReverted
from .network import SettlementConfig

__all__ = ["DEVNET_NODES", "StakeChore", "StakeRecord", "StakeStore", "devnet_node_key"]

log = logging.getLogger(__name__)

DEVNET_NODES = 256  # devnet node indexes whose wallet keys the satellite can derive


def devnet_node_key(index: int) -> bytes:
    """The private key of devnet node ``index``'s wallet. Public by construction: devnet only."""
    return hashlib.sha256(f"geoshard devnet node {index}".encode()).digest()


@dataclass(frozen=True, slots=True)
class StakeRecord:
    node_id: str
    wallet: str
    amount: int
    registered: bool
    slashed_at: dt.datetime | None
    slash_tx: str | None


class StakeStore(Protocol):
    async def to_register(self, limit: int) -> list[tuple[str, str]]: ...
    async def mark_registered(
        self, node_id: str, wallet: str, now: dt.datetime, *, registered: bool = True
    ) -> None: ...
    async def due_refresh(self, checked_before: dt.datetime, limit: int) -> list[StakeRecord]: ...
    async def record_stake(self, node_id: str, amount: int, now: dt.datetime) -> bool: ...
    async def to_slash(self, limit: int) -> list[StakeRecord]: ...
    async def mark_slashed(self, node_id: str, tx_hash: str | None, now: dt.datetime) -> None: ...


class StakeStep(StrEnum):
    SLASHED = "slashed"
    REGISTERED = "registered"
    REFRESHED = "refreshed"
    IDLE = "idle"
    THROTTLED = "throttled"


class StakeChore:
    def __init__(
        self,
        store: StakeStore,
        config: SettlementConfig,
        chain: Callable[[], Any],  # async: the settlement worker's PayoutChain
        *,
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config
        self._chain = chain
        self.on_change = on_change
        self.clock = clock
        self._devnet: dict[str, bytes] | None = None
        self._stopping = asyncio.Event()

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))

    async def step(self) -> StakeStep:
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        try:
            pc = await self._chain()
            if not pc.staking:
                raise ChainError("stake is required but no staking contract is configured (stake_contract)")
            for rec in await self.store.to_slash(1):
                tx = None
                if await self._call(pc.chain.bonded_stake, pc.staking, rec.node_id) > 0:
                    tx = (await self._call(pc.chain.slash, pc.staking, rec.node_id)).tx_hash
                await self.store.mark_slashed(rec.node_id, tx, now)
                log.warning("node %s disqualified: stake slashed into the reserve fund (tx %s)", rec.node_id, tx)
                self.on_change()
                return StakeStep.SLASHED
            if await self._register_one(pc, now):
                return StakeStep.REGISTERED
            changed = False
            due = await self.store.due_refresh(now - dt.timedelta(seconds=self.config.stake_refresh_interval), 50)
            for rec in due:
                amount = await self._call(pc.chain.stake_of, pc.staking, rec.node_id)
                changed |= await self.store.record_stake(rec.node_id, amount, now)
            if changed:
                self.on_change()
            return StakeStep.REFRESHED if due else StakeStep.IDLE
        except ChainError as e:
            log.warning("stake chore: %s", e)
            return StakeStep.THROTTLED

    async def _register_one(self, pc: Any, now: dt.datetime) -> bool:
        from .wallets import checksum_address

        for node_id, raw_wallet in await self.store.to_register(1):
            try:
                wallet = checksum_address(raw_wallet)
            except ValueError:  # not an address: such a node can never stake (nor take pieces)
                await self.store.mark_registered(node_id, raw_wallet, now, registered=False)
                return True
            try:
                await self._call(pc.chain.register_node, pc.staking, node_id, wallet)
            except ChainReverted as e:  # it has stake under its old wallet, which stays bound
                log.warning("node %s: cannot register wallet %s: %s", node_id, wallet, e.reason)
            await self.store.mark_registered(node_id, raw_wallet, now)
            if pc.chain.in_process:
                await self._devnet_stake(pc, node_id, wallet)
            return True
        return False

    async def _devnet_stake(self, pc: Any, node_id: str, wallet: str) -> None:
        from eth_account import Account

        if self._devnet is None:
            keys = (devnet_node_key(i) for i in range(DEVNET_NODES))
            self._devnet = {Account.from_key(k).address: k for k in keys}
        key = self._devnet.get(wallet)
        if key is None:
            return
        account = Account.from_key(key)
        amount = max(self.config.stake_minimum, 1000 * 10**pc.decimals)
        c = pc.chain
        await self._call(c.fund, wallet, 10**18)
        await self._call(c.transfer, pc.token, wallet, amount)
        await self._call(c.approve, pc.token, pc.staking, amount, account)
        await self._call(c.stake, pc.staking, node_id, amount, account)
        log.info("devnet: staked %d for node %s from its wallet %s", amount, node_id[:16], wallet)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                result = await self.step()
            except Exception:  # the database was unreachable: try again later, do not die
                log.exception("stake chore step failed")
                result = StakeStep.THROTTLED
            if result in (StakeStep.IDLE, StakeStep.THROTTLED):
                delay = self.config.stake_refresh_interval if result is StakeStep.IDLE else self.config.retry_delay
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=min(delay, 60.0))
                except TimeoutError:
                    pass

    async def close(self) -> None:
        self._stopping.set()
