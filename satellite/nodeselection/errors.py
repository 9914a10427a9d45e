"""The two ways placement fails: a policy that cannot exist, and a network that cannot satisfy one."""

from __future__ import annotations

from common.errors import GeoshardError

__all__ = ["PlacementError", "PolicyError"]


class PolicyError(GeoshardError, ValueError):
    """A placement policy is malformed: unknown country code or group, bad scheme, impossible counts."""


class PlacementError(GeoshardError):
    """Too few eligible nodes to place a segment under a policy.

    The message names the policy and what was missing, written for the person who reads it
    in a 503 from the gateway; ``policy`` and ``needed``/``available`` let a caller act on it.
    """

    def __init__(self, message: str, *, policy: str, needed: int, available: int) -> None:
        super().__init__(message)
        self.policy = policy
        self.needed = needed
        self.available = available
