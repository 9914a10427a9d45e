"""A bucket's policy migration shows its progress: a percentage in the admin API, a bar in the CLI.

A planet (real nodes over HTTP, one process): objects stored under the ``global`` policy, the
bucket moved to ``eu``, and the repairers stepped one job at a time while the API's percentage
and ``geoshard admin bucket migration --watch`` follow them to 100 %.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from common.piece_client import PieceClient
from geoshard.cli import main
from tests.planet import Planet, planet
from tests.repair_helpers import read_all, upload_objects

SEGMENT = 64 * 1024


async def _migration(net: Planet, bucket: str) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
    url = f"{net.satellite.admin_url}/v1/buckets/{bucket}/migration"
    async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as r:
        return r.status, await r.json()


def _admin(net: Planet, *argv: str) -> list[str]:
    return ["admin", "--url", net.satellite.admin_url, "--token", net.satellite.config.admin_token, *argv]


async def test_a_policy_migration_reports_progress_until_done_in_the_api_and_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with planet(tmp_path, nodes=8, segment_size=SEGMENT) as net:
        objects = await upload_objects(net, "data", 4, 2 * SEGMENT + 100)
        status, m = await _migration(net, "data")
        assert status == 200 and m["state"] == "done" and m["progress"] == 1.0 and m["policy"] == "global"
        remote = m["segments"]["remote"]
        assert remote >= 8

        headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
        async with aiohttp.ClientSession() as s:
            url = f"{net.satellite.admin_url}/v1/buckets/data/policy"
            async with s.put(url, json={"policy": "eu"}, headers=headers) as r:
                assert r.status == 200, await r.text()
        _, start = await _migration(net, "data")
        assert start["state"] == "migrating" and start["policy"] == "eu"
        assert start["pieces"]["out_of_policy"] > 0 and start["progress"] < 1.0
        assert start["segments"]["in_policy"] + start["segments"]["out_of_policy"] == remote

        # The CLI watches while the repairers work, one job at a time.
        capsys.readouterr()
        watch = asyncio.create_task(asyncio.to_thread(
            main, _admin(net, "bucket", "migration", "data", "--watch", "--interval", "0.05", "--timeout", "120")
        ))  # fmt: skip
        await net.satellite.repair.checker.run_pass()
        seen = [start["progress"]]
        async with PieceClient.new_session() as session:
            repairer = net.satellite.repair.new_repairer(PieceClient(session))
            while await repairer.run_once() is not None:
                _, m = await _migration(net, "data")
                seen.append(m["progress"])
        assert await asyncio.wait_for(watch, 120) == 0
        assert seen == sorted(seen) and seen[-1] == 1.0, seen
        assert any(start["progress"] < p < 1.0 for p in seen), f"no step between start and done: {seen}"
        _, end = await _migration(net, "data")
        assert end["state"] == "done" and end["pieces"]["out_of_policy"] == 0
        assert end["segments"] == {"remote": remote, "in_policy": remote, "out_of_policy": 0, "inline": 0}

        out = capsys.readouterr().out.splitlines()
        bars = [float(p) for line in out for p in re.findall(r"\]\s+([\d.]+)% (?:migrating|done)", line)]
        assert bars and bars[-1] == 100.0 and "done" in out[-1], out
        assert bars == sorted(bars)  # a line per redraw (not a terminal), never going back
        assert f"{remote} of {remote} segments in policy eu" in out[-1]

        # Once, without --watch; and --json gives the API's numbers.
        assert await asyncio.to_thread(main, _admin(net, "--json", "bucket", "migration", "data")) == 0
        assert '"progress": 1.0' in capsys.readouterr().out
        await read_all(net, "data", objects)


async def test_migration_of_an_unknown_bucket_is_404_and_the_cli_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with planet(tmp_path, nodes=5) as net:
        status, body = await _migration(net, "nope")
        assert status == 404 and "nope" in str(body)
        capsys.readouterr()
        assert await asyncio.to_thread(main, _admin(net, "bucket", "migration", "nope")) == 1
        assert "no bucket 'nope'" in capsys.readouterr().err
