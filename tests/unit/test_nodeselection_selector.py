"""select_nodes: uniqueness, vetting share, weighting by free space, countries, error messages."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import Counter

import pytest

from common.errors import GeoshardError
from erasure.scheme import RedundancyScheme
from satellite.nodeselection import (
    NodeCandidate,
    PlacementError,
    PlacementPolicy,
    SelectionConfig,
    new_node_quota,
    select_nodes,
)

NOW = 1_700_000_000.0
CONFIG = SelectionConfig(online_window=3600, new_node_fraction=0.2, min_free_bytes=1000)
ANYWHERE = PlacementPolicy("any", RedundancyScheme(4, 6, 8, 10))
GB = 10**9


def mk(i: int, **changes: object) -> NodeCandidate:
    base = NodeCandidate(
        id=f"node{i}", address=f"10.0.{i}.1:7777", country="DE", region="eu-central",
        net=f"10.0.{i}", free_bytes=GB, vetted=True, last_contact=NOW - 5,
    )
    return dataclasses.replace(base, **changes)


def select(nodes: list[NodeCandidate], count: int, policy: PlacementPolicy = ANYWHERE,
           seed: int = 0, config: SelectionConfig = CONFIG, **kw: object) -> list[NodeCandidate]:
    return select_nodes(nodes, policy, count, now=NOW, config=config, rng=random.Random(seed), **kw)


def test_returns_count_distinct_nodes_and_nets() -> None:
    nodes = [mk(i) for i in range(30)]
    for seed in range(20):
        chosen = select(nodes, 10, seed=seed)
        assert len(chosen) == 10
        assert len({n.id for n in chosen}) == 10
        assert len({n.net for n in chosen}) == 10


def test_same_seed_same_choice_and_seeds_differ() -> None:
    nodes = [mk(i) for i in range(30)]
    assert select(nodes, 10, seed=7) == select(nodes, 10, seed=7)
    assert len({tuple(n.id for n in select(nodes, 10, seed=s)) for s in range(10)}) > 1


def test_zero_and_negative_count() -> None:
    assert select([], 0) == []
    with pytest.raises(ValueError):
        select([mk(1)], -1)


def test_only_in_policy_and_eligible_nodes() -> None:
    policy = PlacementPolicy("de", RedundancyScheme(2, 3, 4, 5), allowed_countries=frozenset({"DE"}))
    good = [mk(i) for i in range(5)]
    bad = [
        mk(10, country="FR"), mk(11, disqualified=True), mk(12, suspended=True), mk(13, contained=True),
        mk(14, exiting=True), mk(15, geoip_excluded=True), mk(16, last_contact=NOW - 4000),
    ]
    bad = [dataclasses.replace(b, free_bytes=1000 * GB) for b in bad]  # tempting: lots of space
    bad.append(mk(17, free_bytes=999))
    for seed in range(30):
        assert sorted(n.id for n in select(good + bad, 5, policy, seed=seed)) == sorted(n.id for n in good)


def test_one_node_per_net() -> None:
    # 20 nodes in 5 /24s: five pieces fit, a sixth does not.
    nodes = [mk(i, net=f"192.168.{i % 5}") for i in range(20)]
    assert len({n.net for n in select(nodes, 5)}) == 5
    with pytest.raises(PlacementError) as err:
        select(nodes, 6)
    assert str(err.value) == "policy 'any' needs 6 nodes anywhere; 5 eligible (15 in a /24 already used)"


def test_duplicate_candidates_count_once() -> None:
    nodes = [mk(1), mk(1), mk(2)]
    assert sorted(n.id for n in select(nodes, 2)) == ["node1", "node2"]
    with pytest.raises(PlacementError):
        select(nodes, 3)


def test_excluded_nodes_and_nets() -> None:
    nodes = [mk(i) for i in range(6)]
    for seed in range(20):
        chosen = select(nodes, 3, seed=seed, exclude_node_ids=["node0", "node1"], exclude_nets=["10.0.2"])
        assert sorted(n.id for n in chosen) == ["node3", "node4", "node5"]
    with pytest.raises(PlacementError) as err:
        select(nodes, 4, exclude_node_ids=["node0", "node1"], exclude_nets=["10.0.2"])
    assert "3 eligible (2 already holding a piece of this segment, 1 in a /24 already used)" in str(err.value)


@pytest.mark.parametrize(
    ("count", "fraction", "quota"),
    [(110, 0.01, 1), (80, 0.01, 1), (10, 0.01, 0), (10, 0.05, 1), (10, 0.25, 3), (10, 0.2, 2), (4, 1.0, 4),
     (10, 0.0, 0)],
)
def test_new_node_quota(count: int, fraction: float, quota: int) -> None:
    assert new_node_quota(count, fraction) == quota


def test_unvetted_nodes_get_exactly_their_share_when_available() -> None:
    vetted = [mk(i) for i in range(20)]
    new = [mk(100 + i, vetted=False, free_bytes=100 * GB) for i in range(20)]  # tempting: huge space
    for seed in range(30):
        chosen = select(vetted + new, 10, seed=seed)
        assert sum(not n.vetted for n in chosen) == 2


def test_few_unvetted_nodes_leave_the_rest_to_vetted() -> None:
    nodes = [mk(i) for i in range(20)] + [mk(100, vetted=False)]
    counts = Counter(sum(not n.vetted for n in select(nodes, 10, seed=s)) for s in range(30))
    assert counts == {1: 30}


def test_no_unvetted_with_a_small_fraction() -> None:
    nodes = [mk(i) for i in range(10)] + [mk(100 + i, vetted=False) for i in range(10)]
    config = SelectionConfig(online_window=3600, new_node_fraction=0.01, min_free_bytes=1000)
    for seed in range(20):
        assert all(n.vetted for n in select(nodes, 10, seed=seed, config=config))


def test_not_enough_vetted_is_said() -> None:
    nodes = [mk(i) for i in range(7)] + [mk(100 + i, vetted=False) for i in range(10)]
    with pytest.raises(PlacementError) as err:
        select(nodes, 10)
    assert str(err.value) == (
        "policy 'any' needs 10 nodes anywhere; 17 eligible but only 7 vetted, and unvetted nodes "
        "may take at most 2 of 10 pieces (new_node_fraction 0.2)"
    )


def test_unvetted_nodes_sharing_nets_never_block_a_feasible_choice() -> None:
    # Nine vetted nets; heavy unvetted nodes crowd two of them and a light one has its own
    # net. The only way to ten pieces is nine vetted plus the light unvetted node.
    vetted = [mk(i) for i in range(9)]
    crowding = [mk(100 + i, net=f"10.0.{i}", vetted=False, free_bytes=500 * GB) for i in range(2)]
    alone = mk(200, net="172.16.0", vetted=False, free_bytes=GB // 10)
    for seed in range(50):
        chosen = select([*vetted, *crowding, alone], 10, seed=seed)
        assert len({n.net for n in chosen}) == 10
        assert alone in chosen


def test_weighting_by_free_space_single_pick() -> None:
    nodes = [mk(0, free_bytes=1 * GB), mk(1, free_bytes=2 * GB), mk(2, free_bytes=7 * GB)]
    rng = random.Random(1234)
    trials = 20_000
    hits = Counter(
        select_nodes(nodes, ANYWHERE, 1, now=NOW, config=CONFIG, rng=rng)[0].id for _ in range(trials)
    )
    # Standard error at p=0.7 is ~0.0032: a tolerance of 0.015 is ~4.6σ, yet a uniform or
    # rank-based draw (0.33 each) misses it by a mile.
    for node_id, expected in (("node0", 0.1), ("node1", 0.2), ("node2", 0.7)):
        assert abs(hits[node_id] / trials - expected) < 0.015, (node_id, hits)


def _exact_pair_odds(nodes: list[NodeCandidate]) -> dict[frozenset[str], float]:
    """Sequential weighted draw without replacement, removing the drawn node's /24: exact odds."""
    odds: dict[frozenset[str], float] = Counter()
    total = sum(n.free_bytes for n in nodes)
    for first in nodes:
        rest = [n for n in nodes if n.net != first.net]
        rest_total = sum(n.free_bytes for n in rest)
        for second in rest:
            odds[frozenset({first.id, second.id})] += (first.free_bytes / total) * (
                second.free_bytes / rest_total
            )
    return odds


