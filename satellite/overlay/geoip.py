"""The optional GeoIP check: does a node's address agree with the country it claims?

Residency is only as good as the countries nodes declare, so where the admin configures a
MaxMind-format database (GeoLite2-Country, GeoIP2-Country or City, DB-IP's MMDB files…)
the satellite looks up the address a node checks in from and excludes the node from
placement when the database names another country. The decision is deliberately lenient
where the database cannot speak: an address it does not know (private ranges, loopback in
a devnet, a new allocation) or a hostname that is not an IP literal is *not* excluded, but
the verdict says so, for the node list and the logs. An admin override of the node's
country wins too: the admin has looked and decided, e.g. for an anycast or mis-geolocated
range. Lookups are local file reads; :func:`decide` is the pure rule and is tested alone.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import maxminddb

__all__ = ["GeoIPDatabase", "GeoIPVerdict", "decide", "host_of"]


@dataclass(frozen=True, slots=True)
class GeoIPVerdict:
    """The result of one check. ``excluded`` is what placement uses; ``note`` is for people."""

    claimed: str
    found: str | None
    excluded: bool
    note: str


def decide(claimed: str, found: str | None, *, host: str, overridden: bool = False) -> GeoIPVerdict:
    """The rule, without I/O: exclude only when the database knows the address and disagrees."""
    claimed = claimed.upper()
    if overridden:
        note = f"country set by an admin; GeoIP says {found or 'nothing'}"
        return GeoIPVerdict(claimed, found, False, note)
    if found is None:
        return GeoIPVerdict(claimed, None, False, f"{host} is not in the GeoIP database; not checked")
    if found.upper() == claimed:
        return GeoIPVerdict(claimed, found.upper(), False, f"GeoIP agrees: {host} is in {claimed}")
    return GeoIPVerdict(
        claimed,
        found.upper(),
        True,
        f"GeoIP places {host} in {found.upper()}, but the node claims {claimed}",
    )


def host_of(address: str) -> str:
    """``"1.2.3.4:7777"``, ``"[2001:db8::1]:7777"``, ``"http://host:7777/"`` → the host part."""
    text = address.strip()
    if "://" not in text:
        try:  # a bare IPv6 literal has colons but no port
            return str(ipaddress.ip_address(text))
        except ValueError:
            text = "//" + text
    host = urlsplit(text).hostname
    return host or address


class GeoIPDatabase:
    """An open MaxMind-format database. Build one at startup; it memory-maps the file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._reader = maxminddb.open_database(self.path)

    def lookup(self, host: str) -> str | None:
        """The ISO country of an IP literal, or ``None`` for an unknown or non-IP host."""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return None
        record: Any = self._reader.get(ip)
        if not isinstance(record, dict):
            return None
        # Country databases carry "country"; some records (satellite providers, EU-wide
        # ranges) have only the country the block is registered in.
        for key in ("country", "registered_country"):
            entry = record.get(key)
            if isinstance(entry, dict) and isinstance(entry.get("iso_code"), str):
                return entry["iso_code"].upper()
        return None

    def check(self, address: str, claimed: str, *, overridden: bool = False) -> GeoIPVerdict:
        """Check the node at ``address`` (an IP, ``ip:port`` or URL) against its claimed country."""
        host = host_of(address)
        return decide(claimed, self.lookup(host), host=host, overridden=overridden)

    def close(self) -> None:
        self._reader.close()

    def __enter__(self) -> GeoIPDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
