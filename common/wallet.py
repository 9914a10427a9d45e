"""Payout wallets: an Ethereum address in EIP-55 checksum form, checked the same way everywhere.

A node names its wallet at ``geoshard node init`` and in every check-in; the satellite pays
that address. A mistyped address would pay a stranger, so an address must carry its EIP-55
checksum (mixed case): a single wrong character then fails the check instead of being paid.
"""

from __future__ import annotations

import re

__all__ = ["wallet_problem"]

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def wallet_problem(wallet: str) -> str | None:
    """None for a valid EIP-55 address, else what is wrong with it, in words an operator can act on."""
    from eth_utils import is_checksum_address, to_checksum_address

    if not isinstance(wallet, str) or not _ADDRESS.fullmatch(wallet):
        return f"wallet {wallet!r} is not an Ethereum address (0x followed by 40 hex digits)"
    if is_checksum_address(wallet):
        return None
    if wallet[2:] in (wallet[2:].lower(), wallet[2:].upper()):
        return (
            f"wallet {wallet} has no EIP-55 checksum (all one case), so a typo could not be "
            "caught; copy the mixed-case address exactly as your wallet shows it "
            f"(for this address that is {to_checksum_address(wallet)} — check it is yours)"
        )
    return (
        f"wallet {wallet} fails its EIP-55 checksum: a character is probably mistyped; "
        "copy the address again from your wallet"
    )
