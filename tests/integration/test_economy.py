"""The economy on a planet: real nodes store and serve pieces through a real gateway and boto3;
nodes settle the GET orders they served; the satellite tallies, closes the period and pays from
its own records; a segment lost on purpose becomes an incident and a credit on the tenant's
statement; operators and admins read it all through ``geoshard node earnings`` and
``geoshard admin payouts`` / ``admin tenant statement`` (real subprocesses)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from common.identity import Identity
from common.messages import Action, OrderLimit, Signed, new_serial, now
from satellite.db.accounting_models import DataLossIncident
from satellite.db.models import OrderSerial
from storage_node.earnings import fetch_earnings, format_earnings
from tests.accounting_fixtures import close_current_period
from tests.planet import planet
from tests.repair_helpers import kill_node, pieces_by_segment, upload_objects

GEOSHARD = [sys.executable, "-m", "geoshard.cli"]
SEGMENT = 64 * 1024
# Orders expire after 3 s (a node settles an order once it expired) and periods are a day
# long, so the whole test sits in one period; tests move the accounting clock, not the wall.
DAY = 86400
ACCOUNTING = {"period_seconds": DAY, "tally_interval": 1, "close_delay": 1, "meter_flush_interval": 0.5,
              "order_settlement_window": 600, "min_payout": "0", "month_seconds": 60, "incident_grace": 0}  # fmt: skip
SATELLITE = {"order_ttl": 3, "accounting": ACCOUNTING}


async def _until(cond, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = await cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _settled(net) -> dict[str, int]:
    async with net.satellite.db.read() as s:
        rows = (await s.execute(select(OrderSerial.node_id, func.sum(OrderSerial.settled_bytes))
                                .where(OrderSerial.action == "GET").group_by(OrderSerial.node_id))).all()  # fmt: skip
    return {n: int(b) for n, b in rows}


async def _cli(net, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GEOSHARD_ADMIN_URL": net.satellite.admin_url,
           "GEOSHARD_ADMIN_TOKEN": net.satellite.config.admin_token}  # fmt: skip
    return await asyncio.to_thread(subprocess.run, [*GEOSHARD, *args], capture_output=True, text=True, env=env,
                                   timeout=120)  # fmt: skip


async def test_nodes_are_paid_for_stored_bytes_and_settled_egress_and_see_it(tmp_path: Path) -> None:
    async with planet(tmp_path, nodes=5, segment_size=SEGMENT, satellite_config=SATELLITE) as net:
        acc = net.satellite.accounting
        objects = await upload_objects(net, "pay", 2, 3 * SEGMENT)
        s3 = net.client()
        _, body = await net.get(s3, Bucket="pay", Key="obj-0")
        assert body == objects["obj-0"]
        await net.s3(s3.list_objects_v2, Bucket="pay")
        await net.s3(s3.head_object, Bucket="pay", Key="obj-1")

        async def all_settled() -> dict[str, int] | None:
            pending = sum(len(p.db.orders.unsettled()) for p in net.nodes)
            return None if pending else await _settled(net)

        settled = await _until(all_settled, what="nodes to settle every GET order they served")
        assert sum(settled.values()) >= len(body)  # at least k shares of every stripe were read

        period, result = await close_current_period(acc, DAY)
        stubs = {p.node_id: p for p in result.paystubs}
        held_pieces = {p.node_id for rows in (await pieces_by_segment(net)).values() for p in rows}
        assert held_pieces <= set(stubs)
        for node_id in held_pieces:
            assert stubs[node_id].byte_hours > 0 and stubs[node_id].gross > 0
            assert stubs[node_id].to_pay == stubs[node_id].gross - stubs[node_id].held  # month 1: 75 % held
        for node_id, nbytes in settled.items():
            assert stubs[node_id].egress == nbytes
        tenant = net.tenants[0].id
        st = next(s for s in result.statements if s.tenant_id == tenant)
        assert st.byte_hours > 0 and st.egress == len(body) and st.class_a >= 4 and st.class_b >= 2
        assert result.period_row.revenue > 0 and result.period_row.reserve_in == st.reserve_share

        # The operator's view, through the node API: the paystub it was just given.
        peer = net.nodes[0]
        earnings = await asyncio.to_thread(
            fetch_earnings, peer.identity, net.satellite.identity.id, net.satellite.api_url
        )
        mine = next(p for p in earnings["paystubs"] if p["period"] == period.id)
        assert mine["byte_hours"] == stubs[peer.identity.id].byte_hours
        assert int(earnings["held_total_units"]) == stubs[peer.identity.id].held_balance
        assert any(period.id in line for line in format_earnings(earnings))

        # The admin's view, through the CLI.
        out = await _cli(net, "admin", "payouts", "periods", "--json")
        assert out.returncode == 0, out.stderr
        row = json.loads(out.stdout)["periods"][0]
        # accounting handed the period to settlement at once (satellite/peer.py connects them)
        assert row["period"] == period.id and row["settlement"] == "planned"
        out = await _cli(net, "admin", "settlement", "periods", "--json")
        assert out.returncode == 0, out.stderr
        planned = json.loads(out.stdout)["periods"]
        assert [p["period"] for p in planned] == [period.id] and planned[0]["payees"] == len(held_pieces)
        pr = result.period_row
        assert int(row["margin_units"]) == pr.revenue - pr.gross - (pr.reserve_in - pr.forfeited)
        out = await _cli(net, "admin", "tenant", "statement", "alpha", "--period", period.id, "--csv")
        assert out.returncode == 0, out.stderr
        lines = list(csv.DictReader(io.StringIO(out.stdout)))
        assert [r["item"] for r in lines] == ["storage", "egress", "requests", "credits", "total"]
        again = await _cli(net, "admin", "payouts", "close", period.id)
        assert again.returncode == 1 and "already closed" in again.stderr


async def test_a_segment_lost_on_purpose_becomes_an_incident_and_a_credit_on_the_statement(tmp_path: Path) -> None:
    async with planet(tmp_path, nodes=5, scheme="2/3/4/5", segment_size=SEGMENT, satellite_config=SATELLITE) as net:
        acc = net.satellite.accounting
        await upload_objects(net, "fragile", 1, SEGMENT // 2)
        ((segment_id, rows),) = (await pieces_by_segment(net)).items()
        doomed = [p.node_id for p in rows][: len(rows) - 1]  # more than n - k: one piece left, k = 2
        for node_id in doomed:
            await kill_node(net, node_id)
        await net.satellite.repair.checker.run_pass()
        await net.satellite.repair.checker.run_pass()  # seen twice: still one incident
        async with net.satellite.db.read() as s:
            incidents = list((await s.execute(select(DataLossIncident))).scalars())
        assert [(i.segment_id, i.bucket, i.key, i.tenant_id, i.healthy, i.k) for i in incidents] == [
            (segment_id, "fragile", "obj-0", net.tenants[0].id, 1, 2)
        ]
        assert incidents[0].bytes == SEGMENT // 2 and incidents[0].credit == int(
            incidents[0].bytes * acc.prices.compensation
        )

        manual = await _cli(net, "admin", "payouts", "credit", "alpha", "2.50", "--reason", "slow reads in March")
        assert manual.returncode == 0, manual.stderr
        bad = await _cli(net, "admin", "payouts", "credit", "alpha", "-1", "--reason", "oops")
        assert bad.returncode == 1 and "positive" in bad.stderr
        out = await _cli(net, "admin", "payouts", "incidents", "--json")
        assert json.loads(out.stdout)["incidents"][0]["key"] == "obj-0"
        out = await _cli(net, "admin", "payouts", "reserve", "--json")
        reserve = json.loads(out.stdout)
        assert [m["kind"] for m in reserve["movements"]] == ["manual_credit", "incident_credit"]
        assert int(reserve["balance_units"]) == -(incidents[0].credit + acc.prices.from_currency(Decimal("2.50")))

        out = await _cli(net, "admin", "tenant", "statement", "alpha", "--json")
        statement = json.loads(out.stdout)
        assert statement["estimate"] is True
        assert int(statement["credits_units"]) == incidents[0].credit + acc.prices.from_currency(Decimal("2.50"))
        assert sorted(e["kind"] for e in statement["credit_entries"]) == ["incident_credit", "manual_credit"]
        assert any(e["reason"] == "slow reads in March" for e in statement["credit_entries"])
        beta = json.loads((await _cli(net, "admin", "tenant", "statement", "beta", "--json")).stdout)
        assert beta["credits_units"] == "0"


async def test_a_node_logs_each_rejected_order_with_its_reason_and_shows_its_earnings(tmp_path: Path, caplog) -> None:
    async with planet(tmp_path, nodes=3, scheme="1/2/3/3", segment_size=SEGMENT, satellite_config=SATELLITE) as net:
        peer = net.nodes[0]
        stranger = Identity.generate()  # signs an order no satellite of ours issued
        t = now()
        forged = Signed.sign(stranger, OrderLimit(serial=new_serial(), satellite_id=net.satellite.identity.id,
                                                  node_id=peer.identity.id, piece_id="cd" * 32, action=Action.GET,
                                                  max_bytes=100, expires=t - 1, created=t - 10))  # fmt: skip
        peer.db.orders.reserve_download(forged, 100)
        with caplog.at_level("WARNING", logger="storage_node.settlement"):
            assert await peer.settlement.run_once() == 1
        assert "satellite rejected order" in caplog.text and "forged" in caplog.text
        assert peer.db.orders.unsettled() == [] and peer.settlement.state.rejected == 1
        async with net.satellite.db.read() as s:
            assert (await s.execute(select(func.count()).select_from(OrderSerial))).scalar() == 0

        config = tmp_path / "node0.toml"
        peer.config.save(config)
        out = await _cli(net, "node", "earnings", "--config", str(config), "--json")
        assert out.returncode == 0, out.stderr
        earnings = json.loads(out.stdout)
        assert earnings["node_id"] == peer.identity.id and earnings["currency"] == "USD"
        text = await _cli(net, "node", "earnings", "--config", str(config))
        assert "held total" in text.stdout and "paystubs     none yet" in text.stdout
        status = await _cli(net, "node", "status", "--config", str(config), "--json")
        assert json.loads(status.stdout)["earnings"]["held_total"] == "0"
