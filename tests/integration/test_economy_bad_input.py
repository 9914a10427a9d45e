# ruff: noqa: F811  (pytest fixtures imported by name)
"""Bad input to the economy's APIs, each a clear error that changes nothing; SQLite and PostgreSQL.

A wallet without its EIP-55 checksum at check-in, earnings asked for another node, garbage
order settlements, and the admin's bad periods and credits."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from common.identity import Identity
from common.messages import EarningsRequest, Signed, now
from satellite.errors import NotFound
from tests.satellite_fixtures import WALLET, FakeNode, db, db_backend, satellite  # noqa: F401


async def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as r:
        return r.status, await r.json()


async def _admin(sat: Any, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {sat.config.admin_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, sat.admin_url + path, json=body, headers=headers) as r,
    ):
        return r.status, await r.json()


async def test_a_checkin_with_a_mistyped_wallet_is_refused_and_records_nothing(satellite: Any) -> None:
    node = FakeNode("DE", "eu", 1)
    url = satellite.api_url + "/api/v1/nodes/checkin"
    for wallet, words in ((WALLET.lower(), "no EIP-55 checksum"), (WALLET.replace("a", "A", 1), "fails its EIP-55"),
                          ("0x0", "not an Ethereum address"), ("", "not an Ethereum address")):  # fmt: skip
        status, body = await _post(url, node.checkin(wallet=wallet))
        assert status == 403 and words in body["message"], body
    with pytest.raises(NotFound):
        await satellite.nodes.get(node.id)
    status, _ = await _post(url, node.checkin())
    assert status == 200 and (await satellite.nodes.get(node.id)).wallet == WALLET


async def test_earnings_only_for_the_signing_node_and_only_known_nodes(satellite: Any) -> None:
    node, other = FakeNode("DE", "eu", 1), FakeNode("FR", "eu", 2)
    assert (await _post(satellite.api_url + "/api/v1/nodes/checkin", node.checkin()))[0] == 200
    url = satellite.api_url + "/api/v1/nodes/earnings"

    def request(signer: Identity, node_id: str, satellite_id: str = satellite.identity.id) -> dict[str, Any]:
        msg = EarningsRequest(node_id=node_id, satellite_id=satellite_id, timestamp=now())
        return Signed.sign(signer, msg).to_json()

    assert (await _post(url, request(other.identity, node.id)))[0] == 403  # another node's earnings
    assert (await _post(url, request(node.identity, node.id, other.id)))[0] == 403  # addressed elsewhere
    assert (await _post(url, request(other.identity, other.id)))[0] == 404  # never checked in
    status, body = await _post(url, request(node.identity, node.id))
    assert status == 200 and body["paystubs"] == [] and body["held_total_units"] == "0"
    assert body["current_period"]["gross_units"] == "0"


async def test_garbage_settlements_are_refused_whole(satellite: Any) -> None:
    url = satellite.api_url + "/api/v1/nodes/orders/settle"
    assert (await _post(url, {"message": {}, "signer": "x", "signature": ""}))[0] == 400
    async with aiohttp.ClientSession() as http, http.post(url, data=b"{not json") as r:
        assert r.status == 400
    async with satellite.db.read() as s:
        from sqlalchemy import func, select

        from satellite.db.models import OrderSerial

        assert (await s.execute(select(func.count()).select_from(OrderSerial))).scalar() == 0


async def test_admin_bad_periods_and_credits_change_nothing(satellite: Any) -> None:
    current = (await _admin(satellite, "GET", "/v1/payouts/periods"))[1]["current"]["period"]
    status, body = await _admin(satellite, "POST", f"/v1/payouts/periods/{current}/close")
    assert status == 409 and "cannot be closed before" in body["error"]["message"]
    assert (await _admin(satellite, "GET", "/v1/payouts/periods/december"))[0] == 400
    assert (await _admin(satellite, "GET", "/v1/payouts/periods/2020-01"))[0] == 400  # test periods are 10 s
    tenant = await satellite.tenancy.create_tenant("acme")
    for body, code in (
        ({"tenant": "acme", "amount": "5"}, 400),  # no reason
        ({"tenant": "acme", "amount": "-5", "reason": "x"}, 400),
        ({"tenant": "acme", "amount": "lots", "reason": "x"}, 400),
        ({"tenant": "acme", "amount": "5", "reason": "x", "extra": 1}, 400),
        ({"tenant": "nobody", "amount": "5", "reason": "x"}, 404),
    ):
        assert (await _admin(satellite, "POST", "/v1/payouts/credits", body))[0] == code, body
    status, reserve = await _admin(satellite, "GET", "/v1/payouts/reserve")
    assert status == 200 and reserve["movements"] == [] and reserve["balance_units"] == "0"
    status, err = await _admin(satellite, "GET", f"/v1/tenants/{tenant.id}/statement?format=xml")
    assert status == 400 and "format must be json or csv" in err["error"]["message"]
