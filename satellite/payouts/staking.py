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

__all__ = [
    "DEVNET_NODES",
    "StakeChore",
    "StakeRecord",
    "StakeState",
    "StakeStore",
    "devnet_node_key",
    "stake_json",
    "stake_state",
]

log = logging.getLogger(__name__)

DEVNET_NODES = 256  # devnet node indexes whose wallet keys the satellite can derive


def devnet_node_key(index: int) -> bytes:
    """The private key of devnet node ``index``'s wallet. Public by construction: devnet only."""
    return hashlib.sha256(f"geoshard devnet node {index}".encode()).digest()


@dataclass(frozen=True, slots=True)
class StakeRecord:
    node_id: str
    wallet: str
    amount: int  # active stake: what placement counts (none once exiting or slashed)
    registered: bool
    slashed_at: dt.datetime | None
    slash_tx: str | None
    bonded: int = 0  # all the stake the contract holds for the node, exiting or not
    unbonding_until: dt.datetime | None = None  # an exit was asked for: withdrawable from then
    checked_at: dt.datetime | None = None


class StakeState(StrEnum):
    """A node's stake as its operator is told it (the satellite's earnings answer)."""

    UNREGISTERED = "unregistered"  # the contract does not bind the node's wallet yet (or it is unusable)
    UNSTAKED = "unstaked"  # registered, nothing posted: placement skips the node
    BONDED = "bonded"  # active: counts for placement
    UNBONDING = "unbonding"  # an exit was asked for: withdrawable at unbonding_until
    WITHDRAWABLE = "withdrawable"  # unbonding over: the node's wallet may withdraw
    WITHDRAWN = "withdrawn"  # the exit completed and the stake went back to the wallet
    SLASHED = "slashed"  # disqualified: the stake went to the reserve fund


def stake_state(rec: StakeRecord | None, now: dt.datetime) -> StakeState:
    if rec is None or not rec.registered:
        return StakeState.UNREGISTERED
    if rec.slashed_at is not None:
        return StakeState.SLASHED
    if rec.unbonding_until is not None:
        if rec.bonded == 0:
            return StakeState.WITHDRAWN
        return StakeState.UNBONDING if now < rec.unbonding_until else StakeState.WITHDRAWABLE
    return StakeState.BONDED if rec.amount > 0 else StakeState.UNSTAKED


def stake_json(rec: StakeRecord | None, minimum: int, now: dt.datetime) -> dict[str, Any]:
    """The ``stake`` of the node's earnings answer: amounts in token base units (exact, as strings),
    the state, when unbonding ends, and whether placement counts the node as staked."""
    state = stake_state(rec, now)
    return {
        "required": True,
        "state": str(state),
        "wallet": rec.wallet if rec is not None else None,
        "amount_units": str(rec.amount if rec is not None else 0),
        "bonded_units": str(rec.bonded if rec is not None else 0),
        "minimum_units": str(minimum),
        "counts_for_placement": state is StakeState.BONDED and rec is not None and rec.amount >= minimum,
        "unbonding_until": rec.unbonding_until.isoformat() if rec is not None and rec.unbonding_until else None,
        "slashed_at": rec.slashed_at.isoformat() if rec is not None and rec.slashed_at else None,
        "slash_tx": rec.slash_tx if rec is not None else None,
        "checked_at": rec.checked_at.isoformat() if rec is not None and rec.checked_at else None,
    }


class StakeStore(Protocol):
    async def to_register(self, limit: int) -> list[tuple[str, str]]: ...
    async def mark_registered(
        self, node_id: str, wallet: str, now: dt.datetime, *, registered: bool = True
    ) -> None: ...
    async def due_refresh(self, checked_before: dt.datetime, limit: int) -> list[StakeRecord]: ...
    async def record_stake(
        self,
        node_id: str,
        amount: int,
        now: dt.datetime,
        *,
        bonded: int | None = None,
        unbonding_until: dt.datetime | None = None,
    ) -> bool:
        """Store what the chain says (``bonded`` defaults to ``amount``); True if ``amount`` changed."""
        ...

    async def get(self, node_id: str) -> StakeRecord | None: ...
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
        self._unbonding: tuple[str, int] | None = None  # (staking contract, its unbonding period)
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
                amount, bonded, until = await self._read_stake(pc, rec.node_id)
                changed |= await self.store.record_stake(rec.node_id, amount, now, bonded=bonded, unbonding_until=until)
            if changed:
                self.on_change()
            return StakeStep.REFRESHED if due else StakeStep.IDLE
        except ChainError as e:
            log.warning("stake chore: %s", e)
            return StakeStep.THROTTLED

    async def _read_stake(self, pc: Any, node_id: str) -> tuple[int, int, dt.datetime | None]:
        """(active, bonded, end of unbonding or None) of one node, from the staking contract."""
        c = pc.chain
        amount = await self._call(c.stake_of, pc.staking, node_id)
        bonded = await self._call(c.bonded_stake, pc.staking, node_id)
        requested = await self._call(c.exit_requested_at, pc.staking, node_id)
        if not requested:
            return amount, bonded, None
        if self._unbonding is None or self._unbonding[0] != pc.staking:
            self._unbonding = (pc.staking, await self._call(c.unbonding_period, pc.staking))
        return amount, bonded, dt.datetime.fromtimestamp(requested + self._unbonding[1], dt.UTC)

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
