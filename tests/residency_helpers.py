"""Helpers for residency tests: a satellite that says it runs in Germany, admin calls, policies."""

from __future__ import annotations

from typing import Any

import aiohttp

from erasure import RedundancyScheme
from satellite.nodeselection.policy import PlacementPolicy
from tests.planet import Planet

__all__ = ["DE_SATELLITE", "admin", "country_policy"]

DE_SATELLITE = {"metadata_country": "DE", "metadata_region": "eu"}


async def admin(net: Planet, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One admin API call that must answer 200; its JSON."""
    headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, net.satellite.admin_url + path, json=body, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def country_policy(net: Planet, name: str, countries: set[str], scheme: str = "2/3/4/4") -> None:
    policy = PlacementPolicy(name, RedundancyScheme.parse(scheme), allowed_countries=frozenset(countries))
    await net.satellite.tenancy.create_policy(policy)