def test_weighting_with_net_exclusion_matches_sequential_draw() -> None:
    nodes = [
        mk(0, net="1.1.1", free_bytes=4 * GB),
        mk(1, net="1.1.1", free_bytes=1 * GB),
        mk(2, net="2.2.2", free_bytes=2 * GB),
        mk(3, net="3.3.3", free_bytes=3 * GB),
    ]
    exact = _exact_pair_odds(nodes)
    rng = random.Random(99)
    trials = 20_000
    seen = Counter(
        frozenset(n.id for n in select_nodes(nodes, ANYWHERE, 2, now=NOW, config=CONFIG, rng=rng))
        for _ in range(trials)
    )
    assert set(seen) <= set(exact)
    for pair, p in exact.items():
        assert abs(seen[pair] / trials - p) < 0.015, (sorted(pair), seen[pair] / trials, p)


def test_min_countries_spreads_even_against_the_weights() -> None:
    policy = PlacementPolicy("spread", RedundancyScheme(2, 3, 4, 5), min_countries=3)
    nodes = [mk(i, free_bytes=1000 * GB) for i in range(10)]  # DE, huge
    nodes += [mk(20, country="FR"), mk(21, country="NL")]
    for seed in range(30):
        chosen = select(nodes, 5, policy, seed=seed)
        assert {n.country for n in chosen} == {"DE", "FR", "NL"}


