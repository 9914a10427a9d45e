"""The satellite process, wired in one place: every service is built here and run as
``{name, run, close}`` in one TaskGroup, closed in reverse order (storj ``satellite/peer.go``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from common.identity import Identity
from satellite.admin.api import AdminServices, create_admin_app
from satellite.admin.repository import AdminRepository
from satellite.api.contact import ContactEndpoint
from satellite.api.errors import error_middleware
from satellite.api.metainfo import MetainfoEndpoint, bearer_auth
from satellite.config import SatelliteConfig
from satellite.db import Database, check_schema, create_database
from satellite.db.metabase import MetabaseRepository
from satellite.db.nodes import NodeRepository
from satellite.db.tenancy import TenancyRepository
from satellite.metainfo import MetainfoService, MultipartService
from satellite.nodeselection import SelectionConfig
from satellite.orders import OrderSigner
from satellite.overlay.geoip import GeoIPDatabase
from satellite.overlay.service import OverlayService
from satellite.tenancy import SecretBox, TenancyService

__all__ = ["Satellite", "Service"]

log = logging.getLogger(__name__)


@dataclass
class Service:
    name: str
    run: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]]


class Satellite:
    """Build with :meth:`create` (it checks the schema), then :meth:`start` or :meth:`run`."""

    def __init__(self, config: SatelliteConfig, db: Database, identity: Identity, *, config_path: str = "CONFIG"):
        self.config = config
        self.db = db
        self.identity = identity
        self.config_path = config_path
        self.geoip = GeoIPDatabase(config.geoip_database) if config.geoip_database else None
        self.nodes = NodeRepository(db)
        self.metabase = MetabaseRepository(db)
        self.overlay = OverlayService(
            self.nodes,
            satellite_id=identity.id,
            checkin_interval=config.checkin_interval,
            online_window=config.online_window,
            cache_ttl=config.node_cache_ttl,
            geoip=self.geoip,
        )
        self.signer = OrderSigner(identity, order_ttl=config.order_ttl, token_ttl=config.segment_token_ttl)
        self.tenancy = TenancyService(TenancyRepository(db), SecretBox.load_or_create(config.resolved_secrets_key_path))
        self.metainfo = MetainfoService(
            self.metabase,
            self.overlay,
            self.signer,
            selection=SelectionConfig(
                online_window=float(config.online_window),
                new_node_fraction=config.new_node_fraction,
                min_free_bytes=config.min_free_bytes,
            ),
            inline_threshold=config.inline_threshold,
            max_segment_size=config.max_segment_size,
        )
        self.multipart = MultipartService(self.metainfo, self.metabase)
        self.api_app = self._api_app()
        # The admin API: a separate aiohttp app on admin_host:admin_port, never the public port;
        # without an admin token it is not served at all rather than served open.
        self.admin_app: web.Application | None = None
        if config.admin_token:
            self.admin_app = create_admin_app(
                AdminServices(
                    tenancy=self.tenancy,
                    nodes=self.nodes,
                    repo=AdminRepository(db),
                    selection=self.metainfo.selection,
                    token=config.admin_token,
                    on_nodes_changed=self.overlay.invalidate,
                )
            )
        self._runners: list[web.AppRunner] = []
        self.api_url = ""
        self.admin_url = ""

    @classmethod
    async def create(cls, config: SatelliteConfig, *, config_path: str = "CONFIG") -> Satellite:
        db = create_database(config.resolved_database_url)
        try:
            await check_schema(db, config_path=config_path)
        except BaseException:
            await db.close()
            raise
        return cls(config, db, Identity.load(config.resolved_identity_path), config_path=config_path)

    def _api_app(self) -> web.Application:
        app = web.Application(
            middlewares=[error_middleware, bearer_auth(self.config.gateway_token, MetainfoEndpoint.PREFIX)],
            client_max_size=64 * 1024**2,
        )
        app.add_routes(ContactEndpoint(self.overlay).routes())
        app.add_routes(MetainfoEndpoint(self.metainfo, self.multipart, self.tenancy).routes())
        return app

    async def _serve(self, app: web.Application, host: str, port: int) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runners.append(runner)
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        return f"http://{host}:{sock.getsockname()[1]}"

    async def start(self) -> None:
        """Bind the listeners (port 0 = any free port; see ``api_url``)."""
        self.api_url = await self._serve(self.api_app, self.config.host, self.config.port)
        if self.admin_app is not None:
            self.admin_url = await self._serve(self.admin_app, self.config.admin_host, self.config.admin_port)
        log.info("satellite %s listening on %s", self.identity.id[:16], self.api_url)

    def services(self) -> list[Service]:
        async def serve_forever() -> None:
            await self.start()
            await asyncio.Event().wait()

        async def stop_http() -> None:
            for runner in reversed(self._runners):
                await runner.cleanup()
            self._runners.clear()

        async def noop() -> None:
            return None

        async def close_db() -> None:
            await self.db.close()
            if self.geoip is not None:
                self.geoip.close()

        # Background workers of later issues (audit, repair, gc, payouts) register here.
        return [Service("database", noop, close_db), Service("api", serve_forever, stop_http)]

    async def run(self) -> None:
        services = self.services()
        try:
            async with asyncio.TaskGroup() as tg:
                for s in services:
                    tg.create_task(s.run(), name=s.name)
        finally:
            for s in reversed(services):
                with contextlib.suppress(Exception):
                    await s.close()

    async def close(self) -> None:
        for s in reversed(self.services()):
            await s.close()
