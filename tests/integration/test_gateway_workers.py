"""``geoshard gateway run --workers 2``: two processes on one port that a client cannot tell from one.

Each connection is traced to the worker that accepted it (its socket in the worker's
``/proc`` entries), so the test can say which process answered: connections spread over
both workers, a bucket setting changed through one is seen through the other at once
(though each caches settings for 60 s), the parent's ``/metrics`` sums both, and a worker
killed with SIGKILL is replaced while the port keeps answering.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import os
import re
import signal
import time
from urllib.parse import urlsplit

import aiohttp
import psutil
from botocore.credentials import Credentials

from tests.gateway_process import GatewayProcess, gateway_process
from tests.planet import planet
from tests.s3_requests import sign

CORS = (b"<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin>"
        b"<AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>")  # fmt: skip


class Conn:
    """One keep-alive connection to the gateway, and the worker that accepted it."""

    def __init__(self, gw: GatewayProcess, creds: Credentials) -> None:
        u = urlsplit(gw.url)
        self.base, self.creds = gw.url, creds
        self.http = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.http.connect()
        local = self.http.sock.getsockname()[1]
        self.worker = _owner(gw, u.port or 0, local)

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
             *, signed: bool = True) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        hdrs = dict(headers or {})
        if signed:
            prepared = sign("v4", method, self.base + path, body, hdrs, credentials=self.creds).prepare()
            hdrs = dict(prepared.headers.items())
        self.http.request(method, path, body=body or None, headers=hdrs)
        resp = self.http.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()


def _owner(gw: GatewayProcess, port: int, local_port: int) -> int:
    """The worker pid whose socket is the server end of the connection from ``local_port``."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for pid in gw.workers():
            for c in psutil.Process(pid).net_connections(kind="tcp"):
                if c.laddr and c.raddr and c.laddr.port == port and c.raddr.port == local_port:
                    return pid
        time.sleep(0.02)  # accepted by the kernel, not yet by a worker's event loop
    raise AssertionError(f"no worker holds the connection from port {local_port}")


def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if m and ",".join(sorted(m.group(1).split(","))) == want:
            return float(m.group(2))
    return 0.0


async def _scrape(gw: GatewayProcess) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{gw.metrics_url}/metrics") as r:
        assert r.status == 200
        return await r.text()


async def test_two_workers_answer_as_one_gateway_and_a_killed_worker_is_replaced(tmp_path):
    async with planet(tmp_path, nodes=5, scheme="2/3/4/5") as net:
        tenant = net.tenants[0]
        creds = Credentials(tenant.access_key, tenant.secret_key)
        token = net.satellite.config.gateway_token
        async with gateway_process(tmp_path / "gw", net.satellite.api_url, token,
                                   "--workers", "2", "--metrics-port", "0") as gw:  # fmt: skip
            assert len(gw.workers()) == 2 and gw.metrics_url
            conns = [await asyncio.to_thread(Conn, gw, creds) for _ in range(16)]
            by_worker: dict[int, list[Conn]] = {}
            for c in conns:
                by_worker.setdefault(c.worker, []).append(c)
            assert len(by_worker) == 2, f"all 16 connections went to one worker: {list(by_worker)}"
            a, b = (v[0] for v in by_worker.values())

            for c in conns:  # one ListBuckets per connection: 16 requests over both workers
                status, _, body = await asyncio.to_thread(c.send, "GET", "/")
                assert status == 200, body
            text = await _scrape(gw)
            assert _metric(text, "geoshard_s3_requests_total", operation="ListBuckets", status="200") == 16

            status, _, body = await asyncio.to_thread(a.send, "PUT", "/web")
            assert status == 200, body
            preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
            status, _, _ = await asyncio.to_thread(b.send, "OPTIONS", "/web/page", headers=preflight, signed=False)
            assert status == 403  # no rules yet, and worker b now caches that for 60 s
            md5 = base64.b64encode(hashlib.md5(CORS).digest()).decode()
            status, _, body = await asyncio.to_thread(a.send, "PUT", "/web?cors", CORS, {"Content-MD5": md5})
            assert status == 200, body
            status, headers, _ = await asyncio.to_thread(b.send, "OPTIONS", "/web/page", headers=preflight,
                                                         signed=False)  # fmt: skip
            assert status == 200, "worker b served its cached rules after worker a changed them"
            assert headers["Access-Control-Allow-Origin"] == "https://app.example"

            killed = a.worker
            os.kill(killed, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while not (len(gw.workers()) == 2 and killed not in gw.workers()):
                assert time.monotonic() < deadline, "the killed worker was not replaced"
                await asyncio.sleep(0.1)
            fresh = [await asyncio.to_thread(Conn, gw, creds) for _ in range(8)]
            for c in fresh:
                status, _, body = await asyncio.to_thread(c.send, "GET", "/")
                assert status == 200, body
            assert killed not in {c.worker for c in fresh}
            status, _, _ = await asyncio.to_thread(fresh[0].send, "OPTIONS", "/web/page", headers=preflight,
                                                   signed=False)  # fmt: skip
            assert status == 200
            text = await _scrape(gw)  # the killed worker's counts stay in the sum
            assert _metric(text, "geoshard_s3_requests_total", operation="ListBuckets", status="200") == 24
            for c in conns + fresh:
                c.http.close()
