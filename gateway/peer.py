"""Wires the gateway process: every service is built here and nowhere else.

Services are ``(name, run, close)``: the piece client's HTTP session, the satellite
client, the revocation feed that keeps the credential cache honest, and the S3 HTTP(S)
server. :meth:`GatewayPeer.run` runs them in one
``asyncio.TaskGroup`` and closes them in reverse order, so the server stops taking
requests before the sessions under it close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl

from aiohttp import web

from common.lifecycle import Service, close_services, nothing, run_services
from gateway.access_keys import CredentialCache, CredentialCacheConfig
from gateway.app import create_app
from gateway.config import GatewayConfig, load_master_key
from gateway.handlers.common import GatewayServices
from gateway.metrics import GatewayMetrics
from gateway.pipeline import PieceClient, PieceClientConfig
from gateway.s3.credentials import AuthConfig
from gateway.s3.router import RouterConfig
from gateway.satellite_client import SatelliteClient
from gateway.settings_cache import SettingGenerations

__all__ = ["GatewayPeer", "Service"]

log = logging.getLogger(__name__)


class GatewayPeer:
    """One gateway process. ``start()`` binds the port (``url`` is then known); ``run()`` serves."""

    def __init__(
        self,
        config: GatewayConfig,
        master_key: bytes | None = None,
        *,
        generations: SettingGenerations | None = None,
        reuse_port: bool = False,
    ) -> None:
        """``generations`` and ``reuse_port`` make it one worker of several (gateway/process.py)."""
        self.config = config
        self.reuse_port = reuse_port
        key = master_key if master_key is not None else load_master_key(config.master_key_file)
        piece_cfg = PieceClientConfig(base_timeout=config.piece_timeout)
        self.session = PieceClient.new_session(piece_cfg)
        self.satellite = SatelliteClient(config.satellite_url, config.satellite_token)
        self.credentials = CredentialCache(self.satellite, CredentialCacheConfig(
            ttl=config.credential_cache_ttl, poll_interval=config.revocation_poll_interval,
            max_staleness=config.revocation_max_staleness,
        ))  # fmt: skip
        self.services_state = GatewayServices(
            config=config,
            satellite=self.satellite,
            pieces=PieceClient(self.session, piece_cfg),
            master_key=key,
            credentials=self.credentials,
            router=RouterConfig(base_domains=tuple(config.base_domains)),
            auth=AuthConfig(),
            generations=generations or SettingGenerations.private(),
        )
        self.app = create_app(self.services_state)
        self.metrics = GatewayMetrics()
        self.app.middlewares.insert(0, self.metrics.middleware)  # outermost: sees every final status
        self._runner: web.AppRunner | None = None
        self._metrics_runner: web.AppRunner | None = None
        self.metrics_url = ""
        self._feed: asyncio.Task[None] | None = None
        self.port = config.port
        self.started = asyncio.Event()

    @property
    def scheme(self) -> str:
        return "https" if self.config.tls_cert else "http"

    @property
    def url(self) -> str:
        return self.config.endpoint(self.port)

    def _ssl(self) -> ssl.SSLContext | None:
        if not self.config.tls_cert:
            return None
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return ctx

    async def start(self) -> None:
        # The revocation feed runs as long as the server: an in-process gateway (tests' planet)
        # honours revocations exactly as a `gateway run` process does.
        if self._feed is None:
            self._feed = asyncio.create_task(self.credentials.run(), name="revocation-feed")
        # Large socket reads cut per-chunk overhead for multi-MiB uploads.
        self._runner = web.AppRunner(self.app, access_log=None, read_bufsize=2**20)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, ssl_context=self._ssl(), backlog=1024,
                           reuse_port=self.reuse_port or None)  # fmt: skip
        await site.start()
        server = site._server
        if server is not None and getattr(server, "sockets", None):
            self.port = server.sockets[0].getsockname()[1]
        log.info("S3 gateway on %s (satellite %s)", self.url, self.config.satellite_url)
        if self.config.metrics_port >= 0:
            self._metrics_runner = web.AppRunner(self.metrics.app(), access_log=None)
            await self._metrics_runner.setup()
            msite = web.TCPSite(self._metrics_runner, self.config.metrics_host, self.config.metrics_port)
            await msite.start()
            mport = msite._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.metrics_url = f"http://{self.config.metrics_host}:{mport}"
        self.started.set()

    async def _serve(self) -> None:
        await self.start()
        await asyncio.Event().wait()

    async def _close_feed(self) -> None:
        if self._feed is not None:
            self._feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feed
            self._feed = None
        await self.credentials.close()

    async def _close_http(self) -> None:
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
            self._metrics_runner = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _close_session(self) -> None:
        await self.session.close()

    def services(self) -> list[Service]:
        return [
            Service("piece-session", nothing, self._close_session),
            Service("satellite-client", nothing, self.satellite.close),
            Service("revocation-feed", nothing, self._close_feed),  # started by start()
            Service("s3", self._serve, self._close_http),
        ]

    async def run(self) -> None:
        await run_services(self.services(), process="gateway")

    async def close(self) -> None:
        await close_services(self.services())
