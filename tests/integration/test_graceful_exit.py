"""Graceful exit end to end with real nodes, on SQLite and PostgreSQL: a node asks to leave,
the exit chore copies its pieces to other nodes, and the exit completes with every object
still readable; failure rules and the request's authentication."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import Counter

import aiohttp
import pytest
from sqlalchemy import func, select

from common.identity import Identity
from common.messages import ExitRequest, Signed, now
from satellite.db.models import PieceRow
from storage_node.cli import cmd_exit
from storage_node.gracefulexit import ExitUnavailable, format_exit, request_exit
from storage_node.peer import Peer
from storage_node.pieces.store import scan_usage
from tests.planet import Planet, planet
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

SEGMENT = 64 * 1024
# The chore's clock is moved past the settle time in tests; nodes must not look offline then.
CONFIG = {"exit_max_offline": 600, "online_window": 600, "gc_false_positive_rate": 1e-9, "exit_batch_size": 8}


async def pieces_on(net: Planet) -> Counter[str]:
    async with net.satellite.db.read() as s:
        rows = await s.execute(select(PieceRow.node_id, func.count()).group_by(PieceRow.node_id))
        return Counter(dict(rows.all()))


async def ask(net: Planet, node: Peer, action: str) -> dict:
    sat = net.satellite
    return await asyncio.to_thread(request_exit, node.identity, sat.identity.id, sat.api_url, action)


async def upload(net: Planet, s3, count: int, prefix: str) -> dict[str, bytes]:
    sizes = [5000, SEGMENT + 1, 3 * SEGMENT, 20_000] * count
    objects = {f"{prefix}{i}": os.urandom(size) for i, size in enumerate(sizes)}
    for key, data in objects.items():
        await net.s3(s3.put_object, Bucket="bucket", Key=key, Body=data)
    return objects


async def test_exit_moves_every_piece_and_completes(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, nodes=8, database=db, segment_size=SEGMENT, satellite_config=CONFIG) as net:
        sat = net.satellite
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="bucket")
        objects = await upload(net, s3, 2, "a")
        # More pieces than one exit batch (8) on the leaving node; placement is random and
        # the long tail drops the slowest uploads, so top up until one node holds enough.
        for extra in range(3):
            if (await pieces_on(net)).most_common(1)[0][1] >= 10:
                break
            objects |= await upload(net, s3, 1, f"a{extra}-")
        leaving = net.node_of((await pieces_on(net)).most_common(1)[0][0])
        held = (await pieces_on(net))[leaving.identity.id]
        assert held >= 10

        assert (await ask(net, leaving, "status"))["status"] == "none"
        state = await ask(net, leaving, "begin")
        assert (state["status"], state["pieces_at_start"], state["pieces_remaining"]) == ("exiting", held, held)
        assert state["held_amount_releasable"] is False
        assert (await ask(net, leaving, "begin"))["initiated_at"] == state["initiated_at"]  # asking twice is harmless

        # No new pieces for an exiting node.
        objects |= await upload(net, s3, 1, "b")
        assert (await pieces_on(net))[leaving.identity.id] == held

        # Step the chore; the operator sees progress after every pass.
        remaining = [held]
        for _ in range(20):
            report = await sat.exit_chore.run_once()
            st = await ask(net, leaving, "status")
            assert st["status"] == "exiting" and st["pieces_failed"] == 0, report
            assert st["pieces_remaining"] + st["pieces_transferred"] == held
            remaining.append(st["pieces_remaining"])
            if not st["pieces_remaining"]:
                break
        assert remaining[-1] == 0 and remaining == sorted(remaining, reverse=True) and len(remaining) > 2
        assert f"{held} moved" in "\n".join(format_exit(st))
        # Not done yet: a segment begun before the exit could still commit a piece on the node.
        assert not (await sat.exit_chore.run_once()).finished
        done = await sat.exit_chore.run_once(now=time.time() + sat.exit_chore.config.settle + 1)
        assert done.finished == {leaving.identity.id: "exited"}
        st = await ask(net, leaving, "status")
        assert (st["status"], st["pieces_transferred"], st["held_amount_releasable"]) == ("exited", held, True)
        assert st["bytes_transferred"] > 0 and st["finished_at"]

        # Every object reads, none from the exited node; new uploads avoid it.
        assert leaving.identity.id not in await pieces_on(net)
        objects |= await upload(net, s3, 1, "c")
        assert leaving.identity.id not in await pieces_on(net)
        for key, data in objects.items():
            _, body = await net.get(s3, Bucket="bucket", Key=key)
            assert body == data, key

        # The admin sees it; and the next retain list (empty) frees the exited node's disk.
        auth = {"Authorization": f"Bearer {sat.config.admin_token}"}
        async with aiohttp.ClientSession(headers=auth) as http, http.get(
            f"{sat.admin_url}/v1/nodes/{leaving.identity.id}"
        ) as r:
            shown = await r.json()
        assert shown["graceful_exit"]["status"] == "exited" and shown["graceful_exit"]["pieces_transferred"] == held
        later = time.time() + sat.gc.config.margin + 2
        await sat.gc.run_cycle(now=later)
        await leaving.retain.wait_idle()
        assert scan_usage(leaving.config.data_dir).piece_count == 0


async def test_exit_fails_when_the_node_lost_its_pieces_and_data_stays_readable(tmp_path) -> None:
    async with planet(tmp_path, nodes=8, segment_size=SEGMENT, satellite_config=CONFIG) as net:
        sat = net.satellite
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="bucket")
        objects = await upload(net, s3, 2, "a")
        leaving = net.node_of((await pieces_on(net)).most_common(1)[0][0])
        held = (await pieces_on(net))[leaving.identity.id]
        for piece_id, _ in list(leaving.store.walk()):  # the operator wiped the disk
            leaving.store.delete(piece_id)
        await ask(net, leaving, "begin")
        report = await sat.exit_chore.run_once()
        assert report.outcomes[leaving.identity.id]["failed"] == min(held, sat.exit_chore.config.batch_size)
        report = await sat.exit_chore.run_once()
        (verdict,) = report.finished.values()
        assert verdict.startswith("failed:") and "transfers failed" in verdict
        st = await ask(net, leaving, "status")
        assert st["status"] == "failed" and st["held_amount_releasable"] is False and st["reason"]
        for key, data in objects.items():  # the lost pieces were one of several per segment
            _, body = await net.get(s3, Bucket="bucket", Key=key)
            assert body == data, key


async def test_exit_fails_when_the_node_stays_offline(tmp_path) -> None:
    async with planet(tmp_path, nodes=6, segment_size=SEGMENT) as net:
        sat = net.satellite
        leaving = net.nodes[0]
        await ask(net, leaving, "begin")
        assert not (await sat.exit_chore.run_once()).finished
        report = await sat.exit_chore.run_once(now=time.time() + sat.exit_chore.config.max_offline + 5)
        assert report.finished[leaving.identity.id].startswith("failed: offline for")


async def test_exit_requests_must_be_signed_by_the_node_for_this_satellite(tmp_path) -> None:
    async with planet(tmp_path, nodes=5) as net:
        sat, node = net.satellite, net.nodes[0]
        rogue = Identity.generate()

        async def post(signer: Identity, **fields: object) -> tuple[int, dict]:
            msg = {"node_id": node.identity.id, "satellite_id": sat.identity.id, "action": "begin", "timestamp": now()}
            msg.update(fields)
            body = Signed.sign(signer, ExitRequest(**msg)).dumps()  # type: ignore[arg-type]
            async with aiohttp.ClientSession() as http, http.post(f"{sat.api_url}/api/v1/nodes/exit", data=body) as r:
                return r.status, await r.json()

        assert (await post(rogue))[0] == 403  # someone else asking for this node
        assert (await post(node.identity, satellite_id=rogue.id))[0] == 403
        assert (await post(node.identity, timestamp=now() - 3600))[0] == 403  # a replayed old request
        assert (await post(rogue, node_id=rogue.id))[0] == 404  # a node the satellite never met
        assert (await ask(net, node, "status"))["status"] == "none"  # nothing happened
        await sat.nodes.disqualify(net.nodes[1].identity.id, "test")
        with pytest.raises(ExitUnavailable, match=r"403.*disqualified"):
            await ask(net, net.nodes[1], "begin")
        status, state = await post(node.identity)
        assert status == 200 and state["status"] == "exiting"


async def test_node_exit_command_begins_and_reports(tmp_path, capsys) -> None:
    async with planet(tmp_path, nodes=5) as net:
        node = net.nodes[0]
        config = tmp_path / "node0.toml"
        node.config.save(config)
        ns = argparse.Namespace(config=config, status=False, yes=True, json=False)
        assert await asyncio.to_thread(cmd_exit, ns) == 0
        assert "exit         exiting" in capsys.readouterr().out
        ns = argparse.Namespace(config=config, status=True, yes=False, json=True)
        assert await asyncio.to_thread(cmd_exit, ns) == 0
        assert json.loads(capsys.readouterr().out)["status"] == "exiting"
        assert (await net.satellite.graceful_exit.status(node.identity.id)).status == "exiting"
