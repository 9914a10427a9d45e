"""The Vyper contracts: committed bytecode is what the pinned compiler makes, and the payout and
staking contracts refuse what they must (on the in-process chain)."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from satellite.payouts import ChainReverted
from satellite.payouts.artifacts import COMPILED_DIR, CONTRACTS, EVM_VERSION, compile_source, render
from tests.payout_fixtures import tester_chain  # noqa: F401  (pytest fixture)


@pytest.mark.parametrize("name", CONTRACTS)
def test_committed_artifact_is_byte_for_byte_what_the_pinned_compiler_makes(name: str) -> None:
    committed = (COMPILED_DIR / f"{name}.json").read_text()
    assert render(compile_source(name)) == committed, f"recompile with: python -m satellite.payouts.artifacts ({name})"
    doc = json.loads(committed)
    assert doc["evm_version"] == EVM_VERSION == "shanghai"


def test_batch_payout_pays_every_payee_and_refuses_the_same_batch_twice(tester_chain) -> None:  # noqa: F811
    c, pc = tester_chain.chain, tester_chain
    payees = [Account.create().address for _ in range(3)]
    batch = b"\x07" * 32
    tx = c.sign_payout(pc.contract, pc.token, batch, payees, [10, 20, 30], c.nonce())
    c.send_raw(tx)
    assert c.receipt(tx.tx_hash).succeeded
    assert [c.token_balance(pc.token, p) for p in payees] == [10, 20, 30]
    assert c.batch_paid(pc.contract, batch)
    with pytest.raises(ChainReverted, match="batch already paid"):
        c.sign_payout(pc.contract, pc.token, batch, payees, [10, 20, 30], c.nonce())
    assert [c.token_balance(pc.token, p) for p in payees] == [10, 20, 30]


def test_batch_payout_refuses_mismatched_lists_zero_amounts_and_empty_batches(tester_chain) -> None:  # noqa: F811
    c, pc = tester_chain.chain, tester_chain
    a, b = Account.create().address, Account.create().address
    for payees, amounts, reason in (([a, b], [1], "differ in length"), ([a], [0], "zero amount"), ([], [], "empty")):
        with pytest.raises(ChainReverted, match=reason):
            c.sign_payout(pc.contract, pc.token, b"\x01" * 32, payees, amounts, c.nonce())
    assert not c.batch_paid(pc.contract, b"\x01" * 32)


def test_batch_payout_refuses_more_than_its_allowance(tester_chain) -> None:  # noqa: F811
    c, pc = tester_chain.chain, tester_chain
    c.approve(pc.token, pc.contract, 5)
    with pytest.raises(ChainReverted, match="allowance too low"):
        c.sign_payout(pc.contract, pc.token, b"\x02" * 32, [Account.create().address], [6], c.nonce())


def test_stake_from_a_wrong_address_is_refused_and_changes_nothing(tester_chain) -> None:  # noqa: F811
    c, pc = tester_chain.chain, tester_chain
    node_id = "ab" * 32
    owner, thief = Account.create(), Account.create()
    for acct in (owner, thief):
        c.fund(acct.address, 10**18)
        c.transfer(pc.token, acct.address, 1000)
        c.approve(pc.token, pc.staking, 1000, account=acct)
    with pytest.raises(ChainReverted, match="not registered"):
        c.stake(pc.staking, node_id, 100, owner)
    c.register_node(pc.staking, node_id, owner.address)
    with pytest.raises(ChainReverted, match="stake must come from the node's wallet"):
        c.stake(pc.staking, node_id, 100, thief)
    assert c.stake_of(pc.staking, node_id) == 0
    assert c.token_balance(pc.token, thief.address) == 1000
    c.stake(pc.staking, node_id, 100, owner)
    assert c.stake_of(pc.staking, node_id) == 100
    assert c.token_balance(pc.token, owner.address) == 900


def test_slash_moves_the_stake_into_the_reserve_fund_and_only_the_owner_slashes(tester_chain) -> None:  # noqa: F811
    c, pc = tester_chain.chain, tester_chain
    node_id = "cd" * 32
    op = Account.create()
    c.fund(op.address, 10**18)
    c.transfer(pc.token, op.address, 500)
    c.approve(pc.token, pc.staking, 500, account=op)
    c.register_node(pc.staking, node_id, op.address)
    c.stake(pc.staking, node_id, 500, op)
    fn = c._contract("Staking", pc.staking).functions.slash(bytes.fromhex(node_id))
    with pytest.raises(ChainReverted, match="only the owner slashes"):
        c.transact(fn, "slash", op)
    c.slash(pc.staking, node_id)
    assert c.stake_of(pc.staking, node_id) == 0
    assert c.token_balance(pc.token, pc.reserve) == 500
    with pytest.raises(ChainReverted, match="node was slashed"):
        c.stake(pc.staking, node_id, 1, op)


def test_withdraw_only_after_exit_and_the_unbonding_period(tester_chain) -> None:  # noqa: F811
    c, pc = tester_chain.chain, tester_chain
    node_id = "ef" * 32
    op = Account.create()
    c.fund(op.address, 10**18)
    c.transfer(pc.token, op.address, 300)
    c.approve(pc.token, pc.staking, 300, account=op)
    c.register_node(pc.staking, node_id, op.address)
    c.stake(pc.staking, node_id, 300, op)
    with pytest.raises(ChainReverted, match="exit not requested"):
        c.withdraw(pc.staking, node_id, op)
    c.request_exit(pc.staking, node_id, op)
    assert c.stake_of(pc.staking, node_id) == 0  # exiting: no longer counts for placement
    with pytest.raises(ChainReverted, match="still unbonding"):
        c.withdraw(pc.staking, node_id, op)
    tester = c.w3.provider.ethereum_tester
    tester.time_travel(c.w3.eth.get_block("latest")["timestamp"] + 101)
    c.withdraw(pc.staking, node_id, op)
    assert c.token_balance(pc.token, op.address) == 300


def test_the_in_process_chains_gas_estimate_runs_the_payout_and_is_close_to_py_evms_search(tester_chain) -> None:  # noqa: F811
    """satellite/payouts/gas.py: two executions instead of py-evm's binary search, a limit that works."""
    from eth.estimators.gas import binary_gas_search_intrinsic_tolerance

    from satellite.payouts.gas import estimate_gas

    c, pc = tester_chain.chain, tester_chain
    evm = c.w3.provider.ethereum_tester.backend.chain
    payees = [Account.create().address for _ in range(5)]
    fn = c.payout_call(pc.contract, pc.token, b"\x09" * 32, payees, [1, 2, 3, 4, 5])
    ours = c.estimate_payout_gas(pc.contract, pc.token, b"\x09" * 32, payees, [1, 2, 3, 4, 5])
    mine, evm.gas_estimator = evm.gas_estimator, binary_gas_search_intrinsic_tolerance
    try:
        searched = int(fn.estimate_gas({"from": c.address}))
    finally:
        evm.gas_estimator = mine
    assert mine is estimate_gas
    # Within py-evm's own tolerance below its search, and at most the 63/64 rule's margin above.
    assert searched - 21_000 <= ours <= searched * 64 // 63 + 1
    tx = c.sign_payout(pc.contract, pc.token, b"\x09" * 32, payees, [1, 2, 3, 4, 5], c.nonce())
    c.send_raw(tx)
    assert c.receipt(tx.tx_hash).succeeded and c.batch_paid(pc.contract, b"\x09" * 32)