def test_min_countries_impossible() -> None:
    policy = PlacementPolicy("spread", RedundancyScheme(2, 3, 4, 5), min_countries=2)
    nodes = [mk(i) for i in range(10)] + [mk(50, country="FR", disqualified=True)]
    with pytest.raises(PlacementError) as err:
        select(nodes, 5, policy)
    assert str(err.value) == (
        "policy 'spread' needs nodes in at least 2 countries anywhere; eligible nodes are in only 1 (DE)"
    )
    assert err.value.needed == 2 and err.value.available == 1


def test_existing_countries_count_for_repair() -> None:
    policy = PlacementPolicy("spread", RedundancyScheme(2, 3, 4, 5), min_countries=2)
    nodes = [mk(i) for i in range(10)]
    assert len(select(nodes, 1, policy, existing_countries=["fr"])) == 1
    with pytest.raises(PlacementError):
        select(nodes, 1, policy, existing_countries=["DE"])


def test_error_message_names_policy_and_reasons() -> None:
    policy = PlacementPolicy(
        "eu", RedundancyScheme(4, 6, 8, 10), allowed_countries=frozenset({"DE", "FR", "NL"})
    )
    countries = itertools.cycle(["DE", "FR", "NL"])
    nodes = [mk(i, country=next(countries)) for i in range(6)]
    nodes += [mk(10 + i, last_contact=NOW - 7200) for i in range(3)]
    nodes += [mk(20, disqualified=True)]
    nodes += [mk(30, net="10.0.0"), mk(31, net="10.0.1")]
    nodes += [mk(40 + i, country="US") for i in range(4)]
    with pytest.raises(PlacementError) as err:
        select(nodes, 10, policy)
    assert str(err.value) == (
        "policy 'eu' needs 10 nodes in DE, FR, NL; 6 eligible "
        "(3 offline, 2 in a /24 already used, 1 disqualified); 4 other nodes are outside the policy"
    )
    assert isinstance(err.value, GeoshardError)
    assert (err.value.policy, err.value.needed, err.value.available) == ("eu", 10, 6)


def test_error_when_nothing_at_all() -> None:
    with pytest.raises(PlacementError) as err:
        select([], 3)
    assert str(err.value) == "policy 'any' needs 3 nodes anywhere; 0 eligible"
