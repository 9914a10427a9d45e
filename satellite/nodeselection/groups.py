"""Named groups of countries that a policy may use in place of listing every member.

A group name in a policy's allowed or excluded countries expands to its members. Names
never shadow an assigned ISO code with a different meaning: ``US`` and ``CH`` are both a
group and the country itself, but North America is ``USMCA``, because ``NA`` is Namibia.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from common.countries import ISO_3166_ALPHA2

from .errors import PolicyError

__all__ = ["COUNTRY_GROUPS", "expand_countries"]

_EU = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)
_EFTA = frozenset({"CH", "IS", "LI", "NO"})

COUNTRY_GROUPS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "EU": _EU,
        # The European Economic Area: the EU plus the EFTA states in the single market.
        "EEA": _EU | {"IS", "LI", "NO"},
        "EFTA": _EFTA,
        "US": frozenset({"US"}),
        "CH": frozenset({"CH"}),
        "USMCA": frozenset({"US", "CA", "MX"}),
    }
)


def expand_countries(names: Iterable[str]) -> frozenset[str]:
    """Country codes and group names → the set of country codes they stand for.

    Case-insensitive; raises :class:`PolicyError` naming every unknown entry at once, so a
    person fixing a policy sees all their typos in one go.
    """
    result: set[str] = set()
    unknown: list[str] = []
    for raw in names:
        name = raw.strip().upper()
        if not name:
            continue
        if name in COUNTRY_GROUPS:
            result |= COUNTRY_GROUPS[name]
        elif name in ISO_3166_ALPHA2:
            result.add(name)
        else:
            unknown.append(raw.strip())
    if unknown:
        groups = ", ".join(sorted(COUNTRY_GROUPS))
        # UK is the one reserved code people type for a real country; say what to use.
        uk = "; the United Kingdom is GB" if any(u.upper() == "UK" for u in unknown) else ""
        raise PolicyError(
            f"unknown country code or group: {', '.join(unknown)} "
            f"(use ISO 3166-1 alpha-2 codes such as DE, or a group: {groups}{uk})"
        )
    return frozenset(result)
