# pragma version 0.4.3
# pragma evm-version shanghai
"""
@title Geoshard node staking
@license Apache-2.0
@notice A storage node's stake, in one ERC-20. The satellite (owner) registers the wallet of
        each node id; only that wallet may post stake for the node. On disqualification the
        owner slashes the whole stake into the reserve fund. A node leaves by asking to exit
        (its wallet, or the owner after a completed graceful exit) and withdraws to its wallet
        once the unbonding period has passed; it can still be slashed until then.
"""

interface ERC20:
    def transfer(_to: address, _value: uint256) -> bool: nonpayable
    def transferFrom(_from: address, _to: address, _value: uint256) -> bool: nonpayable

event Registered:
    node: indexed(bytes32)
    wallet: indexed(address)

event Staked:
    node: indexed(bytes32)
    wallet: indexed(address)
    amount: uint256
    total: uint256

event ExitRequested:
    node: indexed(bytes32)
    withdrawable_at: uint256

event Slashed:
    node: indexed(bytes32)
    amount: uint256
    reserve: address

event Withdrawn:
    node: indexed(bytes32)
    wallet: indexed(address)
    amount: uint256

owner: public(address)
token: public(address)
reserve: public(address)
unbonding_period: public(uint256)
wallet_of: public(HashMap[bytes32, address])
stake_of: public(HashMap[bytes32, uint256])
exit_requested_at: public(HashMap[bytes32, uint256])
slashed: public(HashMap[bytes32, bool])


@deploy
def __init__(_token: address, _reserve: address, _unbonding_period: uint256):
    assert _token != empty(address), "token is the zero address"
    assert _reserve != empty(address), "reserve is the zero address"
    self.owner = msg.sender
    self.token = _token
    self.reserve = _reserve
    self.unbonding_period = _unbonding_period


@external
def register(node: bytes32, wallet: address):
    assert msg.sender == self.owner, "only the owner registers nodes"
    assert wallet != empty(address), "wallet is the zero address"
    assert self.stake_of[node] == 0, "node has stake: its wallet cannot change"
    self.wallet_of[node] = wallet
    log Registered(node=node, wallet=wallet)


@external
def stake(node: bytes32, amount: uint256):
    assert amount > 0, "zero stake"
    assert self.wallet_of[node] != empty(address), "node not registered"
    assert msg.sender == self.wallet_of[node], "stake must come from the node's wallet"
    assert not self.slashed[node], "node was slashed"
    assert self.exit_requested_at[node] == 0, "node is exiting"
    self.stake_of[node] += amount
    assert extcall ERC20(self.token).transferFrom(msg.sender, self, amount, default_return_value=True), "transfer failed"
    log Staked(node=node, wallet=msg.sender, amount=amount, total=self.stake_of[node])


@view
@external
def active_stake(node: bytes32) -> uint256:
    """The stake that counts for placement: none once the node asked to exit or was slashed."""
    if self.exit_requested_at[node] != 0 or self.slashed[node]:
        return 0
    return self.stake_of[node]


@external
def request_exit(node: bytes32):
    assert msg.sender == self.wallet_of[node] or msg.sender == self.owner, "only the node's wallet or the owner"
    assert self.exit_requested_at[node] == 0, "exit already requested"
    self.exit_requested_at[node] = block.timestamp
    log ExitRequested(node=node, withdrawable_at=block.timestamp + self.unbonding_period)


@external
def slash(node: bytes32):
    assert msg.sender == self.owner, "only the owner slashes"
    amount: uint256 = self.stake_of[node]
    self.slashed[node] = True
    self.stake_of[node] = 0
    if amount > 0:
        assert extcall ERC20(self.token).transfer(self.reserve, amount, default_return_value=True), "transfer failed"
    log Slashed(node=node, amount=amount, reserve=self.reserve)


@external
def withdraw(node: bytes32):
    wallet: address = self.wallet_of[node]
    assert msg.sender == wallet, "only the node's wallet withdraws"
    requested: uint256 = self.exit_requested_at[node]
    assert requested != 0, "exit not requested"
    assert block.timestamp >= requested + self.unbonding_period, "still unbonding"
    amount: uint256 = self.stake_of[node]
    assert amount > 0, "nothing to withdraw"
    self.stake_of[node] = 0
    assert extcall ERC20(self.token).transfer(wallet, amount, default_return_value=True), "transfer failed"
    log Withdrawn(node=node, wallet=wallet, amount=amount)
