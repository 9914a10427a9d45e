"""The one module that speaks to the chain: a synchronous class over web3.py, and nothing else
in the code base imports web3.

:class:`Chain` wraps one signing account (the satellite's payer) on one chain. By default the
chain is an in-process Ethereum test chain (``web3[tester]``: eth-tester over py-evm), so a fresh
machine runs a paying network with nothing installed; in production it is any JSON-RPC URL and
a key file. Every failure of the chain — refused connection, timeout, an answer that is not what
the protocol says — leaves here as one typed error, :class:`ChainError`; a contract that reverts
is its subclass :class:`ChainReverted`, with the reason. The settlement worker catches the base
class and retries later; nothing it stored is changed by a failed call.

Calls block (web3's HTTP provider and py-evm are synchronous); the worker runs them through
``asyncio.to_thread``. One lock serialises them, because py-evm is not thread-safe and because
allocating nonces for our own transactions must not race.

Sending is built so that a crash between signing and broadcasting is harmless: the caller signs
(:meth:`Chain.sign_payout`), stores the raw transaction, its hash and nonce, and only then calls
:meth:`Chain.send_raw`, which may be called again with the same bytes any number of times. A
node that says "already known" or "nonce too low" for a transaction whose hash it knows has
our transaction: that is :attr:`SendOutcome.SENT`. "Nonce too low" for a hash it does not know
means another transaction of this account took the nonce: :attr:`SendOutcome.NONCE_TAKEN`.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TransactionNotFound

from .artifacts import load_artifact
from .errors import ChainError, ChainReverted
from .wallets import checksum_address

__all__ = [
    "Chain",
    "ChainError",
    "ChainReverted",
    "Deployment",
    "Receipt",
    "SendOutcome",
    "SignedTx",
    "load_key",
    "save_key",
]

T = TypeVar("T")
MAX_UINT256 = 2**256 - 1
DEFAULT_TIMEOUT = 10.0


class SendOutcome(StrEnum):
    SENT = "sent"  # the node has our transaction (now, or from an earlier send)
    NONCE_TAKEN = "nonce-taken"  # another transaction of this account used the nonce


@dataclass(frozen=True, slots=True)
class SignedTx:
    raw: bytes
    tx_hash: str  # 0x-prefixed, lower case
    nonce: int
    gas: int
    max_fee_per_gas: int


@dataclass(frozen=True, slots=True)
class Receipt:
    tx_hash: str
    succeeded: bool
    block_number: int
    gas_used: int
    effective_gas_price: int


@dataclass(frozen=True, slots=True)
class Deployment:
    """Where the contracts of one network live."""

    token: str
    payout: str
    staking: str = ""  # empty: the stake policy is off


def load_key(path: str | os.PathLike[str], password_env: str = "GEOSHARD_PAYOUT_KEY_PASSWORD") -> LocalAccount:
    """A private key file: 0x-prefixed hex on one line, or an encrypted JSON keystore whose
    password is in the environment variable ``password_env``."""
    text = Path(path).read_text().strip()
    try:
        if text.startswith("{"):
            password = os.environ.get(password_env)
            if password is None:
                raise ChainError(f"{path} is an encrypted keystore: set {password_env} to its password")
            return Account.from_key(Account.decrypt(text, password))
        return Account.from_key(text)
    except ChainError:
        raise
    except Exception as e:  # a malformed key must say which file, never the key
        raise ChainError(f"{path}: not a private key or keystore ({type(e).__name__})") from None


def save_key(path: str | os.PathLike[str], account: LocalAccount | None = None) -> LocalAccount:
    """Write ``account``'s key (a new one by default) as hex, mode 0600."""
    account = account or Account.create()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as f:
        f.write(account.key.hex() if account.key.hex().startswith("0x") else "0x" + account.key.hex())
        f.write("\n")
    return account


def node_key(node_id: str) -> bytes:
    """A node id (64 hex digits: its Ed25519 public key) as the contract's bytes32."""
    raw = bytes.fromhex(node_id)
    if len(raw) != 32:
        raise ValueError(f"node id must be 32 bytes of hex, got {len(raw)}")
    return raw


