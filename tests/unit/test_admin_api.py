"""The admin API on SQLite and PostgreSQL: every call's happy path and its errors."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from common.identity import Identity
from satellite.admin.api import ROUTES, AdminServices, create_admin_app
from satellite.admin.openapi import openapi_spec
from satellite.admin.repository import AdminRepository
from satellite.db import Database
from satellite.db.models import ObjectRow, PieceRow, SegmentRow
from satellite.db.nodes import NodeRepository
from satellite.db.residency_ledger import LedgerRepository
from satellite.db.tenancy import TenancyRepository
from satellite.nodeselection import COUNTRY_GROUPS, SelectionConfig
from satellite.overlay.service import CheckInRecord
from satellite.residency import MetadataLocation
from satellite.residency.service import ResidencyService
from satellite.tenancy import SecretBox, TenancyService
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

TOKEN = "admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = dt.datetime.now(dt.UTC)  # for records whose age does not matter; check-ins take the time of the call


def nid(i: int) -> str:
    return f"{i:02x}" * 32


@dataclass
class Admin:
    client: TestClient
    services: AdminServices
    db: Database
    changed: list[int]

    async def call(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        resp = await self.client.request(method, path, json=body, headers=AUTH, **kw)
        data = await resp.json()
        assert resp.status == status, (resp.status, data)
        return data


@pytest.fixture
async def admin(db: Database) -> AsyncIterator[Admin]:  # noqa: F811
    changed: list[int] = []
    services = AdminServices(
        tenancy=TenancyService(TenancyRepository(db), SecretBox(os.urandom(32))),
        nodes=NodeRepository(db),
        repo=AdminRepository(db),
        selection=SelectionConfig(online_window=600, new_node_fraction=0.1, min_free_bytes=1000),
        token=TOKEN,
        on_nodes_changed=lambda: changed.append(1),
        # The satellite says it runs in Germany: inline segments of the "de" policy are in policy.
        residency=ResidencyService(LedgerRepository(db), Identity.generate(), MetadataLocation("DE", "eu-central")),
    )
    client = TestClient(TestServer(create_admin_app(services)))
    await client.start_server()
    try:
        yield Admin(client, services, db, changed)
    finally:
        await client.close()


async def checkin(
    a: Admin,
    i: int,
    country: str = "DE",
    region: str = "eu-central",
    *,
    ago: float = 1,
    geoip: str | None = None,
    free: int = 10**9,
) -> str:
    await a.services.nodes.record_checkin(
        CheckInRecord(
            node_id=nid(i),
            address=f"http://10.0.{i}.1:7777",
            ip=f"10.0.{i}.1",
            net=f"10.0.{i}",
            country=country,
            region=region,
            capacity=2 * free,
            used=free,
            free=free,
            version="0.1.0",
            wallet="",
            geoip_country=geoip,
            at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=ago),
        )
    )
    return nid(i)


# --- auth -------------------------------------------------------------------------------


async def test_no_token_wrong_token_and_wrong_scheme_are_401(admin: Admin) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
    ):
        resp = await admin.client.get("/v1/policies", headers=headers)
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await resp.json())["error"]["code"] == "Unauthorized"
    # Nothing is revealed about routes either, and writes are refused before any parsing.
    resp = await admin.client.post("/v1/tenants", json={"name": "x"})
    assert resp.status == 401
    assert await admin.call("GET", "/v1/tenants") == {"tenants": []}


async def test_unknown_route_is_a_json_404(admin: Admin) -> None:
    data = await admin.call("GET", "/v1/nothing", status=404)
    assert data["error"]["code"] == "NotFound"


def test_app_refuses_an_empty_token() -> None:
    services = AdminServices(tenancy=None, nodes=None, repo=None, selection=SelectionConfig(), token="")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="admin_token"):
        create_admin_app(services)


# --- policies ---------------------------------------------------------------------------


async def test_policy_lifecycle(admin: Admin) -> None:
    created = await admin.call(
        "POST",
        "/v1/policies",
        {
            "name": "eu",
            "allowed_countries": ["EU"],
            "excluded_countries": ["HU"],
            "scheme": "4/6/8/10",
            "min_countries": 2,
        },
        status=201,
    )
    assert set(created["allowed_countries"]) == set(COUNTRY_GROUPS["EU"])
    assert created["scheme"] == {"k": 4, "repair": 6, "success": 8, "total": 10}
    listed = await admin.call("GET", "/v1/policies")
    assert [p["name"] for p in listed["policies"]] == ["eu"]
    shown = await admin.call("GET", "/v1/policies/eu")
    assert shown["buckets"] == [] and shown["default_for_tenants"] == [] and shown["min_countries"] == 2
    assert await admin.call("DELETE", "/v1/policies/eu") == {"deleted": "eu"}
    assert (await admin.call("GET", "/v1/policies/eu", status=404))["error"]["code"] == "NoSuchPolicy"
    assert (await admin.call("DELETE", "/v1/policies/eu", status=404))["error"]["code"] == "NoSuchPolicy"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "x", "scheme": "4/6/8/10", "allowed_countries": ["XX"]}, "unknown country code or group: XX"),
        ({"name": "x", "scheme": "4/6/8"}, "k/repair/success/total"),
        ({"name": "x"}, "missing field: scheme"),
        ({"name": "x", "scheme": "4/6/8/10", "colour": "red"}, "unknown field: colour"),
        ({"name": "x", "scheme": "4/6/8/10", "allowed_countries": ["DE"], "min_countries": 2}, "allows only 1 (DE)"),
        ([1, 2], "must be a JSON object"),
    ],
)
async def test_policy_create_errors(admin: Admin, body: Any, fragment: str) -> None:
    data = await admin.call("POST", "/v1/policies", body, status=400)
    assert fragment in data["error"]["message"]
    assert await admin.call("GET", "/v1/policies") == {"policies": []}


async def test_policy_create_rejects_non_json(admin: Admin) -> None:
    resp = await admin.client.post("/v1/policies", data=b"{not json", headers=AUTH)
    assert resp.status == 400
    assert "not JSON" in (await resp.json())["error"]["message"]


async def test_duplicate_policy_is_409(admin: Admin) -> None:
    await admin.call(
        "POST", "/v1/policies", {"name": "us", "allowed_countries": ["US"], "scheme": "2/3/4/5"}, status=201
    )
    data = await admin.call("POST", "/v1/policies", {"name": "us", "scheme": "2/3/4/5"}, status=409)
    assert data["error"] == {"code": "PolicyExists", "message": "a placement policy named 'us' already exists"}


async def test_deleting_a_used_policy_names_its_users(admin: Admin) -> None:
    await admin.call(
        "POST", "/v1/policies", {"name": "eu", "allowed_countries": ["EU"], "scheme": "2/3/4/5"}, status=201
    )
    tenant = await admin.call("POST", "/v1/tenants", {"name": "acme", "default_policy": "eu"}, status=201)
    from satellite.db.metabase import MetabaseRepository

    meta = MetabaseRepository(admin.db)
    await meta.create_bucket(tenant["id"], "photos", "eu")
    await meta.create_bucket(tenant["id"], "backups", None)  # the tenant's default
    data = await admin.call("DELETE", "/v1/policies/eu", status=409)
    assert data["error"]["code"] == "PolicyInUse"
    msg = data["error"]["message"]
    assert "buckets backups, photos" in msg and "the default of tenant acme" in msg
    assert "geoshard admin bucket set-policy" in msg
    shown = await admin.call("GET", "/v1/policies/eu")
    assert shown["buckets"] == ["backups", "photos"] and shown["default_for_tenants"] == ["acme"]


# --- tenants and keys -------------------------------------------------------------------


async def test_tenant_lifecycle(admin: Admin) -> None:
    await admin.call(
        "POST", "/v1/policies", {"name": "ch", "allowed_countries": ["CH"], "scheme": "1/1/1/1"}, status=201
    )
    t = await admin.call("POST", "/v1/tenants", {"name": "acme"}, status=201)
    assert t["name"] == "acme" and t["default_policy"] is None and len(t["id"]) == 32
    assert [x["name"] for x in (await admin.call("GET", "/v1/tenants"))["tenants"]] == ["acme"]
    by_name = await admin.call("GET", "/v1/tenants/acme")
    by_id = await admin.call("GET", f"/v1/tenants/{t['id']}")
    assert by_name == by_id and by_name["keys"] == [] and by_name["buckets"] == []
    updated = await admin.call("PUT", "/v1/tenants/acme/default-policy", {"policy": "ch"})
    assert updated["default_policy"] == "ch"
    cleared = await admin.call("PUT", "/v1/tenants/acme/default-policy", {"policy": None})
    assert cleared["default_policy"] is None


async def test_tenant_errors(admin: Admin) -> None:
    await admin.call("POST", "/v1/tenants", {"name": "acme"}, status=201)
    assert (await admin.call("POST", "/v1/tenants", {"name": "acme"}, status=409))["error"]["code"] == "TenantExists"
    assert (
        "invalid tenant name"
        in (await admin.call("POST", "/v1/tenants", {"name": "bad name!"}, status=400))["error"]["message"]
    )
    data = await admin.call("POST", "/v1/tenants", {"name": "other", "default_policy": "nope"}, status=404)
    assert data["error"] == {"code": "NoSuchPolicy", "message": "no placement policy named 'nope'"}
    data = await admin.call("GET", "/v1/tenants/ghost", status=404)
    assert data["error"]["code"] == "NoSuchTenant" and "geoshard admin tenant list" in data["error"]["message"]
    await admin.call("PUT", "/v1/tenants/ghost/default-policy", {"policy": None}, status=404)
    await admin.call("PUT", "/v1/tenants/acme/default-policy", {"policy": "nope"}, status=404)
    await admin.call("PUT", "/v1/tenants/acme/default-policy", {}, status=400)
    assert len((await admin.call("GET", "/v1/tenants"))["tenants"]) == 1


async def test_keys(admin: Admin) -> None:
    await admin.call("POST", "/v1/tenants", {"name": "acme"}, status=201)
    k = await admin.call("POST", "/v1/tenants/acme/keys", status=201)
    assert k["access_key_id"].startswith("GS") and len(k["secret_access_key"]) >= 30
    assert k["tenant"] == "acme"
    # The secret is what the gateway will be given for SigV4, and is never listed again.
    looked_up, status = await admin.services.tenancy.lookup_access_key(k["access_key_id"])
    assert looked_up.secret_access_key == k["secret_access_key"] and status == "active"
    listed = await admin.call("GET", "/v1/tenants/acme/keys")
    assert [x["access_key_id"] for x in listed["keys"]] == [k["access_key_id"]]
    assert "secret" not in str(listed)
    assert "secret" not in str(await admin.call("GET", "/v1/tenants/acme"))
    revoked = await admin.call("DELETE", f"/v1/keys/{k['access_key_id']}")
    assert revoked == {"access_key_id": k["access_key_id"], "status": "revoked"}
    assert (await admin.call("GET", "/v1/tenants/acme/keys"))["keys"][0]["status"] == "revoked"
    assert (await admin.call("DELETE", "/v1/keys/GSNOSUCHKEY", status=404))["error"]["code"] == "NoSuchAccessKey"
    assert (await admin.call("POST", "/v1/tenants/ghost/keys", status=404))["error"]["code"] == "NoSuchTenant"
    await admin.call("GET", "/v1/tenants/ghost/keys", status=404)


# --- nodes ------------------------------------------------------------------------------


async def test_node_list_and_states(admin: Admin) -> None:
    await checkin(admin, 1)
    await checkin(admin, 2, "FR", "eu-west", ago=3600)  # offline
    await checkin(admin, 3, "DE", geoip="NL")  # GeoIP disagrees
    await checkin(admin, 4, free=10)  # too little space
    nodes = {n["id"]: n for n in (await admin.call("GET", "/v1/nodes"))["nodes"]}
    assert nodes[nid(1)]["online"] and nodes[nid(1)]["placement"] == "eligible"
    assert nodes[nid(1)]["vetted"] is False and nodes[nid(1)]["net"] == "10.0.1"
    assert not nodes[nid(2)]["online"] and nodes[nid(2)]["placement"] == "offline"
    assert nodes[nid(3)]["geoip"]["excluded"] and nodes[nid(3)]["placement"] == "failing the GeoIP check"
    assert "GeoIP places 10.0.3.1 in NL" in nodes[nid(3)]["geoip"]["note"]
    assert nodes[nid(4)]["placement"] == "with too little free space"
    shown = await admin.call("GET", f"/v1/nodes/{nid(2)[:8]}")  # a unique prefix will do
    assert shown["id"] == nid(2) and shown["country"] == "FR"


async def test_node_lookup_errors(admin: Admin) -> None:
    await checkin(admin, 1)
    await admin.services.nodes.record_checkin(
        CheckInRecord(
            nid(1)[:10] + "f" * 54, "http://10.9.9.9:1", "10.9.9.9", "10.9.9", "DE", "", 1, 0, 1, "", "", None,
            dt.datetime.now(dt.UTC),
        )
    )
    assert "at least 6" in (await admin.call("GET", "/v1/nodes/0101", status=404))["error"]["message"]
    assert "several nodes" in (await admin.call("GET", f"/v1/nodes/{nid(1)[:8]}", status=400))["error"]["message"]
    await admin.call("GET", f"/v1/nodes/{'ab' * 32}", status=404)
    for action in ("disqualify", "reinstate"):
        await admin.call("POST", f"/v1/nodes/{'ab' * 32}/{action}", status=404)
    await admin.call("PUT", f"/v1/nodes/{'ab' * 32}/location", {"country": "DE"}, status=404)


async def test_node_location_override(admin: Admin) -> None:
    node = await checkin(admin, 1, "DE", geoip="FR")
    n = await admin.call("PUT", f"/v1/nodes/{node}/location", {"country": "fr", "region": "EU-West"})
    assert (n["country"], n["region"]) == ("FR", "eu-west")
    assert n["claimed"] == {"country": "DE", "region": "eu-central"}
    # An admin's override wins over the GeoIP verdict: the node is placeable again.
    assert not n["geoip"]["excluded"] and n["placement"] == "eligible"
    assert admin.changed, "placement's node snapshot must be invalidated"
    data = await admin.call("PUT", f"/v1/nodes/{node}/location", {"country": "UK"}, status=400)
    assert "the United Kingdom is GB" in data["error"]["message"]
    data = await admin.call("PUT", f"/v1/nodes/{node}/location", {"region": "eu west"}, status=400)
    assert "invalid region name" in data["error"]["message"]
    await admin.call("PUT", f"/v1/nodes/{node}/location", {"country": 7}, status=400)
    cleared = await admin.call("PUT", f"/v1/nodes/{node}/location", {})
    assert (cleared["country"], cleared["region"]) == ("DE", "eu-central")
    assert cleared["geoip"]["excluded"]


async def test_disqualify_and_reinstate(admin: Admin) -> None:
    node = await checkin(admin, 1)
    n = await admin.call("POST", f"/v1/nodes/{node}/disqualify", {"reason": "lost 40 audits"})
    assert n["disqualified"] and n["disqualification_reason"] == "lost 40 audits"
    assert n["placement"] == "disqualified"
    n = await admin.call("POST", f"/v1/nodes/{node}/reinstate")
    assert not n["disqualified"] and n["placement"] == "eligible"
    n = await admin.call("POST", f"/v1/nodes/{node}/disqualify")
    assert n["disqualification_reason"] == "disqualified by an admin"
    assert len(admin.changed) == 3


# --- buckets and the compliance report --------------------------------------------------


async def _bucket(admin: Admin) -> tuple[dict[str, Any], int]:
    await admin.call(
        "POST", "/v1/policies", {"name": "de", "allowed_countries": ["DE"], "scheme": "2/3/4/4"}, status=201
    )
    await admin.call(
        "POST", "/v1/policies", {"name": "eu", "allowed_countries": ["EU"], "scheme": "2/3/4/4"}, status=201
    )
    t = await admin.call("POST", "/v1/tenants", {"name": "acme", "default_policy": "de"}, status=201)
    from satellite.db.metabase import MetabaseRepository

    b = await MetabaseRepository(admin.db).create_bucket(t["id"], "photos", None)
    return t, b.id


async def test_buckets(admin: Admin) -> None:
    t, _ = await _bucket(admin)
    listed = await admin.call("GET", "/v1/buckets")
    assert [(b["name"], b["tenant"], b["policy"]) for b in listed["buckets"]] == [("photos", "acme", "de")]
    assert (await admin.call("GET", "/v1/buckets", params={"tenant": t["id"]}))["buckets"][0]["name"] == "photos"
    await admin.call("GET", "/v1/buckets", params={"tenant": "ghost"}, status=404)
    shown = await admin.call("GET", "/v1/buckets/photos")
    assert shown["objects"] == 0 and shown["pending_uploads"] == 0 and shown["policy"] == "de"
    moved = await admin.call("PUT", "/v1/buckets/photos/policy", {"policy": "eu"})
    assert moved["policy"] == "eu" and "migration" in moved["note"]
    assert (await admin.call("GET", "/v1/buckets/photos"))["policy"] == "eu"
    assert (await admin.call("PUT", "/v1/buckets/photos/policy", {"policy": "nope"}, status=404))["error"][
        "code"
    ] == "NoSuchPolicy"
    assert (await admin.call("PUT", "/v1/buckets/ghost/policy", {"policy": "eu"}, status=404))["error"][
        "code"
    ] == "NoSuchBucket"
    await admin.call("PUT", "/v1/buckets/photos/policy", {"policy": None}, status=400)
    await admin.call("GET", "/v1/buckets/ghost", status=404)
    await admin.call("GET", "/v1/buckets/ghost/report", status=404)


async def _object(admin: Admin, bucket_id: int, key: str, segments: list[list[str] | None]) -> None:
    async with admin.db.transaction() as s:
        obj = ObjectRow(
            bucket_id=bucket_id, key=key, version=1, size=1, etag="e", created_at=NOW, segment_count=len(segments)
        )
        s.add(obj)
        await s.flush()
        for index, nodes in enumerate(segments):
            seg = SegmentRow(
                object_id=obj.id,
                index=index,
                plain_size=1,
                encrypted_size=1,
                wrapped_key=b"k",
                nonce=b"n",
                inline_data=b"x" if nodes is None else None,
                k=0 if nodes is None else 2,
                repair_threshold=0 if nodes is None else 3,
                success_threshold=0 if nodes is None else 4,
                total=0 if nodes is None else 4,
                created_at=NOW,
            )
            s.add(seg)
            await s.flush()
            for number, node in enumerate(nodes or []):
                s.add(
                    PieceRow(
                        segment_id=seg.id,
                        number=number,
                        node_id=node,
                        piece_id=f"p{seg.id}.{number}",
                        merkle_root=b"r" * 32,
                        size=1,
                    )
                )


async def test_compliance_report(admin: Admin) -> None:
    _, bucket_id = await _bucket(admin)  # policy "de": DE only, repair threshold 3
    de = [await checkin(admin, i, "DE", "eu-central") for i in range(1, 5)]
    fr = await checkin(admin, 10, "FR", "eu-west")
    offline = await checkin(admin, 11, "DE", "eu-central", ago=3600)
    await _object(admin, bucket_id, "ok.jpg", [de, None])  # healthy, plus an inline segment
    await _object(admin, bucket_id, "bad.jpg", [[de[0], de[1], fr, offline]])  # 2 healthy < 3
    await _object(admin, bucket_id, "lost.jpg", [[fr, offline, de[2], fr]])  # 1 healthy < k=2
    r = await admin.call("GET", "/v1/buckets/photos/report")
    assert r["bucket"] == "photos" and r["tenant"] == "acme" and r["policy"]["name"] == "de"
    assert r["objects"] == 3
    assert r["segments"] == {"remote": 3, "inline": 1}
    assert r["pieces"] == 12
    assert r["pieces_by_country"] == {"DE": 9, "FR": 3}
    assert r["pieces_by_region"] == {"eu-central": 9, "eu-west": 3}
    assert r["out_of_policy"] == {
        "pieces": 3,
        "nodes": [{"node_id": fr, "country": "FR", "region": "eu-west", "pieces": 3}],
        "inline_segments": 0,
        "inline_bytes": 0,
    }
    weak = r["below_repair_threshold"]
    assert weak["segments"] == 2 and weak["lost"] == 1 and not weak["truncated"]
    assert sorted((w["object"], w["healthy"], w["lost"]) for w in weak["listed"]) == [
        ("bad.jpg", 2, False),
        ("lost.jpg", 1, True),
    ]
    assert r["compliant"] is False and r["status"] == "data_lost"
    assert r["data_lost"]["keys"] == [{"object": "lost.jpg", "version": 1, "segments": 1}]

    # Overriding the French node's location to Germany makes every piece compliant (the
    # report reads locations as placement does); disqualifying a node weakens segments.
    await admin.call("PUT", f"/v1/nodes/{fr}/location", {"country": "DE"})
    r = await admin.call("GET", "/v1/buckets/photos/report")
    assert r["compliant"] is True and r["out_of_policy"]["pieces"] == 0
    assert r["below_repair_threshold"]["segments"] == 0  # 3 healthy in each weak segment now
    await admin.call("POST", f"/v1/nodes/{de[0]}/disqualify")
    r = await admin.call("GET", "/v1/buckets/photos/report")
    # ok.jpg keeps 3 healthy pieces (= the threshold, not below); bad.jpg drops to 2.
    weak = r["below_repair_threshold"]["listed"]
    assert [(w["object"], w["healthy"]) for w in weak] == [("bad.jpg", 2)]


async def test_report_of_an_empty_bucket(admin: Admin) -> None:
    await _bucket(admin)
    r = await admin.call("GET", "/v1/buckets/photos/report")
    assert r["pieces"] == 0 and r["compliant"] is True and r["pieces_by_country"] == {}


# --- OpenAPI ----------------------------------------------------------------------------


async def test_openapi_describes_exactly_the_routes(admin: Admin) -> None:
    spec = await admin.call("GET", "/openapi.json")
    assert spec == openapi_spec()
    described = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops if m != "parameters"}
    routed = {(method, path) for method, path, _ in ROUTES}
    assert described == routed
    for path, ops in spec["paths"].items():
        params = {p["name"] for p in ops.get("parameters", [])}
        assert params == set(part[1:-1] for part in path.split("/") if part.startswith("{")), path
