"""The node dashboard's JSON API and pages, served by a real node peer.

Space equals the piece files on disk, bandwidth is counted per order action, history
samples accumulate for the charts, scores and failed audits come from a real satellite
with their warnings, the token is enforced when the dashboard is bound beyond loopback,
and the multi-node view reads other nodes server-side.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from common.messages import Action
from satellite.audit.verifier import AuditTarget
from satellite.reputation import Outcome
from storage_node.config import ConfigError
from tests.accounting_fixtures import close_current_period
from tests.node_fixtures import NodeHarness, files_on_disk, new_piece_id
from tests.node_fixtures import running_node as _running_node
from tests.planet import planet
from tests.repair_helpers import upload_objects
from tests.satellite_fixtures import db, db_backend, satellite  # noqa: F401  (pytest fixtures)


def running_node(data_dir: Path, **overrides: Any) -> Any:
    """A real node with its dashboard on (test nodes have it off), on a free loopback port."""
    return _running_node(data_dir, **{"dashboard_port": 0, **overrides})


def dashboard_url(node: NodeHarness) -> str:
    assert node.peer.dashboard_server is not None
    return node.peer.dashboard_server.url


async def wait_started(node: NodeHarness) -> str:
    assert node.peer.dashboard_server is not None
    await asyncio.wait_for(node.peer.dashboard_server.started.wait(), 10)
    return dashboard_url(node)


async def get_json(session: aiohttp.ClientSession, url: str, token: str = "") -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with session.get(url, headers=headers) as r:
        return r.status, await r.json()


async def until(predicate: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_stored_bytes_equal_piece_files_on_disk_and_bandwidth_is_counted_by_kind(tmp_path: Path) -> None:
    async with running_node(tmp_path / "n") as node:
        url = await wait_started(node)
        sizes = [1000, 70_000, 4096]
        ids = []
        for size in sizes:
            pid = new_piece_id()
            status, _ = await node.put(pid, b"x" * size)
            assert status == 200
            ids.append(pid)
        status, _, _ = await node.get(ids[1], offset=0, length=5000)
        assert status == 200
        status, _, _ = await node.get(ids[0], order=node.order(ids[0], Action.REPAIR_GET))
        assert status == 200
        node.peer.store.trash(ids[2])

        status, s = await get_json(node.session, f"{url}/api/summary")
        assert status == 200
        on_disk = files_on_disk(node.peer.config.data_dir)
        blobs = sum(v for k, v in on_disk.items() if k.startswith("blobs/"))
        trash = sum(v for k, v in on_disk.items() if k.startswith("trash/"))
        assert s["space"]["stored"] == blobs > sum(sizes[:2])  # headers (Merkle trees) included
        assert s["space"]["trash"] == trash and s["space"]["trash_count"] == 1
        assert s["space"]["piece_count"] == 2
        assert s["space"]["free"] == node.peer.config.capacity - blobs - trash
        bw = s["bandwidth"]
        assert bw["period"] == time.strftime("%Y-%m", time.gmtime())
        assert bw["ingress"]["PUT"] == sum(sizes) and bw["ingress"]["total"] == sum(sizes)
        assert bw["egress"]["GET"] == 5000 and bw["egress"]["REPAIR_GET"] == 1000
        assert bw["egress"]["total"] == 6000
        # With no satellite to ask, the page says so instead of showing scores.
        assert s["reputation"] is None or s["reputation_error"] is None
        await until(lambda: _has_error(node))
        status, s = await get_json(node.session, f"{url}/api/summary")
        assert any(w["kind"] == "satellite_unreachable" for w in s["warnings"])
        assert s["payouts"]["available"] is False and s["payouts"]["paystubs"] == []
        assert s["payouts"]["estimated_this_period"] is None  # no number until a satellite answers
        assert "cannot reach the satellite" in s["payouts"]["message"] and s["payouts"]["error"]
        assert s["scrub"]["available"] is False  # test nodes do not scrub (scrub_period = 0)


DAY = 86400
ECONOMY = {"order_ttl": 3, "accounting": {"period_seconds": DAY, "tally_interval": 1, "close_delay": 1,
                                          "meter_flush_interval": 0.5, "min_payout": "0", "month_seconds": 60}}


async def test_a_closed_period_shows_its_byte_hours_and_the_scrub_its_verified_pieces_on_the_dashboard(
    tmp_path: Path,
) -> None:
    nodes = {"dashboard_port": 0, "dashboard_refresh": 0.2, "scrub_period": 1.0}
    async with planet(tmp_path, nodes=3, scheme="1/2/3/3", segment_size=64 * 1024, satellite_config=ECONOMY,
                      node_config=nodes) as net:  # fmt: skip
        await upload_objects(net, "dash", 1, 100_000)
        acc = net.satellite.accounting
        period, result = await close_current_period(acc, DAY)
        stubs = {p.node_id: p for p in result.paystubs}
        peer = next(p for p in net.nodes if stubs.get(p.identity.id) and stubs[p.identity.id].byte_hours > 0)
        stub = stubs[peer.identity.id]
        assert peer.dashboard_server is not None
        await asyncio.wait_for(peer.dashboard_server.started.wait(), 10)
        url = peer.dashboard_server.url
        async with aiohttp.ClientSession() as http:

            async def shown() -> Any:
                _, s = await get_json(http, f"{url}/api/summary")
                paid, scrub = s["payouts"], s["scrub"]
                # A pass that began after the upload verified every piece the node holds.
                held = peer.store.usage().piece_count
                ready = paid["available"] and paid["paystubs"] and scrub["pieces_checked"] == held
                return s if ready else None

            s = await until(shown, 60)
            p = s["payouts"]
            assert p["currency"] == "USD" and p["fetched_at"] and p["error"] is None
            mine = next(x for x in p["paystubs"] if x["period"] == period.id)
            assert mine["byte_hours"] == stub.byte_hours > 0
            assert int(mine["held_units"]) == stub.held and int(mine["gross_units"]) == stub.gross
            assert set(mine["egress"]) == {"get", "repair", "audit"}
            assert mine["settlement_state"] in (None, "awaiting_settlement") and mine["tx_hash"] is None
            assert mine["paid"] == "0"  # nothing confirmed on chain yet
            assert p["current_period"]["period"] and p["estimated_this_period"] == p["current_period"]["gross"]
            assert p["stake"]["available"] is False and "Stake is off" in p["stake"]["message"]
            _, alone = await get_json(http, f"{url}/api/payouts")
            assert alone["paystubs"][0]["period"] == period.id
            sc = s["scrub"]
            assert sc["available"] and sc["enabled"] and sc["last_run_at"]
            assert sc["pieces_checked"] >= 1 and sc["totals"]["pieces_checked"] >= sc["pieces_checked"]
            assert sc["pieces_damaged"] == 0 and sc["losses"] == []


async def _has_error(node: NodeHarness) -> bool:
    return node.peer.dashboard.reputation_error is not None


async def test_bandwidth_survives_a_restart_through_the_flushed_table(tmp_path: Path) -> None:
    async with running_node(tmp_path / "n") as node:
        await wait_started(node)
        assert (await node.put(new_piece_id(), b"y" * 3000))[0] == 200
    async with running_node(tmp_path / "n") as node:
        url = await wait_started(node)
        _, s = await get_json(node.session, f"{url}/api/summary")
        assert s["bandwidth"]["ingress"]["PUT"] == 3000


async def test_an_unwatched_dashboard_stops_asking_the_satellite_and_a_page_view_asks_at_once(
    tmp_path: Path,
) -> None:
    async with running_node(
        tmp_path / "n", history_interval=0.05, dashboard_refresh=0.05, dashboard_unwatched_refresh=3600
    ) as node:
        url = await wait_started(node)
        svc = node.peer.dashboard

        async def refreshed_after(t: float | None) -> bool:
            return svc.refreshed_at is not None and (t is None or svc.refreshed_at > t)

        async def samples(n: int) -> bool:
            return len(svc.history.read(0, 5000)) >= n

        await until(lambda: refreshed_after(None))
        first = svc.refreshed_at
        await until(lambda: samples(8))  # the chore ran many passes, 0.05 s apart
        assert svc.refreshed_at == first  # but asked the satellite once: nobody watched
        assert (await get_json(node.session, f"{url}/api/summary"))[0] == 200
        await until(lambda: refreshed_after(first), timeout=2.0)  # a viewer: asked at once
        second = svc.refreshed_at
        await until(lambda: refreshed_after(second), timeout=2.0)  # and at the watched pace since


async def test_history_samples_accumulate_and_are_thinned_on_request(tmp_path: Path) -> None:
    async with running_node(tmp_path / "n", history_interval=0.05, dashboard_refresh=0.05) as node:
        url = await wait_started(node)
        assert (await node.put(new_piece_id(), b"z" * 2000))[0] == 200

        async def enough() -> Any:
            _, h = await get_json(node.session, f"{url}/api/history?since=0")
            return h if len(h["samples"]) >= 6 and h["samples"][-1]["ingress"] == 2000 else None

        h = await until(enough)
        assert [s["at"] for s in h["samples"]] == sorted(s["at"] for s in h["samples"])
        assert h["samples"][-1]["used"] == node.peer.store.usage().pieces
        _, thin = await get_json(node.session, f"{url}/api/history?since=0&points=3")
        assert 2 <= len(thin["samples"]) <= 3
        status, err = await get_json(node.session, f"{url}/api/history?points=1")
        assert status == 400 and "points" in err["error"]["message"]


async def test_scores_failed_audits_and_warnings_come_from_the_satellite(satellite, tmp_path: Path) -> None:  # noqa: F811
    async with running_node(tmp_path / "n", satellite=satellite.identity, satellite_url=satellite.api_url) as node:
        url = await wait_started(node)

        async def scored() -> Any:
            _, s = await get_json(node.session, f"{url}/api/summary")
            return s if s["reputation"] else None

        s = await until(scored)
        assert s["reputation"]["scores"]["audit"] == 1.0 and s["warnings"] == []
        assert s["vetting"]["vetted"] is False and s["vetting"]["audits_to_vetting"] > 0
        assert s["exit"]["status"] == "none"
        target = AuditTarget(node.node_id, node.url, 7, 3, "ab" * 32, b"\0" * 32, 4096, 1024)
        await satellite.audits.record(target, Outcome.FAILURE, "piece missing — node answered 404 PieceNotFound")

        async def warned() -> Any:
            _, s = await get_json(node.session, f"{url}/api/summary")
            return s if any(w["kind"] == "failed_audits" for w in s["warnings"]) else None

        s = await until(warned)
        (w,) = [w for w in s["warnings"] if w["kind"] == "failed_audits"]
        assert "404 PieceNotFound" in w["message"]
        # One failure with test parameters (λ=0.98, α₀=50) leaves 0.98: half the margin to 0.96.
        score = next(w for w in s["warnings"] if w["kind"] == "audit_score")
        assert score["severity"] == "critical" and "0.96" in score["message"]
        assert s["reputation"]["disqualified"] is False


async def test_bound_beyond_loopback_the_api_needs_the_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dashboard_token"):
        async with running_node(tmp_path / "a", dashboard_host="0.0.0.0"):
            pass
    async with running_node(tmp_path / "b", dashboard_host="0.0.0.0", dashboard_token="s3cret-token") as node:
        url = await wait_started(node)
        status, err = await get_json(node.session, f"{url}/api/summary")
        assert status == 401 and "dashboard_token" in err["error"]["message"]
        status, _ = await get_json(node.session, f"{url}/api/summary", "wrong")
        assert status == 401
        status, s = await get_json(node.session, f"{url}/api/summary", "s3cret-token")
        assert status == 200 and s["node"]["id"] == node.node_id
        async with node.session.get(f"{url}/") as r:  # the page itself holds no data
            assert r.status == 200 and "dashboard token" in await r.text()


async def test_pages_load_only_their_own_scripts(tmp_path: Path) -> None:
    async with running_node(tmp_path / "n") as node:
        url = await wait_started(node)
        for page in ("/", "/multinode"):
            async with node.session.get(url + page) as r:
                html = await r.text()
            refs = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert refs and all(ref.startswith("/") for ref in refs), refs
            for ref in refs:
                async with node.session.get(url + ref) as r:
                    assert r.status == 200, ref


async def test_multinode_view_totals_and_rows_read_server_side_with_tokens(tmp_path: Path) -> None:
    async with (
        running_node(tmp_path / "a") as a,
        running_node(tmp_path / "b", dashboard_host="0.0.0.0", dashboard_token="tok-b") as b,
    ):
        url_a, url_b = await wait_started(a), await wait_started(b)
        assert (await b.put(new_piece_id(), b"b" * 5000))[0] == 200
        async with a.session.post(f"{url_a}/api/multinode/nodes", json={"url": url_b, "token": "nope"}) as r:
            assert r.status == 400 and "refused the token" in (await r.json())["error"]["message"]
        async with a.session.post(f"{url_a}/api/multinode/nodes", json={"url": "ftp://x"}) as r:
            assert r.status == 400
        async with a.session.post(f"{url_a}/api/multinode/nodes",
                                  json={"url": url_b, "token": "tok-b", "name": "disk b"}) as r:
            assert r.status == 201, await r.text()
            added = await r.json()
        assert added["node_id"] == b.node_id
        _, view = await get_json(a.session, f"{url_a}/api/multinode")
        assert [r["name"] for r in view["nodes"]] == ["this node", "disk b"]
        stored = [r["space"]["stored"] for r in view["nodes"]]
        assert stored[1] == b.peer.store.usage().pieces > 5000
        assert view["totals"]["stored"] == sum(stored) and view["totals"]["nodes"] == 2
        assert "token" not in str(view["nodes"][1].keys())
        async with a.session.delete(f"{url_a}/api/multinode/nodes/{added['id']}") as r:
            assert r.status == 200
        _, view = await get_json(a.session, f"{url_a}/api/multinode")
        assert len(view["nodes"]) == 1