class Chain:
    """One account on one chain. Build with :meth:`in_process` or :meth:`connect`."""

    def __init__(
        self, w3: Web3, account: LocalAccount, *, gas_headroom: float = 1.25, in_process: bool = False
    ) -> None:
        if gas_headroom < 1.0:
            raise ValueError("gas_headroom must be at least 1.0")
        self.w3 = w3
        self.account = account
        self.address: str = account.address
        self.gas_headroom = Fraction(str(gas_headroom))
        self.in_process = in_process
        self._lock = threading.RLock()
        self._chain_id: int | None = None

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def in_process(cls, account: LocalAccount | None = None, *, fund_wei: int = 10**21, **kw: Any) -> Chain:
        """A fresh eth-tester chain in this process, ``account`` funded from its rich test account."""
        from web3 import EthereumTesterProvider

        from .gas import estimate_gas

        w3 = Web3(EthereumTesterProvider())
        w3.provider.ethereum_tester.backend.chain.gas_estimator = estimate_gas  # type: ignore[attr-defined]
        account = account or Account.create()
        chain = cls(w3, account, in_process=True, **kw)
        chain.fund(account.address, fund_wei)
        return chain

    @classmethod
    def connect(cls, url: str, key_path: str, *, timeout: float = DEFAULT_TIMEOUT, **kw: Any) -> Chain:
        """Any JSON-RPC endpoint over HTTP, signing with the key in ``key_path``."""
        # No retries inside web3: the settlement worker retries on its own schedule.
        provider = Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        w3 = Web3(provider)
        return cls(w3, load_key(key_path), **kw)

    def fund(self, address: str, wei: int) -> None:
        """In-process chains only: send native coin from the test chain's prefunded account."""
        if not self.in_process:
            raise ChainError("funding from a test account works on the in-process chain only")
        with self._lock:
            rich = self.w3.eth.accounts[0]
            tx = self.w3.eth.send_transaction({"from": rich, "to": to_checksum_address(address), "value": wei})
            self.w3.eth.wait_for_transaction_receipt(tx)

    # -- the guard ----------------------------------------------------------------------------

    def _guard(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` under the lock; any failure becomes a :class:`ChainError` naming ``what``."""
        with self._lock:
            try:
                return fn()
            except ChainError:
                raise
            except ContractLogicError as e:
                reason = str(e.message or e).removeprefix("execution reverted: ")
                raise ChainReverted(f"{what}: reverted: {reason}", reason) from None
            except Exception as e:  # connection refused, timeouts, JSON garbage, formatter errors
                if "execution reverted" in str(e):  # eth-tester's TransactionFailed
                    reason = str(e).split("execution reverted", 1)[1].lstrip(": ")
                    raise ChainReverted(f"{what}: reverted: {reason}", reason) from None
                raise ChainError(f"{what}: {type(e).__name__}: {e}"[:500]) from None

    @staticmethod
    def _int(value: Any, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ChainError(f"{what}: the chain answered {value!r}, not a non-negative integer")
        return value

    # -- reads --------------------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = self._int(self._guard("chain id", lambda: self.w3.eth.chain_id), "chain id")
        return self._chain_id

    def block_number(self) -> int:
        return self._int(self._guard("block number", lambda: self.w3.eth.block_number), "block number")

    def native_balance(self, address: str) -> int:
        return self._int(
            self._guard("balance", lambda: self.w3.eth.get_balance(to_checksum_address(address))), "balance"
        )

    def nonce(self, *, pending: bool = True) -> int:
        """The payer's next nonce (``pending`` counts transactions the node holds unmined)."""
        tag = "pending" if pending else "latest"
        return self._int(self._guard("nonce", lambda: self.w3.eth.get_transaction_count(self.address, tag)), "nonce")

    def has_code(self, address: str) -> bool:
        return bool(self._guard("code", lambda: self.w3.eth.get_code(to_checksum_address(address))))

    def _contract(self, name: str, address: str) -> Any:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(name).abi)

    def token_decimals(self, token: str) -> int:
        value = self._guard("decimals", lambda: self._contract("TestToken", token).functions.decimals().call())
        if not isinstance(value, int) or not 0 <= value <= 77:
            raise ChainError(f"decimals: the token answered {value!r}")
        return value

    def token_balance(self, token: str, address: str) -> int:
        c = self._contract("TestToken", token)
        return self._int(
            self._guard("token balance", lambda: c.functions.balanceOf(to_checksum_address(address)).call()),
            "token balance",
        )

    def allowance(self, token: str, owner: str, spender: str) -> int:
        c = self._contract("TestToken", token)
        fn = c.functions.allowance(to_checksum_address(owner), to_checksum_address(spender))
        return self._int(self._guard("allowance", fn.call), "allowance")

    def batch_paid(self, payout: str, batch_id: bytes) -> bool:
        """Has the payout contract recorded ``batch_id`` as paid by our payer? (``latest`` block)"""
        c = self._contract("BatchPayout", payout)
        value = self._guard("batch paid", c.functions.paid(self.address, batch_id).call)
        if not isinstance(value, bool):
            raise ChainError(f"batch paid: the contract answered {value!r}")
        return value

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt of a mined transaction, or ``None`` while it is pending or unknown."""

        def get() -> Receipt | None:
            try:
                r = self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
            except TransactionNotFound:
                return None
            if r is None:
                return None
            return Receipt(
                tx_hash=tx_hash,
                succeeded=int(r["status"]) == 1,
                block_number=int(r["blockNumber"]),
                gas_used=int(r["gasUsed"]),
                effective_gas_price=int(r.get("effectiveGasPrice", 0) or 0),
            )

        return self._guard("receipt", get)

    def knows(self, tx_hash: str) -> bool:
        """Does the node have this transaction, mined or pending?"""

        def get() -> bool:
            try:
                return self.w3.eth.get_transaction(tx_hash) is not None  # type: ignore[arg-type]
            except TransactionNotFound:
                return False

        return self._guard("transaction", get)

    def fees(self) -> tuple[int, int]:
        """(max fee per gas, priority fee) for an EIP-1559 transaction: twice the base fee plus tip."""

        def get() -> tuple[int, int]:
            base = self.w3.eth.get_block("latest").get("baseFeePerGas")
            tip = self.w3.eth.max_priority_fee
            return int(base or 0) * 2 + int(tip), int(tip)

        fee, tip = self._guard("fees", get)
        return self._int(fee, "max fee"), self._int(tip, "priority fee")

    def stake_of(self, staking: str, node_id: str) -> int:
        """The node's stake that counts for placement (zero once exiting or slashed)."""
        c = self._contract("Staking", staking)
        return self._int(self._guard("stake", c.functions.active_stake(node_key(node_id)).call), "stake")

    def bonded_stake(self, staking: str, node_id: str) -> int:
        """All the stake held for the node, exiting or not (what a slash takes)."""
        c = self._contract("Staking", staking)
        return self._int(self._guard("stake", c.functions.stake_of(node_key(node_id)).call), "stake")

    def exit_requested_at(self, staking: str, node_id: str) -> int:
        """When the node asked to exit (block time, seconds), 0 if it has not: unbonding runs from there."""
        c = self._contract("Staking", staking)
        return self._int(self._guard("exit", c.functions.exit_requested_at(node_key(node_id)).call), "exit time")

    def unbonding_period(self, staking: str) -> int:
        c = self._contract("Staking", staking)
        return self._int(self._guard("unbonding period", c.functions.unbonding_period().call), "unbonding period")

    def staked_wallet(self, staking: str, node_id: str) -> str:
        c = self._contract("Staking", staking)
        value = self._guard("stake wallet", c.functions.wallet_of(node_key(node_id)).call)
        return str(value)

    # -- transactions we sign -----------------------------------------------------------------

    def _sign(self, tx: dict[str, Any], account: LocalAccount) -> SignedTx:
        signed = account.sign_transaction(tx)
        tx_hash = signed.hash.hex()
        return SignedTx(
            raw=bytes(signed.raw_transaction),
            tx_hash=tx_hash if tx_hash.startswith("0x") else "0x" + tx_hash,
            nonce=int(tx["nonce"]),
            gas=int(tx["gas"]),
            max_fee_per_gas=int(tx["maxFeePerGas"]),
        )

    def _with_headroom(self, gas: int) -> int:
        return int(gas * self.gas_headroom) + 1

    def _build(self, fn: Any, nonce: int, account: LocalAccount, what: str) -> SignedTx:
        def build() -> SignedTx:
            base = self.w3.eth.get_block("latest").get("baseFeePerGas")
            tip = int(self.w3.eth.max_priority_fee)
            # Estimated without the nonce: a test chain refuses to estimate a nonce it is not at yet.
            gas = int(fn.estimate_gas({"from": account.address}))
            params: dict[str, Any] = {"from": account.address, "nonce": nonce, "chainId": self.chain_id}
            params.update(gas=self._with_headroom(gas), maxFeePerGas=int(base or 0) * 2 + tip, maxPriorityFeePerGas=tip)
            return self._sign(fn.build_transaction(params), account)

        return self._guard(what, build)

    def payout_call(
        self, payout: str, token: str, batch_id: bytes, payees: Sequence[str], amounts: Sequence[int]
    ) -> Any:
        c = self._contract("BatchPayout", payout)
        return c.functions.pay(
            to_checksum_address(token), batch_id, [to_checksum_address(p) for p in payees], list(amounts)
        )

    def estimate_payout_gas(
        self, payout: str, token: str, batch_id: bytes, payees: Sequence[str], amounts: Sequence[int]
    ) -> int:
        fn = self.payout_call(payout, token, batch_id, payees, amounts)
        return self._int(self._guard("estimate gas", lambda: fn.estimate_gas({"from": self.address})), "gas")

    def sign_payout(
        self, payout: str, token: str, batch_id: bytes, payees: Sequence[str], amounts: Sequence[int], nonce: int
    ) -> SignedTx:
        """One batch payout, gas estimated with headroom, signed with ``nonce``; nothing is sent."""
        fn = self.payout_call(payout, token, batch_id, payees, amounts)
        return self._build(fn, nonce, self.account, "sign payout")

    def send_raw(self, tx: SignedTx) -> SendOutcome:
        """Broadcast ``tx``; safe to repeat with the same bytes (see the module doc)."""
        with self._lock:
            try:
                self._guard("send", lambda: self.w3.eth.send_raw_transaction(tx.raw))
                return SendOutcome.SENT
            except ChainError as e:
                error = e
            # Refused: find out whether the node has it already (what "already known" means).
            if self.knows(tx.tx_hash):
                return SendOutcome.SENT
            if self.nonce(pending=False) > tx.nonce or "nonce too low" in str(error).lower():
                return SendOutcome.NONCE_TAKEN
            raise error

    def transact(self, fn: Any, what: str, account: LocalAccount | None = None, *, wait: float = 60.0) -> Receipt:
        """Sign with the next pending nonce, send, wait for the receipt; :class:`ChainReverted`
        if it fails. For setup and admin transactions (deploy, approve, register, slash), not for
        payouts, whose nonces the settlement worker stores."""
        account = account or self.account
        with self._lock:
            nonce = self._int(
                self._guard("nonce", lambda: self.w3.eth.get_transaction_count(account.address, "pending")), "nonce"
            )
            tx = self._build(fn, nonce, account, what)
            self._guard(what, lambda: self.w3.eth.send_raw_transaction(tx.raw))
            r = self._guard(what, lambda: self.w3.eth.wait_for_transaction_receipt(tx.tx_hash, timeout=wait))  # type: ignore[arg-type]
            if int(r["status"]) != 1:
                raise ChainReverted(f"{what}: transaction {tx.tx_hash} reverted")
            gas_price = int(r.get("effectiveGasPrice", 0))
            return Receipt(tx.tx_hash, True, int(r["blockNumber"]), int(r["gasUsed"]), gas_price)

    def deploy(self, name: str, *args: Any) -> str:
        """Deploy a compiled contract from the payer; its address."""
        art = load_artifact(name)
        factory = self.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        receipt = self.transact(factory.constructor(*args), f"deploy {name}")
        address = self._guard(
            f"deploy {name}",
            lambda: self.w3.eth.get_transaction_receipt(receipt.tx_hash)["contractAddress"],  # type: ignore[arg-type]
        )
        return to_checksum_address(address)

    def approve(self, token: str, spender: str, amount: int = MAX_UINT256, account: LocalAccount | None = None) -> None:
        fn = self._contract("TestToken", token).functions.approve(to_checksum_address(spender), amount)
        self.transact(fn, "approve", account)

    def mint(self, token: str, to: str, amount: int) -> None:
        self.transact(self._contract("TestToken", token).functions.mint(to_checksum_address(to), amount), "mint")

    def transfer(self, token: str, to: str, amount: int, account: LocalAccount | None = None) -> Receipt:
        fn = self._contract("TestToken", token).functions.transfer(to_checksum_address(to), amount)
        return self.transact(fn, "transfer", account)

    def register_node(self, staking: str, node_id: str, wallet: str) -> None:
        fn = self._contract("Staking", staking).functions.register(node_key(node_id), to_checksum_address(wallet))
        self.transact(fn, "register node")

    def stake(self, staking: str, node_id: str, amount: int, account: LocalAccount) -> None:
        """Post stake for ``node_id`` from ``account`` (the node operator's wallet)."""
        fn = self._contract("Staking", staking).functions.stake(node_key(node_id), amount)
        self.transact(fn, "stake", account)

    def slash(self, staking: str, node_id: str) -> Receipt:
        return self.transact(self._contract("Staking", staking).functions.slash(node_key(node_id)), "slash")

    def request_exit(self, staking: str, node_id: str, account: LocalAccount | None = None) -> None:
        fn = self._contract("Staking", staking).functions.request_exit(node_key(node_id))
        self.transact(fn, "request exit", account)

    def withdraw(self, staking: str, node_id: str, account: LocalAccount) -> None:
        self.transact(self._contract("Staking", staking).functions.withdraw(node_key(node_id)), "withdraw", account)

    def deploy_devnet(
        self,
        *,
        decimals: int = 6,
        supply: int | None = None,
        staking: bool = False,
        reserve: str = "",
        unbonding: int = 60,
    ) -> Deployment:
        """A test token (``supply`` base units, a billion tokens by default, minted to the payer),
        the payout contract with an unlimited allowance from the payer, and (``staking``) the
        staking contract."""
        token = self.deploy("TestToken", "Geoshard Test Token", "GST", decimals)
        self.mint(token, self.address, 10**9 * 10**decimals if supply is None else supply)
        payout = self.deploy("BatchPayout")
        self.approve(token, payout)
        staking_address = self.deploy("Staking", token, checksum_address(reserve), unbonding) if staking else ""
        return Deployment(token=token, payout=payout, staking=staking_address)
