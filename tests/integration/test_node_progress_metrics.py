"""A node's long retain pass shows its progress, and its dashboard port serves metrics that move.

Real node peers on loopback (no mocks): pieces uploaded through the piece-store API, a
satellite-signed retain list posted to it, the dashboard's JSON API and ``/metrics`` read over
HTTP, and ``geoshard node status`` run as an operator runs it.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import storage_node.pieces.retain_progress as rp
from common.messages import RetainList, Signed, now
from common.retain import build_retain_filter
from geoshard.cli import main
from tests.node_fixtures import NodeHarness, new_piece_id, running_node

PIECES = 150
KEEP = 50


async def _post_retain(node: NodeHarness, keep: list[str], created_before: int) -> None:
    bloom = build_retain_filter(keep, false_positive_rate=1e-9)  # exact counts: no random id is spared
    r = RetainList(
        satellite_id=node.satellite.id, node_id=node.node_id, created_before=created_before,
        hash_count=bloom.hash_count, bloom=bytes(bloom.bits), piece_count=len(keep),
    )  # fmt: skip
    async with node.session.post(f"{node.url}/v1/retain", data=Signed.sign(node.satellite, r).dumps()) as resp:
        assert resp.status == 202, await resp.text()
    await node.peer.retain.wait_idle()


def _dashboard(node: NodeHarness) -> str:
    assert node.peer.dashboard_server is not None and node.peer.dashboard_server.url
    return node.peer.dashboard_server.url


async def _started(node: NodeHarness) -> None:
    assert node.peer.dashboard_server is not None
    await asyncio.wait_for(node.peer.dashboard_server.started.wait(), 30)


def _metric(text: str, name: str, labels: str = "") -> float:
    """The sample of ``name`` (the first whose labels contain ``labels``)."""
    for m in re.finditer(rf"^{name}(\{{.*\}})? (\S+)$", text, re.M):
        if labels in (m.group(1) or ""):
            return float(m.group(2))
    raise AssertionError(f"{name} {labels} not in the scrape")


async def test_a_retain_pass_reports_its_progress_in_the_api_and_as_a_bar_in_node_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Record every state the pass writes (each step, with no rate limit), then let it write as usual.
    monkeypatch.setattr(rp, "WRITE_EVERY", 0.0)
    seen: list[dict[str, Any]] = []
    save = rp.RetainProgress.save

    def recording_save(self: rp.RetainProgress, root: Path) -> None:
        seen.append(self.to_json())
        save(self, root)

    monkeypatch.setattr(rp.RetainProgress, "save", recording_save)
    async with running_node(tmp_path, dashboard_port=0, trash_grace=3600, chore_interval=3600) as node:
        await _started(node)
        async with node.session.get(f"{_dashboard(node)}/api/retain") as r:
            assert r.status == 200 and (await r.json())["state"] == "none"  # nothing applied yet
        ids = [new_piece_id() for _ in range(PIECES)]
        for pid in ids:
            assert (await node.put(pid, os.urandom(600)))[0] == 200
        cutoff = now() + 1
        while now() < cutoff:
            await asyncio.sleep(0.02)
        await _post_retain(node, ids[:KEEP], cutoff)

        assert seen[0]["state"] == "running" and seen[0]["progress"] == 0.0 and seen[0]["total"] == PIECES
        running = [s for s in seen if s["state"] == "running"]
        fractions = [s["progress"] for s in running]
        assert fractions == sorted(fractions) and any(0.3 < f < 0.7 for f in fractions), fractions
        assert [s["checked"] for s in running] == list(range(len(running)))  # one write per piece checked
        done = seen[-1]
        assert done["state"] == "done" and done["progress"] == 1.0
        assert (done["checked"], done["kept"], done["trashed"]) == (PIECES, KEEP, PIECES - KEEP)

        async with node.session.get(f"{_dashboard(node)}/api/retain") as r:
            api = await r.json()
        assert api["state"] == "done" and api["progress"] == 1.0 and api["trashed"] == PIECES - KEEP

        config = tmp_path / "config.toml"
        node.peer.config.save(config)
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["node", "status", "--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert "retain       last pass" in out and f"{KEEP} kept, {PIECES - KEEP} moved to trash" in out, out

    # A pass in the middle, as another process reads it from the file: a bar and the counts so far.
    rp.RetainProgress(cutoff, KEEP, PIECES, started_at=1.0, checked=60, kept=20, trashed=40).save(tmp_path)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["node", "status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "retain       [############··················]  40.0% 60 of ~150 pieces checked, 40 moved" in out, out


async def test_the_dashboard_port_serves_metrics_that_move_with_stored_pieces_and_retain_passes(
    tmp_path: Path,
) -> None:
    async with running_node(tmp_path, dashboard_port=0, trash_grace=3600, chore_interval=3600) as node:
        await _started(node)
        url = _dashboard(node)
        async with aiohttp.ClientSession() as http:  # no token, no cookie: a Prometheus scrape
            async with http.get(f"{url}/health") as r:
                assert r.status == 200 and (await r.json())["status"] == "ok"

            async def scrape() -> str:
                async with http.get(f"{url}/metrics") as r:
                    assert r.status == 200 and r.content_type.startswith("text/plain")
                    return await r.text()

            before = await scrape()
            assert _metric(before, "geoshard_node_pieces") == 0
            ids = [new_piece_id() for _ in range(6)]
            for pid in ids:
                assert (await node.put(pid, os.urandom(5000)))[0] == 200
            stored = await scrape()
            assert _metric(stored, "geoshard_node_pieces") == 6
            assert _metric(stored, "geoshard_node_piece_bytes") == node.peer.store.usage().pieces > 6 * 5000
            # The piece store's request counter: one registry behind both ports.
            assert _metric(stored, "geoshard_node_http_requests_total", 'operation="PUT') == 6
            assert _metric(stored, "geoshard_node_free_bytes") < _metric(before, "geoshard_node_free_bytes")
            cutoff = now() + 1
            while now() < cutoff:
                await asyncio.sleep(0.02)
            await _post_retain(node, ids[:2], cutoff)
            after = await scrape()
            assert _metric(after, "geoshard_node_pieces") == 2
            assert _metric(after, "geoshard_node_retain_trashed_pieces_total") == 4
            assert _metric(after, "geoshard_node_retain_pass_progress") == 1.0
            assert _metric(after, "geoshard_node_trash_bytes") > 0
