"""The check-in loop against a small real aiohttp stand-in for the satellite."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from common.errors import SignatureError
from common.identity import Identity
from common.messages import CheckIn, Signed
from storage_node import contact
from tests.node_fixtures import new_piece_id, running_node


@dataclass
class StandIn:
    fail_first: int = 0
    seen: list[tuple[float, dict]] = field(default_factory=list)

    async def checkin(self, request: web.Request) -> web.Response:
        self.seen.append((time.monotonic(), await request.json()))
        if len(self.seen) <= self.fail_first:
            return web.json_response({"error": "Unavailable", "message": "restarting"}, status=503)
        return web.json_response({"ok": True})


@contextlib.asynccontextmanager
async def _satellite(stand_in: StandIn, port: int = 0) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post(contact.CHECKIN_PATH, stand_in.checkin)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _until(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_checkin_is_signed_and_reports_space(tmp_path):
    stand_in = StandIn()
    satellite = Identity.generate()
    async with _satellite(stand_in) as url, running_node(
        tmp_path, satellite, satellite_url=url, checkin_interval=0.1, country="FR", region="eu-west"
    ) as node:
        await node.put(new_piece_id(), os.urandom(5000))
        await _until(lambda: len(stand_in.seen) >= 3)
        _, body = stand_in.seen[-1]
        msg = Signed.from_json(body, CheckIn).verify(node.node_id)
        assert msg.node_id == node.node_id and msg.address == node.peer.address
        assert msg.country == "FR" and msg.region == "eu-west"
        assert msg.wallet == node.peer.config.wallet and msg.version
        assert msg.capacity == node.peer.config.capacity
        assert msg.used == node.used_on_disk() > 5000 and msg.free == msg.capacity - msg.used
        # a tampered check-in does not verify
        body["message"]["used"] = 0
        with pytest.raises(SignatureError):
            Signed.from_json(body, CheckIn).verify(node.node_id)


async def test_checkin_backs_off_exponentially_while_the_satellite_fails(tmp_path):
    stand_in = StandIn(fail_first=4)
    async with _satellite(stand_in) as url, running_node(
        tmp_path, satellite_url=url, checkin_retry_min=0.05, checkin_retry_max=0.3, checkin_interval=5
    ) as node:
        await _until(lambda: node.peer.contact.state.successes == 1)
        times = [t for t, _ in stand_in.seen]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        # 0.05, 0.1, 0.2, then capped at 0.3: each gap at least its backoff (which proves
        # the doubling); the upper bound is loose because CI machines are shared
        for gap, expected in zip(gaps, [0.05, 0.1, 0.2, 0.3], strict=True):
            assert expected * 0.9 <= gap <= expected + 1.0, gaps
        st = node.peer.contact.state
        assert st.consecutive_failures == 0 and st.last_error is None and st.next_delay == 5


async def test_checkin_recovers_when_an_unreachable_satellite_comes_up(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with running_node(
        tmp_path, satellite_url=f"http://127.0.0.1:{port}", checkin_retry_min=0.05, checkin_retry_max=0.2
    ) as node:
        st = node.peer.contact.state
        await _until(lambda: st.consecutive_failures >= 3)
        assert "connect" in (st.last_error or "").lower()
        assert st.next_delay == 0.2 and st.successes == 0
        stand_in = StandIn()
        async with _satellite(stand_in, port):
            await _until(lambda: st.successes >= 1)
            assert st.consecutive_failures == 0 and len(stand_in.seen) >= 1
