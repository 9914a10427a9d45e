"""Settlement's configuration and the chain it settles on: the in-process test chain with freshly
deployed contracts (devnet, tests), or a JSON-RPC endpoint with contracts deployed beforehand."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .errors import ChainError

__all__ = ["MAX_BATCH", "PayoutChain", "SettlementConfig", "open_chain"]

MAX_BATCH = 200  # the payout contract's MAX_PAYEES


@dataclass(frozen=True)
class SettlementConfig:
    """Production defaults; ``from_satellite`` reads the ``payout_*``/``stake_*`` keys."""

    chain_url: str = ""  # empty: the in-process test chain
    key_path: str = "payout.key"
    token: str = ""
    contract: str = ""
    confirmations: int = 12
    batch_size: int = MAX_BATCH
    gas_headroom: float = 1.25
    interval: float = 30.0
    retry_delay: float = 300.0
    rebroadcast_after: float = 120.0
    gas_per_payee: int = 35_000
    native_price: float = 0.0
    max_fee_share: float = 0.25
    stake_required: bool = False
    stake_minimum: int = 1
    stake_contract: str = ""
    stake_reserve: str = ""
    stake_unbonding: int = 30 * 86400
    stake_refresh_interval: float = 300.0
    # The decimals accounting prices in (accounting.token_decimals): a token with others would be
    # paid 10**difference times too much or too little, so settlement refuses to pay it; None: unchecked.
    token_decimals: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError(f"payout_batch_size must be between 1 and {MAX_BATCH}, not {self.batch_size}")
        if self.confirmations < 1:
            raise ValueError("payout_confirmations must be at least 1 (the receipt's own block)")
        if self.gas_headroom < 1.0:
            raise ValueError("payout_gas_headroom must be at least 1.0")
        if self.native_price < 0 or self.gas_per_payee < 0:
            raise ValueError("payout_native_price and payout_gas_per_payee must not be negative")
        if not 0 < self.max_fee_share <= 1:
            raise ValueError("payout_max_fee_share must be in (0, 1]")
        if min(self.interval, self.retry_delay, self.rebroadcast_after, self.stake_refresh_interval) <= 0:
            raise ValueError("payout intervals and delays must be positive")
        if self.chain_url and not (self.token and self.contract):
            raise ValueError("payout_chain_url needs payout_token and payout_contract (deployed contract addresses)")
        if self.chain_url and self.stake_required and not self.stake_contract:
            raise ValueError("stake_required on a JSON-RPC chain needs stake_contract")

    @classmethod
    def from_satellite(cls, config: Any) -> SettlementConfig:
        return cls(
            chain_url=config.payout_chain_url,
            key_path=config.resolved_payout_key_path,
            token=config.payout_token,
            contract=config.payout_contract,
            confirmations=config.payout_confirmations,
            batch_size=config.payout_batch_size,
            gas_headroom=config.payout_gas_headroom,
            interval=config.payout_interval,
            retry_delay=config.payout_retry_delay,
            rebroadcast_after=config.payout_rebroadcast_after,
            gas_per_payee=config.payout_gas_per_payee,
            native_price=config.payout_native_price,
            max_fee_share=config.payout_max_fee_share,
            stake_required=config.stake_required,
            stake_minimum=config.stake_minimum,
            stake_contract=config.stake_contract,
            stake_reserve=config.stake_reserve,
            stake_unbonding=config.stake_unbonding,
            stake_refresh_interval=config.stake_refresh_interval,
            # satellite.accounting.config's key and default (payouts sits below accounting: no import)
            token_decimals=int((config.accounting or {}).get("token_decimals", 18)),
        )


@dataclass
class PayoutChain:
    """The chain settlement talks to, and where its contracts are."""

    chain: Any  # satellite.payouts.chain.Chain (typed loosely so this module never loads web3)
    token: str
    contract: str
    staking: str
    decimals: int


def open_chain(config: SettlementConfig) -> PayoutChain:
    """Connect (blocking). On the in-process chain, deploy the test token (with accounting's
    decimals, a billion tokens minted to the payer),
    the payout contract with the payer's allowance and, if stake is required, the staking
    contract; its addresses are the same every time, the chain's history is not kept."""
    from .chain import Chain, Deployment, load_key, save_key

    if config.chain_url:
        chain = Chain.connect(config.chain_url, config.key_path, gas_headroom=config.gas_headroom)
        deployment = Deployment(config.token, config.contract, config.stake_contract if config.stake_required else "")
        for what, address in (("token", deployment.token), ("payout contract", deployment.payout),
                              ("staking contract", deployment.staking)):  # fmt: skip
            if address and not chain.has_code(address):
                raise ChainError(f"no contract at the configured {what} address {address} on {config.chain_url}")
    else:
        account = load_key(config.key_path) if os.path.exists(config.key_path) else save_key(config.key_path)
        chain = Chain.in_process(account, gas_headroom=config.gas_headroom)
        reserve = config.stake_reserve or "0x000000000000000000000000000000000000dEaD"
        deployment = chain.deploy_devnet(
            decimals=6 if config.token_decimals is None else config.token_decimals,
            staking=config.stake_required,
            reserve=reserve,
            unbonding=config.stake_unbonding,
        )
    return PayoutChain(
        chain=chain,
        token=deployment.token,
        contract=deployment.payout,
        staking=deployment.staking,
        decimals=chain.token_decimals(deployment.token),
    )
