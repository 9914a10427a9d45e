"""The real ``geoshard node`` commands as an operator runs them: init, run, status."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from pathlib import Path

import aiohttp
from aiohttp import web

from common.identity import Identity
from common.messages import Action, CheckIn, OrderLimit, PieceReceipt, Signed, new_serial, now
from storage_node.contact import CHECKIN_PATH
from storage_node.piecestore.verification import encode_order_header
from tests.node_fixtures import files_on_disk, new_piece_id
from tests.ops_fixtures import GEOSHARD


async def _cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *GEOSHARD, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode(), err.decode()


async def _start_node(config: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        *GEOSHARD, "node", "run", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
    m = re.search(r"serving at (http://\S+)", line)
    assert m, f"unexpected first line from node run: {line!r}"
    return proc, m.group(1)


async def _stop(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), 20)


def _order(sat: Identity, node_id: str, piece_id: str, action: Action, serial: str | None = None) -> str:
    t = now()
    return encode_order_header(Signed.sign(sat, OrderLimit(
        serial=serial or new_serial(), satellite_id=sat.id, node_id=node_id, piece_id=piece_id,
        action=action, max_bytes=1 << 24, expires=t + 60, created=t,
    )))


async def test_init_run_put_get_checkin_status_and_replay_after_restart(tmp_path):
    sat = Identity.generate()
    checkins: list[dict] = []

    async def checkin(request: web.Request) -> web.Response:
        checkins.append(await request.json())
        return web.json_response({"ok": True})

    async def identity(_request: web.Request) -> web.Response:
        return web.json_response({"id": sat.id})

    app = web.Application()
    app.router.add_post(CHECKIN_PATH, checkin)
    app.router.add_get("/api/v1/identity", identity)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    sat_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    data = tmp_path / "node"
    config = data / "config.toml"
    try:
        code, out, err = await _cli(
            "node", "init", "--data", str(data), "--capacity", "50MB", "--country", "DE",
            "--region", "eu", "--wallet", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "--satellite", f"{sat.id}@{sat_url}", "--port", "0", "--listen-host", "127.0.0.1",
        )
        assert code == 0, err
        node_id = Identity.load(data / "identity.pem").id

        proc, url = await _start_node(config)
        try:
            pid, payload = new_piece_id(), os.urandom(300_000)
            serial = new_serial()
            async with aiohttp.ClientSession() as s:
                h = {"Geoshard-Order-Limit": _order(sat, node_id, pid, Action.PUT, serial),
                     "Geoshard-Leaf-Size": "4096"}
                async with s.put(f"{url}/v1/pieces/{pid}", data=payload, headers=h) as r:
                    assert r.status == 200, await r.text()
                    Signed.from_json((await r.json())["receipt"], PieceReceipt).verify(node_id)
                h = {"Geoshard-Order-Limit": _order(sat, node_id, pid, Action.GET)}
                async with s.get(f"{url}/v1/pieces/{pid}", headers=h) as r:
                    assert r.status == 200 and await r.read() == payload
            for _ in range(100):
                if checkins:
                    break
                await asyncio.sleep(0.05)
            ci = Signed.from_json(checkins[0], CheckIn).verify(node_id)
            assert ci.country == "DE" and ci.address == url
        finally:
            assert await _stop(proc) == 0

        code, out, _ = await _cli("node", "status", "--config", str(config), "--json")
        st = json.loads(out)
        assert code == 0 and st["node_id"] == node_id and st["piece_count"] == 1
        assert st["used"] == sum(files_on_disk(data).values()) and st["free"] == 50_000_000 - st["used"]
        assert st["unsettled_egress_bytes"] == len(payload)

        # a restarted process still refuses the spent serial, for any piece id
        proc, url = await _start_node(config)
        try:
            other = new_piece_id()
            async with aiohttp.ClientSession() as s:
                h = {"Geoshard-Order-Limit": _order(sat, node_id, other, Action.PUT, serial),
                     "Geoshard-Leaf-Size": "4096"}
                async with s.put(f"{url}/v1/pieces/{other}", data=b"replay", headers=h) as r:
                    assert r.status == 409 and (await r.json())["error"] == "SerialAlreadyUsed"
        finally:
            assert await _stop(proc) == 0
        code, out, _ = await _cli("node", "status", "--config", str(config))
        assert code == 0 and re.search(r"pieces\s+1 ", out), out
    finally:
        await runner.cleanup()
