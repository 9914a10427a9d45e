"""What may hold a piece at all: the policy filter and the eligibility filter.

Two questions are kept apart because their answers mean different things to an admin.
:func:`in_policy` is about the law (may this bucket's data live on that node?) and is the
one the compliance report and the repair checker ask of pieces already stored.
:func:`is_eligible` is about the node's health today (online, in good standing, room to
spare) and only matters when choosing where to put new pieces.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .policy import PlacementPolicy

__all__ = ["Ineligible", "NodeCandidate", "SelectionConfig", "in_policy", "is_eligible", "location_in_policy"]


@dataclass(frozen=True, slots=True)
class NodeCandidate:
    """A storage node as placement sees it: a snapshot made by the overlay, no database handle."""

    id: str
    address: str
    country: str  # ISO 3166-1 alpha-2, after any admin override
    region: str
    net: str  # the node's /24 (IPv4) as text, e.g. "127.0.0"; derived by the overlay
    free_bytes: int
    vetted: bool
    last_contact: float  # unix seconds
    disqualified: bool = False
    suspended: bool = False
    contained: bool = False  # an audit is pending against it: give it no new work
    exiting: bool = False
    geoip_excluded: bool = False
    stake: int = 0  # active stake on chain, token base units, as last cached (satellite/payouts)


class Ineligible(StrEnum):
    """Why a node may not take a new piece; the value is the phrase used in error messages."""

    DISQUALIFIED = "disqualified"
    SUSPENDED = "suspended"
    EXITING = "exiting"
    UNSTAKED = "without the required stake"
    CONTAINED = "in audit containment"
    GEOIP = "failing the GeoIP check"
    OFFLINE = "offline"
    LOW_SPACE = "with too little free space"


@dataclass(frozen=True, slots=True)
class SelectionConfig:
    """Placement knobs. Defaults are production's (Storj's); tests and devnet pass their own."""

    online_window: float = 4 * 3600.0  # seconds since last check-in for a node to count as online
    new_node_fraction: float = 0.01  # share of a segment's pieces that may go to unvetted nodes
    min_free_bytes: int = 5 * 1024**3
    require_stake: bool = False  # the network's stake policy: only staked nodes take new pieces
    min_stake: int = 1  # token base units of active stake that count, when stake is required

    def __post_init__(self) -> None:
        if self.online_window <= 0:
            raise ValueError("online_window must be positive")
        if not 0.0 <= self.new_node_fraction <= 1.0:
            raise ValueError("new_node_fraction must be between 0 and 1")
        if self.min_free_bytes < 0:
            raise ValueError("min_free_bytes must not be negative")
        if self.min_stake < 1:
            raise ValueError("min_stake must be at least 1 token base unit")


def in_policy(node: NodeCandidate, policy: PlacementPolicy) -> bool:
    """May data under ``policy`` live on ``node``? Depends on location only, never on health."""
    return location_in_policy(node.country, node.region, policy)


def location_in_policy(country: str, region: str, policy: PlacementPolicy) -> bool:
    """May data under ``policy`` be stored at ``(country, region)``? The one rule for nodes and
    for the satellite's own database (inline segments): an unknown (empty) location is in no
    restricted policy, only in one that restricts nothing."""
    country = country.upper()
    if not country:  # could be anywhere, an excluded country included
        return not (policy.excluded_countries or policy.allowed_countries or policy.allowed_regions)
    if country in policy.excluded_countries:
        return False
    if policy.allowed_countries and country not in policy.allowed_countries:
        return False
    return not policy.allowed_regions or region.lower() in policy.allowed_regions


def is_eligible(node: NodeCandidate, now: float, config: SelectionConfig) -> Ineligible | None:
    """``None`` when ``node`` may take a new piece now, else the first reason it may not.

    Reasons are checked from the most permanent to the most passing, so a node that is both
    disqualified and offline is reported as disqualified: that is what an admin must act on.
    """
    if node.disqualified:
        return Ineligible.DISQUALIFIED
    if node.suspended:
        return Ineligible.SUSPENDED
    if node.exiting:
        return Ineligible.EXITING
    if config.require_stake and node.stake < config.min_stake:
        return Ineligible.UNSTAKED
    if node.geoip_excluded:
        return Ineligible.GEOIP
    if node.contained:
        return Ineligible.CONTAINED
    if now - node.last_contact > config.online_window:
        return Ineligible.OFFLINE
    if node.free_bytes < config.min_free_bytes:
        return Ineligible.LOW_SPACE
    return None
