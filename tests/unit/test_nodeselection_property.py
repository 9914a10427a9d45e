"""Property test: whatever the network and the policy, a selection never breaks the rules."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erasure.scheme import RedundancyScheme
from satellite.nodeselection import (
    NodeCandidate,
    PlacementError,
    PlacementPolicy,
    SelectionConfig,
    in_policy,
    is_eligible,
    new_node_quota,
    select_nodes,
)

NOW = 1_700_000_000.0
COUNTRIES = ["DE", "FR", "NL", "US", "CA", "CH", "RU", "BR"]
REGIONS = ["eu-central", "eu-west", "us-east", "other"]
NETS = [f"10.{a}.{b}" for a in range(3) for b in range(6)]  # few nets: collisions are common

nodes_strategy = st.lists(
    st.builds(
        NodeCandidate,
        id=st.sampled_from([f"n{i}" for i in range(40)]),  # duplicates on purpose
        address=st.just("x:1"),
        country=st.sampled_from(COUNTRIES),
        region=st.sampled_from(REGIONS),
        net=st.sampled_from(NETS),
        free_bytes=st.integers(0, 10**12),
        vetted=st.booleans(),
        last_contact=st.floats(NOW - 7200, NOW),
        disqualified=st.booleans() | st.just(False),
        suspended=st.booleans() | st.just(False),
        contained=st.booleans() | st.just(False),
        exiting=st.booleans() | st.just(False),
        geoip_excluded=st.booleans() | st.just(False),
    ),
    max_size=60,
)


@st.composite
def policies(draw: st.DrawFn) -> PlacementPolicy:
    total = draw(st.integers(1, 12))
    k = draw(st.integers(1, total))
    allowed = draw(st.frozensets(st.sampled_from([*COUNTRIES, "EU", "USMCA"]), max_size=4))
    excluded = draw(st.frozensets(st.sampled_from(COUNTRIES), max_size=2))
    regions = draw(st.frozensets(st.sampled_from(REGIONS), max_size=2))
    policy = PlacementPolicy(
        "p", RedundancyScheme(k, k, total, total), allowed_countries=allowed,
        excluded_countries=excluded - allowed, allowed_regions=regions,
    )
    usable = len(policy.countries) if policy.allowed_countries else total
    min_countries = draw(st.integers(1, max(1, min(total, usable, 4))))
    return PlacementPolicy(
        "p", policy.scheme, allowed_countries=policy.allowed_countries,
        excluded_countries=policy.excluded_countries, allowed_regions=regions, min_countries=min_countries,
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    nodes=nodes_strategy,
    policy=policies(),
    fraction=st.sampled_from([0.0, 0.01, 0.2, 0.5, 1.0]),
    excluded_nets=st.frozensets(st.sampled_from(NETS), max_size=3),
    excluded_ids=st.frozensets(st.sampled_from([f"n{i}" for i in range(40)]), max_size=3),
    seed=st.integers(0, 2**32),
    min_free=st.sampled_from([0, 10**6]),
)
def test_selection_never_breaks_the_rules(
    nodes: list[NodeCandidate], policy: PlacementPolicy, fraction: float,
    excluded_nets: frozenset[str], excluded_ids: frozenset[str], seed: int, min_free: int,
) -> None:
    config = SelectionConfig(online_window=3600, new_node_fraction=fraction, min_free_bytes=min_free)
    count = policy.scheme.total
    try:
        chosen = select_nodes(
            nodes, policy, count, exclude_node_ids=excluded_ids, exclude_nets=excluded_nets,
            now=NOW, config=config, rng=random.Random(seed),
        )
    except PlacementError as err:
        assert str(err).startswith(f"policy {policy.name!r} needs")
        return
    assert len(chosen) == count
    assert len({n.id for n in chosen}) == count
    assert len({n.net for n in chosen}) == count
    assert not {n.net for n in chosen} & excluded_nets
    assert not {n.id for n in chosen} & excluded_ids
    assert sum(not n.vetted for n in chosen) <= new_node_quota(count, fraction)
    assert len({n.country for n in chosen}) >= policy.min_countries
    for n in chosen:
        assert in_policy(n, policy)
        assert is_eligible(n, NOW, config) is None
        # The candidate chosen is one that was offered (first listing of its id).
        assert n == next(c for c in nodes if c.id == n.id)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), n_nets=st.integers(1, 15), count=st.integers(1, 10))
def test_enough_distinct_healthy_nets_always_succeed(seed: int, n_nets: int, count: int) -> None:
    # The other half of "exactly count or PlacementError": with plenty of vetted, healthy,
    # in-policy nodes in distinct nets, selection must not fail spuriously.
    nodes = [
        NodeCandidate(f"n{i}", "x:1", "DE", "eu", f"10.0.{i}", 10**9, True, NOW) for i in range(n_nets)
    ]
    policy = PlacementPolicy("p", RedundancyScheme(1, 1, count, count))
    config = SelectionConfig(online_window=3600, new_node_fraction=0.0, min_free_bytes=0)
    if n_nets >= count:
        chosen = select_nodes(nodes, policy, count, now=NOW, config=config, rng=random.Random(seed))
        assert len(chosen) == count
    else:
        try:
            select_nodes(nodes, policy, count, now=NOW, config=config, rng=random.Random(seed))
        except PlacementError as err:
            assert err.needed == count and err.available == n_nets
        else:
            raise AssertionError("selection returned fewer nodes than asked instead of raising")
