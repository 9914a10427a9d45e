"""Where the satellite's database stores bytes, and so whether a bucket may keep data inline.

An object of up to 4 KiB is stored encrypted in the satellite's database rather than as
pieces (DESIGN §3). That database is storage too: a bucket whose policy allows only CH
must not have its small objects land in a database in DE. The satellite's config names
where it and its database run (``metadata_country``/``metadata_region``, and
``database_country``/``database_region`` when the database runs elsewhere); a segment may be
inline only when the bucket's policy allows *every* one of those places, by the same rule
nodes are held to (:func:`satellite.nodeselection.location_in_policy`). Otherwise the
gateway pieces it like any other segment (the smallest share size, the same placement and
audits), and the repairer migrates inline segments out when a policy change excludes the
satellite (``satellite/repair/inline.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from common.countries import is_country_code
from satellite.nodeselection import PlacementPolicy, location_in_policy, normalize_region

__all__ = ["MetadataLocation"]


@dataclass(frozen=True, slots=True)
class MetadataLocation:
    """The satellite's and its database's ``(country, region)``; empty strings when not configured."""

    country: str = ""
    region: str = ""
    database_country: str = ""
    database_region: str = ""

    @classmethod
    def from_config(cls, config: object) -> MetadataLocation:
        """The satellite config's location keys; a country that is not ISO 3166-1 alpha-2 stops
        the satellite at start (ValueError naming the key) rather than silently matching nothing."""
        get = lambda name: str(getattr(config, name, "") or "").strip()  # noqa: E731
        for key in ("metadata_country", "database_country"):
            if get(key) and not is_country_code(get(key).upper()):
                raise ValueError(f"{key} {get(key)!r} is not an ISO 3166-1 alpha-2 country code (e.g. DE)")
        return cls(
            get("metadata_country").upper(),
            normalize_region(get("metadata_region")) if get("metadata_region") else "",
            get("database_country").upper(),
            normalize_region(get("database_region")) if get("database_region") else "",
        )

    @property
    def places(self) -> tuple[tuple[str, str], ...]:
        """Every place metadata bytes are held: the satellite's, and its database's if named."""
        db = (self.database_country or self.country, self.database_region or self.region)
        own = (self.country, self.region)
        return (own,) if db == own else (own, db)

    @property
    def storage_country(self) -> str:
        """The country inline bytes are counted under in the compliance report ("??" unknown)."""
        return self.database_country or self.country or "??"

    @property
    def storage_place(self) -> tuple[str, str]:
        """``(country, region)`` of the database that stores inline bytes (the ledger's ``satellite-db``)."""
        if self.database_country:
            return self.database_country, self.database_region
        return self.country or "??", self.region

    def allows_inline(self, policy: PlacementPolicy) -> bool:
        """May a bucket under ``policy`` keep segments in the satellite's database?"""
        return all(location_in_policy(c, r, policy) for c, r in self.places)

    def describe(self) -> str:
        return " and ".join(f"{c or '??'}/{r or '??'}" for c, r in self.places)
