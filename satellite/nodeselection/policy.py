"""Placement policies: where the pieces of a bucket's segments may live, and how many there are.

A policy restricts nodes on two independent axes, countries and regions. An empty set on
an axis leaves it unrestricted; a non-empty set must be matched, so ``countries DE,FR`` with
``regions eu-central`` means a German or French node that also declares ``eu-central``.
Excluded countries are removed whatever else allows them. Group names (``EU``, ``EEA``…)
are expanded when the policy is built, so a stored policy always lists real ISO codes and
means the same thing if a group's membership is later edited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from erasure.errors import SchemeError
from erasure.scheme import RedundancyScheme

from .errors import PolicyError
from .groups import COUNTRY_GROUPS, expand_countries

__all__ = ["PlacementPolicy", "normalize_region"]

# Policy names travel in S3 LocationConstraint, CLI arguments and URLs: keep them plain.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_REGION = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_KEYS = {"name", "allowed_countries", "allowed_regions", "excluded_countries", "scheme", "min_countries"}


def _countries(value: Iterable[str], what: str) -> frozenset[str]:
    if isinstance(value, str):
        raise PolicyError(f"{what} must be a list of country codes or groups, not the string {value!r}")
    return expand_countries(value)


def normalize_region(value: str) -> str:
    """A region name as policies and node overrides store it (lower case), or :class:`PolicyError`."""
    region = value.strip().lower()
    if not _REGION.match(region):
        raise PolicyError(f"invalid region name {value!r}: letters, digits, '.', '_' and '-'")
    return region


def _regions(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise PolicyError(f"allowed regions must be a list, not the string {value!r}")
    regions = frozenset(r.strip().lower() for r in value if r.strip())
    bad = sorted(r for r in regions if not _REGION.match(r))
    if bad:
        raise PolicyError(f"invalid region name: {', '.join(bad)} (letters, digits, '.', '_' and '-')")
    return regions


def policy_key(name: str) -> str:
    """Policy names are case-insensitive, like S3 region names: s3cmd, for one, sends a
    bucket location of ``eu`` as ``EU``. Stored and looked up in lower case."""
    return name.lower()


@dataclass(frozen=True, slots=True)
class PlacementPolicy:
    """A named residency rule and redundancy scheme; validated and normalised on construction."""

    name: str
    scheme: RedundancyScheme
    allowed_countries: frozenset[str] = field(default_factory=frozenset)
    allowed_regions: frozenset[str] = field(default_factory=frozenset)
    excluded_countries: frozenset[str] = field(default_factory=frozenset)
    min_countries: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise PolicyError(
                f"invalid policy name {self.name!r}: 1–63 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if not isinstance(self.scheme, RedundancyScheme):
            raise PolicyError(f"policy {self.name!r}: scheme must be a RedundancyScheme")
        # Frozen: normalise through object.__setattr__, once, here.
        set_ = object.__setattr__
        set_(self, "name", policy_key(self.name))
        set_(self, "allowed_countries", _countries(self.allowed_countries, "allowed countries"))
        set_(self, "excluded_countries", _countries(self.excluded_countries, "excluded countries"))
        set_(self, "allowed_regions", _regions(self.allowed_regions))
        if not isinstance(self.min_countries, int) or isinstance(self.min_countries, bool):
            raise PolicyError(f"policy {self.name!r}: min_countries must be an integer")
        if self.min_countries < 1:
            raise PolicyError(f"policy {self.name!r}: min_countries must be at least 1")
        if self.min_countries > self.scheme.total:
            raise PolicyError(
                f"policy {self.name!r}: min_countries {self.min_countries} is more than the "
                f"{self.scheme.total} pieces of scheme {self.scheme}"
            )
        if self.allowed_countries:
            usable = self.allowed_countries - self.excluded_countries
            if not usable:
                raise PolicyError(
                    f"policy {self.name!r} allows no country: every allowed country is excluded"
                )
            if len(usable) < self.min_countries:
                raise PolicyError(
                    f"policy {self.name!r} needs {self.min_countries} distinct countries but allows "
                    f"only {len(usable)} ({', '.join(sorted(usable))})"
                )

    @property
    def countries(self) -> frozenset[str]:
        """The countries a node may be in, or the empty set when any country not excluded will do."""
        return self.allowed_countries - self.excluded_countries

    def describe_location(self) -> str:
        """Where the policy places pieces, in words for error messages: ``in DE, FR; excluding RU``."""
        parts: list[str] = []
        countries = sorted(self.countries)
        group = next((g for g, members in COUNTRY_GROUPS.items() if members == self.countries), None)
        if countries:
            if group is not None and len(countries) > 1:
                parts.append(f"in {group} ({len(countries)} countries)")
            elif len(countries) <= 6:
                parts.append("in " + ", ".join(countries))
            else:
                parts.append(f"in {len(countries)} countries ({', '.join(countries[:4])}…)")
        if self.allowed_regions:
            parts.append("in region " + " or ".join(sorted(self.allowed_regions)))
        where = " and ".join(parts) if parts else "anywhere"
        if self.excluded_countries and not countries:
            where += " except " + ", ".join(sorted(self.excluded_countries))
        return where

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "allowed_countries": sorted(self.allowed_countries),
            "allowed_regions": sorted(self.allowed_regions),
            "excluded_countries": sorted(self.excluded_countries),
            "scheme": self.scheme.to_dict(),
            "min_countries": self.min_countries,
        }

    @classmethod
    def from_dict(cls, data: Any) -> PlacementPolicy:
        """Build from :meth:`to_dict` output or admin JSON; the scheme may be ``"4/6/8/10"``."""
        if not isinstance(data, dict):
            raise PolicyError("a placement policy must be a JSON object")
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise PolicyError(f"unknown placement policy field: {', '.join(unknown)}")
        for required in ("name", "scheme"):
            if required not in data:
                raise PolicyError(f"a placement policy needs a {required!r}")
        raw = data["scheme"]
        try:
            scheme = RedundancyScheme.parse(raw) if isinstance(raw, str) else RedundancyScheme.from_dict(raw)
        except SchemeError as exc:
            raise PolicyError(f"policy {data['name']!r}: {exc}") from None
        lists = {}
        for key in ("allowed_countries", "allowed_regions", "excluded_countries"):
            value = data.get(key, [])
            if value is None:
                value = []
            if not isinstance(value, list | tuple | set | frozenset) or not all(
                isinstance(v, str) for v in value
            ):
                raise PolicyError(f"policy {data['name']!r}: {key} must be a list of strings")
            lists[key] = frozenset(value)
        return cls(
            name=data["name"],
            scheme=scheme,
            min_countries=data.get("min_countries", 1),
            **lists,
        )
