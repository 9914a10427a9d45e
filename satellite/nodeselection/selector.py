"""Choosing nodes for a segment's pieces among those the filters let through.

The rules, from Storj's selector and the design card:

* only nodes in the policy and eligible now (see ``filter``) are considered, minus the
  nodes and /24 networks the caller excludes (repair passes those already holding pieces);
* at most one node per /24 network, so one operator's rack or one hosting provider's
  subnet cannot hold enough pieces to lose a segment; per node follows from it;
* unvetted nodes may take at most ``round(count × new_node_fraction)`` pieces, the rest
  go to vetted nodes: a new node earns trust (audits) before it holds much data, but still
  gets some, or it could never be vetted;
* among the rest, nodes are drawn at random weighted by free space, so the network fills
  evenly instead of the emptiest node taking everything;
* the chosen nodes (with the countries of pieces the segment already has) span at least
  the policy's ``min_countries`` countries.

Weighted sampling without replacement is done in one pass with exponential keys
(Efraimidis–Spirakis): each node draws ``Exp(free_bytes)`` and nodes are visited in key
order. Skipping a node whose /24 is already taken keeps the draw exact, because an
exponential race is memoryless: the nodes still waiting at any point win next in
proportion to their weights. Countries are reached first (the first nodes in key order
from countries not yet used), then unvetted nodes up to their quota, then vetted ones.

If the choice falls short, nothing is returned: :class:`PlacementError` says which policy,
how many nodes were needed and why the others were turned away.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence

from .errors import PlacementError
from .filter import NodeCandidate, SelectionConfig, in_policy, is_eligible
from .policy import PlacementPolicy

__all__ = ["new_node_quota", "select_nodes"]

_HELD = "already holding a piece of this segment"
_SAME_NET = "in a /24 already used"


def new_node_quota(count: int, new_node_fraction: float) -> int:
    """How many of ``count`` pieces may go to unvetted nodes: the fraction, rounded half up.

    Rounding (not ceiling) keeps Storj's 1% from putting one piece in ten on an unvetted
    node in a small 4/6/8/10 scheme, while a devnet's larger fraction still gives new
    nodes work.
    """
    return min(count, math.floor(count * new_node_fraction + 0.5))


def select_nodes(
    candidates: Iterable[NodeCandidate],
    policy: PlacementPolicy,
    count: int,
    *,
    exclude_node_ids: Iterable[str] = (),
    exclude_nets: Iterable[str] = (),
    existing_countries: Iterable[str] = (),
    now: float,
    config: SelectionConfig,
    rng: random.Random,
) -> list[NodeCandidate]:
    """Pick ``count`` nodes for new pieces under ``policy``, or raise :class:`PlacementError`.

    ``existing_countries`` are the countries of pieces the segment keeps (repair): they
    count towards ``min_countries``. The result is in draw order, each node once, each
    /24 once and none in ``exclude_nets``.
    """
    if count < 0:
        raise ValueError("count must not be negative")
    if count == 0:
        return []
    held, used_nets = set(exclude_node_ids), set(exclude_nets)
    rejected: Counter[str] = Counter()
    outside = 0
    seen: set[str] = set()
    usable: list[NodeCandidate] = []
    for node in candidates:
        if node.id in seen:  # a node listed twice is still one node
            continue
        seen.add(node.id)
        if not in_policy(node, policy):
            outside += 1
        elif node.id in held:
            rejected[_HELD] += 1
        elif (reason := is_eligible(node, now, config)) is not None:
            rejected[reason.value] += 1
        elif node.net in used_nets:
            rejected[_SAME_NET] += 1
        else:
            usable.append(node)

    # Nodes with no free space still count as candidates when min_free_bytes is 0; give them
    # a tiny weight rather than dividing by zero.
    keys = {node.id: rng.expovariate(max(node.free_bytes, 1)) for node in usable}
    order = sorted(usable, key=lambda n: keys[n.id])
    eligible = len({n.net for n in usable})
    rejected[_SAME_NET] += len(usable) - eligible

    def fail(what: str) -> PlacementError:
        reasons = [f"{n} {why}" for why, n in rejected.most_common() if n]
        detail = f" ({', '.join(reasons)})" if reasons else ""
        others = f"; {outside} other nodes are outside the policy" if outside else ""
        return PlacementError(
            f"policy {policy.name!r} needs {count} nodes {policy.describe_location()}; "
            f"{what}{detail}{others}",
            policy=policy.name,
            needed=count,
            available=eligible,
        )

    if eligible < count:
        raise fail(f"{eligible} eligible")

    quota = new_node_quota(count, config.new_node_fraction)
    countries = {c.upper() for c in existing_countries}
    # The draw can spend the unvetted share on nodes in /24s that vetted nodes also need,
    # leaving too few nets for the rest. If so, draw again with unvetted nodes limited to
    # nets no vetted node is in: that draw succeeds whenever any choice can.
    vetted_nets = frozenset(n.net for n in usable if n.vetted)
    for blocked in (frozenset[str](), vetted_nets):
        chosen = _draw(order, count, quota, used_nets, blocked, countries, policy.min_countries)
        if len(chosen) == count:
            break
    if len(chosen) < count:
        vetted = len({n.net for n in usable if n.vetted})
        raise fail(
            f"{eligible} eligible but only {vetted} vetted, and unvetted nodes may take "
            f"at most {quota} of {count} pieces (new_node_fraction {config.new_node_fraction:g})"
        )
    reached = countries | {n.country.upper() for n in chosen}
    if len(reached) < policy.min_countries:
        available = sorted({n.country.upper() for n in usable} | countries)
        if len(available) < policy.min_countries:
            what = f"eligible nodes are in only {len(available)} ({', '.join(available) or 'none'})"
        else:  # enough countries exist, but their nodes share /24s with the ones drawn
            what = f"{count} new pieces could reach only {len(reached)} ({', '.join(sorted(reached))})"
        raise PlacementError(
            f"policy {policy.name!r} needs nodes in at least {policy.min_countries} countries "
            f"{policy.describe_location()}; {what}",
            policy=policy.name,
            needed=policy.min_countries,
            available=len(reached),
        )
    return chosen


def _draw(
    order: Sequence[NodeCandidate],
    count: int,
    new_slots: int,
    excluded_nets: set[str],
    blocked_for_unvetted: frozenset[str],
    countries: set[str],
    min_countries: int,
) -> list[NodeCandidate]:
    """One greedy pass over nodes in key order; may return fewer than ``count``."""
    chosen: list[NodeCandidate] = []
    nets = set(excluded_nets)
    reached = set(countries)
    new_used = 0

    def take(node: NodeCandidate) -> None:
        nonlocal new_used
        chosen.append(node)
        nets.add(node.net)
        reached.add(node.country.upper())
        new_used += not node.vetted

    def free(node: NodeCandidate) -> bool:
        if node.net in nets:
            return False
        return node.vetted or (new_used < new_slots and node.net not in blocked_for_unvetted)

    for node in order:  # spread: the first node of each country not yet reached
        if len(reached) >= min_countries or len(chosen) == count:
            break
        if node.country.upper() not in reached and free(node):
            take(node)
    for node in order:  # unvetted nodes, up to their share
        if new_used >= new_slots or len(chosen) == count:
            break
        if not node.vetted and free(node):
            take(node)
    for node in order:
        if len(chosen) == count:
            break
        if node.vetted and free(node):
            take(node)
    return chosen
