"""Placement policies, country groups and the two filters of satellite.nodeselection."""

from __future__ import annotations

import dataclasses

import pytest

from common.countries import ISO_3166_ALPHA2
from erasure.scheme import RedundancyScheme
from satellite.nodeselection import (
    COUNTRY_GROUPS,
    Ineligible,
    NodeCandidate,
    PlacementPolicy,
    PolicyError,
    SelectionConfig,
    expand_countries,
    in_policy,
    is_eligible,
)

SCHEME = RedundancyScheme(4, 6, 8, 10)
NOW = 1_700_000_000.0
CONFIG = SelectionConfig(online_window=3600, new_node_fraction=0.2, min_free_bytes=1000)


def node(**changes: object) -> NodeCandidate:
    base = NodeCandidate(
        id="n1", address="10.0.0.1:7777", country="DE", region="eu-central", net="10.0.0",
        free_bytes=10_000, vetted=True, last_contact=NOW - 10,
    )
    return dataclasses.replace(base, **changes)


def policy(**kw: object) -> PlacementPolicy:
    kw.setdefault("name", "p")
    kw.setdefault("scheme", SCHEME)
    return PlacementPolicy(**kw)  # type: ignore[arg-type]


# --- groups -----------------------------------------------------------------------------

def test_groups_expand_to_members() -> None:
    assert expand_countries(["EU"]) == COUNTRY_GROUPS["EU"]
    assert len(COUNTRY_GROUPS["EU"]) == 27
    assert COUNTRY_GROUPS["EEA"] == COUNTRY_GROUPS["EU"] | {"IS", "LI", "NO"}
    assert expand_countries(["US"]) == {"US"}
    assert expand_countries(["USMCA"]) == {"US", "CA", "MX"}
    assert expand_countries(["ch", " fr "]) == {"CH", "FR"}
    assert "GB" not in COUNTRY_GROUPS["EU"] and "CH" not in COUNTRY_GROUPS["EU"]


def test_na_is_namibia_not_a_group() -> None:
    assert expand_countries(["NA"]) == {"NA"}


def test_every_group_member_is_an_assigned_code() -> None:
    for name, members in COUNTRY_GROUPS.items():
        assert members <= ISO_3166_ALPHA2, name
        # A group named like a country must mean just that country, or policies lie.
        if name in ISO_3166_ALPHA2:
            assert members == {name}


def test_unknown_codes_are_all_named() -> None:
    with pytest.raises(PolicyError) as err:
        expand_countries(["DE", "XX", "UK", "Europe"])
    msg = str(err.value)
    assert msg.startswith("unknown country code or group: XX, UK, Europe (")
    assert "the United Kingdom is GB" in msg
    assert "EEA" in msg  # the message lists the groups one could have meant


# --- policy -----------------------------------------------------------------------------

def test_policy_normalises_and_round_trips() -> None:
    p = policy(
        name="eu-strict",
        allowed_countries=frozenset({"EU", "ch"}),
        allowed_regions=frozenset({"EU-Central", "eu-west"}),
        excluded_countries=frozenset({"hu"}),
        min_countries=3,
    )
    assert p.allowed_countries == COUNTRY_GROUPS["EU"] | {"CH"}
    assert p.allowed_regions == {"eu-central", "eu-west"}
    assert p.excluded_countries == {"HU"}
    assert "HU" not in p.countries and "CH" in p.countries
    data = p.to_dict()
    assert data["scheme"] == {"k": 4, "repair": 6, "success": 8, "total": 10}
    assert data["allowed_countries"] == sorted(data["allowed_countries"])
    assert PlacementPolicy.from_dict(data) == p


def test_from_dict_accepts_scheme_text_and_groups() -> None:
    p = PlacementPolicy.from_dict(
        {"name": "us", "allowed_countries": ["US"], "scheme": "2/3/4/5", "min_countries": 1}
    )
    assert p.scheme == RedundancyScheme(2, 3, 4, 5)
    assert p.allowed_countries == {"US"}
    assert p.allowed_regions == frozenset() and p.excluded_countries == frozenset()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"name": "x", "scheme": "4/6/8/10", "allowed_countries": ["ZZ"]}, "code or group: ZZ"),
        ({"name": "x", "scheme": "4/6/8/10", "excluded_countries": ["Mars"]}, "Mars"),
        ({"name": "x", "scheme": "4/6/8"}, "k/repair/success/total"),
        ({"name": "x", "scheme": "6/4/8/10"}, "1 ≤ k ≤ repair"),
        ({"name": "x", "scheme": {"k": 1}}, "exactly"),
        ({"scheme": "4/6/8/10"}, "needs a 'name'"),
        ({"name": "x"}, "needs a 'scheme'"),
        ({"name": "x", "scheme": "4/6/8/10", "colour": "red"}, "unknown placement policy field: colour"),
        ({"name": "x", "scheme": "4/6/8/10", "allowed_countries": "DE"}, "must be a list"),
        ({"name": "x", "scheme": "4/6/8/10", "allowed_countries": [1]}, "must be a list of strings"),
        ({"name": "bad name", "scheme": "4/6/8/10"}, "invalid policy name"),
        ({"name": "", "scheme": "4/6/8/10"}, "invalid policy name"),
        ({"name": "x", "scheme": "4/6/8/10", "min_countries": 0}, "at least 1"),
        ({"name": "x", "scheme": "4/6/8/10", "min_countries": 11}, "more than the 10 pieces"),
        ({"name": "x", "scheme": "4/6/8/10", "min_countries": "2"}, "must be an integer"),
        (
            {"name": "x", "scheme": "4/6/8/10", "allowed_countries": ["DE"], "excluded_countries": ["DE"]},
            "allows no country",
        ),
        (
            {"name": "x", "scheme": "4/6/8/10", "allowed_countries": ["DE", "FR"], "min_countries": 3},
            "allows only 2 (DE, FR)",
        ),
        ({"name": "x", "scheme": "4/6/8/10", "allowed_regions": ["eu central"]}, "invalid region name"),
        ([], "JSON object"),
    ],
)
def test_policy_validation_errors(data: object, fragment: str) -> None:
    with pytest.raises(PolicyError) as err:
        PlacementPolicy.from_dict(data)
    assert fragment in str(err.value)


