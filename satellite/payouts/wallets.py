"""Wallet addresses as settlement accepts them: EIP-55, checked without loading web3."""

from __future__ import annotations

from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

__all__ = ["checksum_address"]


def checksum_address(address: object) -> str:
    """``address`` in EIP-55 form, or :class:`ValueError`. All-lower or all-upper hex carries no
    checksum and is accepted; mixed case must be a valid checksum (a typo is refused, not paid)."""
    if not isinstance(address, str) or not is_hex_address(address):
        raise ValueError(f"not an Ethereum address: {address!r}")
    body = address[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(address):
        raise ValueError(f"bad EIP-55 checksum in wallet address {address}")
    return to_checksum_address(address)
