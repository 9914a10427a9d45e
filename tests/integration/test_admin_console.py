"""The admin console on a running satellite's admin port, on SQLite and PostgreSQL.

Its pages load without the token and hold no data; its data routes need the token; nodes
come with scores, the overview computes utilization and churn from node rows, and its
economy document shows the accounting's closed periods (revenue, operator payouts, reserve,
margin, revenue per operator, tenants' statements, settlement batches); audit failures, the
repair queue and exits are listed; every change
through the admin API — refused ones too — lands in the admin audit log.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import aiohttp

from satellite.audit.verifier import AuditTarget
from satellite.console.economics import churn
from satellite.reputation import Outcome
from tests.accounting_fixtures import close_current_period
from tests.planet import planet
from tests.repair_helpers import upload_objects
from tests.satellite_fixtures import FakeNode, db, db_backend, satellite  # noqa: F401  (pytest fixtures)

TOKEN = "test-admin-token"


async def call(sat: Any, method: str, path: str, body: Any = None, token: str = TOKEN) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as s, s.request(method, sat.admin_url + path, json=body, headers=headers) as r:
        return r.status, await r.json()


async def check_in(sat: Any, node: FakeNode, **fields: Any) -> None:
    async with aiohttp.ClientSession() as s, s.post(f"{sat.api_url}/api/v1/nodes/checkin",
                                                    json=node.checkin(**fields)) as r:
        assert r.status == 200, await r.text()


async def test_pages_load_without_the_token_but_data_needs_it(satellite) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as s:
        async with s.get(satellite.admin_url + "/", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/console/"
        async with s.get(satellite.admin_url + "/console/") as r:
            html = await r.text()
            assert r.status == 200 and "admin token" in html
        refs = re.findall(r'(?:src|href)="(/[^"]+)"', html)
        assert len(refs) >= 3
        for ref in refs:
            async with s.get(satellite.admin_url + ref) as r:
                assert r.status == 200, ref
    for path in ("/v1/console/nodes", "/v1/console/overview", "/v1/console/audit-log"):
        status, body = await call(satellite, "GET", path, token="")
        assert status == 401 and "admin token" in body["error"]["message"], path
        status, _ = await call(satellite, "GET", path, token="wrong")
        assert status == 401


async def test_nodes_come_with_scores_and_the_overview_with_utilization_and_churn(satellite) -> None:  # noqa: F811
    de, us = FakeNode("DE", "eu", 1), FakeNode("US", "na", 2)
    await check_in(satellite, de, capacity=1000, used=250, free=750)
    await check_in(satellite, us, capacity=3000, used=250, free=2750)
    target = AuditTarget(de.id, de.address, 7, 3, "ab" * 32, b"\0" * 32, 4096, 1024)
    await satellite.audits.record(target, Outcome.FAILURE, "piece missing — node answered 404 PieceNotFound")

    status, body = await call(satellite, "GET", "/v1/console/nodes")
    assert status == 200
    by_id = {n["id"]: n for n in body["nodes"]}
    assert by_id[de.id]["scores"]["audit"] < 1.0 == by_id[us.id]["scores"]["audit"]
    assert by_id[de.id]["status"] == "online" and by_id[de.id]["country"] == "DE"
    assert by_id[us.id]["audits_to_vetting"] > 0 and body["thresholds"]["audit_disqualify"] > 0

    status, o = await call(satellite, "GET", "/v1/console/overview?period=day")
    assert status == 200
    assert o["nodes"]["members"] == 2 and o["nodes"]["online"] == 2
    assert o["capacity"] == {"offered": 4000, "used": 500, "free": 3500, "utilization": 0.125, "online_offered": 4000}
    assert [(c["country"], c["nodes"]) for c in o["by_country"]] == [("DE", 1), ("US", 1)]
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    assert o["churn"]["periods"][-1] == {"period": today, "joined": 2, "disqualified": 0, "exited": 0,
                                         "active_end": 2, "churn_rate": None}  # none at its start
    acc = o["accounting"]
    if acc["available"]:  # accounting runs but has closed nothing: no invented rows
        assert acc["periods"] == [] and acc["statements"] == [] and acc["current"]["period"]
    else:
        assert acc["periods"] == [] and "not running" in acc["message"]
    status, err = await call(satellite, "GET", "/v1/console/overview?period=year")
    assert status == 400 and "period" in err["error"]["message"]

    status, f = await call(satellite, "GET", "/v1/console/audit-failures")
    assert status == 200 and [(x["node_id"], x["outcome"], x["country"]) for x in f["failures"]] == [
        (de.id, "failure", "DE")]
    assert "404 PieceNotFound" in f["failures"][0]["reason"]
    status, q = await call(satellite, "GET", "/v1/console/repair")
    assert status == 200 and q["length"] == 0 and q["by_reason"] == [] and q["jobs"] == []
    status, e = await call(satellite, "GET", "/v1/console/exits")
    assert status == 200 and e["exits"] == []


async def test_every_change_is_in_the_audit_log_refused_ones_too(satellite) -> None:  # noqa: F811
    node = FakeNode("FR", "eu", 3)
    await check_in(satellite, node)
    assert (await call(satellite, "POST", "/v1/policies", {"name": "fr", "scheme": "1/1/1/1",
                                                           "allowed_countries": ["FR"]}))[0] == 201
    edit = {"scheme": "1/1/1/1", "allowed_countries": ["DE"]}
    status, changed = await call(satellite, "PUT", "/v1/policies/fr", edit)
    assert status == 200 and changed["allowed_countries"] == ["DE"]
    status, err = await call(satellite, "PUT", "/v1/policies/fr", {"name": "other", "scheme": "1/1/1/1"})
    assert status == 400 and "renamed" in err["error"]["message"]
    status, _ = await call(satellite, "PUT", "/v1/policies/nope", {"scheme": "1/1/1/1"})
    assert status == 404
    assert (await call(satellite, "POST", f"/v1/nodes/{node.id}/disqualify", {"reason": "lost data"}))[0] == 200
    assert (await call(satellite, "DELETE", "/v1/policies/fr", token="wrong"))[0] == 401
    assert (await call(satellite, "DELETE", "/v1/policies/fr"))[0] == 200

    status, log = await call(satellite, "GET", "/v1/console/audit-log")
    assert status == 200
    entries = [(e["route"], e["status"]) for e in reversed(log["entries"])]
    assert entries == [
        ("POST /v1/policies", 201),
        ("PUT /v1/policies/{name}", 200),
        ("PUT /v1/policies/{name}", 400),
        ("PUT /v1/policies/{name}", 404),
        ("POST /v1/nodes/{node}/disqualify", 200),
        ("DELETE /v1/policies/{name}", 401),
        ("DELETE /v1/policies/{name}", 200),
    ]
    dq = next(e for e in log["entries"] if e["route"].endswith("disqualify"))
    assert "lost data" in dq["body"] and node.id in dq["path"] and dq["remote"] == "127.0.0.1"
    refused = next(e for e in log["entries"] if e["status"] == 400)
    assert "renamed" in refused["result"]
    # Reads are not logged: the log is of changes.
    assert not any(e["method"] == "GET" for e in log["entries"])


class _N:
    def __init__(self, created: str, dq: str | None = None, exited: str | None = None) -> None:
        p = dt.datetime.fromisoformat
        self.created_at = p(created)
        self.disqualified_at = p(dq) if dq else None
        self.exit_finished_at = p(exited) if exited else None


def test_churn_counts_joins_and_departures_per_period() -> None:
    nodes = [_N("2026-10-02T00:00:00+00:00"), _N("2026-10-05T00:00:00+00:00", dq="2026-11-03T00:00:00+00:00"),
             _N("2026-11-01T00:00:00+00:00", exited="2026-12-01T00:00:00+00:00"), _N("2026-12-01T00:00:00+00:00")]
    assert churn(nodes, "month") == [
        {"period": "2026-10", "joined": 2, "disqualified": 0, "exited": 0, "active_end": 2, "churn_rate": None},
        {"period": "2026-11", "joined": 1, "disqualified": 1, "exited": 0, "active_end": 2, "churn_rate": 0.5},
        {"period": "2026-12", "joined": 1, "disqualified": 0, "exited": 1, "active_end": 2, "churn_rate": 0.5},
    ]


DAY = 86400
ECONOMY = {"order_ttl": 3, "accounting": {"period_seconds": DAY, "tally_interval": 1, "close_delay": 1,
                                          "meter_flush_interval": 0.5, "min_payout": "0", "month_seconds": 60}}


async def test_a_closed_period_is_a_row_with_revenue_payouts_reserve_and_margin_in_the_console(tmp_path) -> None:
    async with planet(tmp_path, nodes=3, scheme="1/2/3/3", segment_size=64 * 1024, satellite_config=ECONOMY) as net:
        await upload_objects(net, "econ", 1, 100_000)
        acc = net.satellite.accounting
        period, result = await close_current_period(acc, DAY)
        pr = result.period_row

        status, e = await call(net.satellite, "GET", "/v1/console/economics", token=net.satellite.config.admin_token)
        assert status == 200 and e["available"] is True and e["currency"] == "USD"
        row = next(r for r in e["periods"] if r["period"] == period.id)
        assert int(row["revenue_units"]) == pr.revenue > 0
        assert int(row["payouts_units"]) == pr.gross > 0 and row["byte_hours"] > 0
        assert int(row["reserve_in_units"]) == pr.reserve_in
        assert int(row["margin_units"]) == pr.revenue - pr.gross - (pr.reserve_in - pr.forfeited)
        paid_stubs = [p for p in await acc.repo.paystubs(period=period.id) if p.gross > 0]
        wallets = {p.wallet or p.node_id for p in paid_stubs}
        ops = next(r for r in e["revenue_per_operator"] if r["period"] == period.id)
        assert ops["operators"] == row["operators"] == len(wallets) >= 1
        assert int(ops["revenue_per_operator_units"]) == pr.revenue // len(wallets)
        assert sum(int(o["gross_units"]) for o in ops["by_operator"]) == pr.gross
        st = next(s for s in e["statements"] if s["tenant_id"] == net.tenants[0].id)
        assert st["period"] == period.id and st["byte_hours"] > 0 and st["tenant"] == "alpha"
        assert int(e["reserve"]["balance_units"]) >= pr.reserve_in
        assert any(m["kind"] == "revenue_share" and m["period"] == period.id for m in e["reserve"]["movements"])
        assert e["incidents"] == [] and e["credits"] == []
        assert set(e["settlement"]) >= {"available", "periods", "batches"}
        status, o = await call(net.satellite, "GET", "/v1/console/overview", token=net.satellite.config.admin_token)
        assert o["accounting"]["periods"][0]["period"] == period.id
