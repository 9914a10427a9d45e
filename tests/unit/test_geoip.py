"""The GeoIP check, against a small MaxMind-format database written by the test itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from satellite.overlay.geoip import GeoIPDatabase, decide, host_of


@pytest.fixture(scope="module")
def geoip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GeoIPDatabase]:
    path = Path(tmp_path_factory.mktemp("geoip")) / "country.mmdb"
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "DE"}})
    writer.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "FR"}})
    # A block with only its registration country, as MaxMind ships for some ranges.
    writer.insert_network(IPSet(["192.0.2.0/24"]), {"registered_country": {"iso_code": "NL"}})
    writer.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "CH"}})
    writer.to_db_file(str(path))
    db = GeoIPDatabase(path)
    yield db
    db.close()


def test_lookup(geoip: GeoIPDatabase) -> None:
    assert geoip.lookup("198.51.100.7") == "DE"
    assert geoip.lookup("203.0.113.200") == "FR"
    assert geoip.lookup("192.0.2.1") == "NL"
    assert geoip.lookup("2001:db8::5") == "CH"
    assert geoip.lookup("127.0.0.1") is None
    assert geoip.lookup("node.example.com") is None


def test_agreeing_claim_is_kept(geoip: GeoIPDatabase) -> None:
    verdict = geoip.check("198.51.100.7:7777", "de")
    assert not verdict.excluded
    assert (verdict.claimed, verdict.found) == ("DE", "DE")


def test_disagreeing_claim_is_excluded(geoip: GeoIPDatabase) -> None:
    verdict = geoip.check("http://203.0.113.9:7777/", "DE")
    assert verdict.excluded
    assert verdict.note == "GeoIP places 203.0.113.9 in FR, but the node claims DE"


def test_unknown_address_is_not_excluded_but_reported(geoip: GeoIPDatabase) -> None:
    verdict = geoip.check("127.0.0.1:7777", "DE")
    assert not verdict.excluded and verdict.found is None
    assert "127.0.0.1 is not in the GeoIP database" in verdict.note
    assert not geoip.check("node.example.com:7777", "DE").excluded


def test_admin_override_wins(geoip: GeoIPDatabase) -> None:
    verdict = geoip.check("203.0.113.9:7777", "DE", overridden=True)
    assert not verdict.excluded
    assert "set by an admin" in verdict.note and "FR" in verdict.note


def test_ipv6(geoip: GeoIPDatabase) -> None:
    assert geoip.check("[2001:db8::1]:7777", "CH").excluded is False
    assert geoip.check("[2001:db8::1]:7777", "DE").excluded is True


@pytest.mark.parametrize(
    ("address", "host"),
    [
        ("1.2.3.4:7777", "1.2.3.4"),
        ("1.2.3.4", "1.2.3.4"),
        ("[2001:db8::1]:7777", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("http://node.example.com:7777/", "node.example.com"),
        ("node.example.com:7777", "node.example.com"),
    ],
)
def test_host_of(address: str, host: str) -> None:
    assert host_of(address) == host


def test_decide_is_case_insensitive_and_pure() -> None:
    assert not decide("de", "DE", host="h").excluded
    assert decide("DE", "fr", host="h").found == "FR"
    assert decide("DE", None, host="h").excluded is False