def test_describe_location() -> None:
    assert policy().describe_location() == "anywhere"
    assert policy(allowed_countries=frozenset({"FR", "DE"})).describe_location() == "in DE, FR"
    assert policy(allowed_countries=frozenset({"EU"})).describe_location() == "in EU (27 countries)"
    assert policy(excluded_countries=frozenset({"RU"})).describe_location() == "anywhere except RU"
    both = policy(allowed_countries=frozenset({"DE"}), allowed_regions=frozenset({"eu-central"}))
    assert both.describe_location() == "in DE and in region eu-central"
    big = policy(allowed_countries=frozenset({"EU", "US"}))
    assert big.describe_location() == "in 28 countries (AT, BE, BG, CY…)"


# --- in_policy --------------------------------------------------------------------------

def test_in_policy_anywhere() -> None:
    assert in_policy(node(country="BR", region="sa"), policy())


def test_in_policy_countries() -> None:
    p = policy(allowed_countries=frozenset({"DE", "FR"}))
    assert in_policy(node(country="DE"), p)
    assert in_policy(node(country="fr"), p)  # a lower-case claim is still France
    assert not in_policy(node(country="US"), p)


def test_in_policy_regions() -> None:
    p = policy(allowed_regions=frozenset({"eu-central"}))
    assert in_policy(node(region="EU-Central"), p)
    assert not in_policy(node(region="us-east"), p)
    assert not in_policy(node(region=""), p)


def test_in_policy_countries_and_regions_both_apply() -> None:
    p = policy(allowed_countries=frozenset({"DE"}), allowed_regions=frozenset({"eu-central"}))
    assert in_policy(node(country="DE", region="eu-central"), p)
    assert not in_policy(node(country="DE", region="eu-west"), p)
    assert not in_policy(node(country="FR", region="eu-central"), p)


def test_in_policy_exclusions_win() -> None:
    assert not in_policy(node(country="RU"), policy(excluded_countries=frozenset({"RU"})))
    p = policy(allowed_countries=frozenset({"EU"}), excluded_countries=frozenset({"HU"}))
    assert not in_policy(node(country="HU"), p)
    assert in_policy(node(country="AT"), p)


# --- is_eligible ------------------------------------------------------------------------

def test_healthy_node_is_eligible() -> None:
    assert is_eligible(node(), NOW, CONFIG) is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"disqualified": True}, Ineligible.DISQUALIFIED),
        ({"suspended": True}, Ineligible.SUSPENDED),
        ({"exiting": True}, Ineligible.EXITING),
        ({"geoip_excluded": True}, Ineligible.GEOIP),
        ({"contained": True}, Ineligible.CONTAINED),
        ({"last_contact": NOW - 3601}, Ineligible.OFFLINE),
        ({"free_bytes": 999}, Ineligible.LOW_SPACE),
        # The most permanent reason is the one reported.
        ({"disqualified": True, "last_contact": 0.0, "free_bytes": 0}, Ineligible.DISQUALIFIED),
        ({"suspended": True, "contained": True}, Ineligible.SUSPENDED),
    ],
)
def test_each_filter(changes: dict[str, object], reason: Ineligible) -> None:
    assert is_eligible(node(**changes), NOW, CONFIG) is reason


def test_online_and_space_boundaries() -> None:
    assert is_eligible(node(last_contact=NOW - 3600), NOW, CONFIG) is None
    assert is_eligible(node(free_bytes=1000), NOW, CONFIG) is None
    # Unvetted is not ineligible: the selector limits it, the filter lets it through.
    assert is_eligible(node(vetted=False), NOW, CONFIG) is None


@pytest.mark.parametrize(
    "kw",
    [{"online_window": 0}, {"new_node_fraction": 1.5}, {"new_node_fraction": -0.1}, {"min_free_bytes": -1}],
)
def test_selection_config_validation(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SelectionConfig(**kw)


def test_policy_names_are_case_insensitive_like_s3_locations() -> None:
    # s3cmd sends a bucket location of "eu" as "EU"; both must name the same policy.
    from erasure import RedundancyScheme
    from satellite.nodeselection.policy import PlacementPolicy, policy_key

    policy = PlacementPolicy("EU-Strict", RedundancyScheme(2, 3, 4, 5))
    assert policy.name == "eu-strict"
    assert policy_key("EU-STRICT") == policy.name
