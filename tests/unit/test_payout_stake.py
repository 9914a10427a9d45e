"""The stake policy: registration binds a node's wallet, placement skips unstaked nodes, a
disqualified node's stake is slashed into the reserve fund (database + in-process chain)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import time

import pytest
from eth_account import Account

from erasure import RedundancyScheme
from satellite.db.models import Node
from satellite.db.nodes import NodeRepository
from satellite.db.stakes import StakeRepository
from satellite.nodeselection import (
    Ineligible,
    PlacementError,
    PlacementPolicy,
    SelectionConfig,
    is_eligible,
    select_nodes,
)
from satellite.payouts import SettlementConfig
from satellite.payouts.staking import StakeChore, StakeStep, devnet_node_key
from tests.payout_fixtures import tester_chain  # noqa: F401  (pytest fixture)
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

CONFIG = SettlementConfig(stake_required=True, stake_refresh_interval=10, retry_delay=1)
SELECT = SelectionConfig(online_window=60, new_node_fraction=1.0, min_free_bytes=0, require_stake=True, min_stake=100)


async def add_node(db, index: int, wallet: str) -> str:  # type: ignore[no-untyped-def]  # noqa: F811
    node_id = f"{index:02x}" * 32
    now = dt.datetime.now(dt.UTC)
    async with db.transaction() as s:
        s.add(Node(id=node_id, address=f"http://127.0.{index}.1:7000", last_net=f"127.0.{index}", country="DE",
                   region="eu", capacity=10**12, free=10**12, wallet=wallet, created_at=now, last_contact_at=now,
                   vetted_at=now))  # fmt: skip
    return node_id


async def run(chore: StakeChore) -> list[StakeStep]:
    steps = []
    while (step := await chore.step()) not in (StakeStep.IDLE, StakeStep.THROTTLED):
        steps.append(step)
    assert step is StakeStep.IDLE
    return steps


async def test_placement_never_selects_an_unstaked_node_and_disqualification_slashes(db, tester_chain) -> None:  # noqa: F811
    pc, c = tester_chain, tester_chain.chain
    operator = Account.create()
    staked = await add_node(db, 1, operator.address)
    unstaked = await add_node(db, 2, Account.create().address)
    clock = [1_000_000.0]
    changes = []

    async def chain():  # type: ignore[no-untyped-def]
        return pc

    chore = StakeChore(StakeRepository(db), CONFIG, chain, on_change=lambda: changes.append(1), clock=lambda: clock[0])
    assert await run(chore) == [StakeStep.REGISTERED, StakeStep.REGISTERED]
    assert c.staked_wallet(pc.staking, staked) == operator.address
    # The operator stakes from the registered wallet.
    c.fund(operator.address, 10**18)
    c.transfer(pc.token, operator.address, 500)
    c.approve(pc.token, pc.staking, 500, account=operator)
    c.stake(pc.staking, staked, 500, operator)
    assert await run(chore) == []  # cached stakes are fresh: nothing re-read yet
    clock[0] += 11
    assert await run(chore) == [StakeStep.REFRESHED] and changes
    nodes = {n.id: n for n in await NodeRepository(db).candidates()}
    assert nodes[staked].stake == 500 and nodes[unstaked].stake == 0
    assert is_eligible(nodes[unstaked], clock[0], SELECT) is Ineligible.UNSTAKED
    assert is_eligible(nodes[unstaked], clock[0], dataclasses.replace(SELECT, require_stake=False)) is None
    policy = PlacementPolicy(name="one", scheme=RedundancyScheme(1, 1, 1, 1))
    for seed in range(20):
        (chosen,) = select_nodes(nodes.values(), policy, 1, now=time.time(), config=SELECT, rng=random.Random(seed))
        assert chosen.id == staked
    with pytest.raises(PlacementError):
        select_nodes(nodes.values(), policy, 2, now=time.time(), config=SELECT, rng=random.Random(0))

    await NodeRepository(db).disqualify(staked, "failed audits")
    assert await run(chore) == [StakeStep.SLASHED]
    assert c.token_balance(pc.token, pc.reserve) == 500
    assert c.bonded_stake(pc.staking, staked) == 0
    rec = await StakeRepository(db).get(staked)
    assert rec is not None and rec.slashed_at is not None and rec.slash_tx and rec.amount == 0
    assert (await run(chore)) == []  # slashed once, never again


async def test_a_node_without_a_usable_wallet_is_never_registered(db, tester_chain) -> None:  # noqa: F811
    node = await add_node(db, 3, "0x0")

    async def chain():  # type: ignore[no-untyped-def]
        return tester_chain

    chore = StakeChore(StakeRepository(db), CONFIG, chain)
    assert await run(chore) == [StakeStep.REGISTERED]  # handled: remembered as unusable
    rec = await StakeRepository(db).get(node)
    assert rec is not None and not rec.registered
    assert tester_chain.chain.staked_wallet(tester_chain.staking, node) == "0x" + "0" * 40


async def test_on_the_in_process_chain_devnet_nodes_are_staked_for(db, tester_chain) -> None:  # noqa: F811
    wallet = Account.from_key(devnet_node_key(3)).address
    node = await add_node(db, 4, wallet)

    async def chain():  # type: ignore[no-untyped-def]
        return tester_chain

    clock = [1_000_000.0]
    chore = StakeChore(StakeRepository(db), CONFIG, chain, clock=lambda: clock[0])
    assert await run(chore) == [StakeStep.REGISTERED]
    clock[0] += 11
    assert await run(chore) == [StakeStep.REFRESHED]
    assert tester_chain.chain.stake_of(tester_chain.staking, node) == 1000 * 10**6
    (cand,) = [n for n in await NodeRepository(db).candidates() if n.id == node]
    assert cand.stake == 1000 * 10**6
