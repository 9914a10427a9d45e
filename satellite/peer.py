"""The satellite process, wired in one place: every service is built here and run as
``{name, run, close}`` in one TaskGroup, closed in reverse order (storj ``satellite/peer.go``).

**Roles.** The public API is stateless over the database (segment tokens are signed with the
satellite's identity, which every process loads), so it can run in several processes; so can
the admin API. Background chores must run once per satellite: each runs under a lease in the
database (``satellite.leases``), except the repair workers, whose queue claims are exclusive.
A process is built with a :class:`~satellite.roles.Role` that says which of these it serves
(``geoshard satellite run --role``, see ``satellite.roles``):

- ``Role.ALL``: one process serves everything (SQLite's default; what tests build in-process).
- ``Role.API``: the public API only. With ``api_workers`` ≥ 2 a process whose role includes the
  API serves none itself but supervises that many ``Role.API`` worker processes sharing its
  port through ``SO_REUSEPORT`` (``satellite.process``).
- ``Role.WORKERS``: the admin API and every chore, no public API (a compose "workers" container).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from common.identity import Identity
from common.lifecycle import Service, close_services, run_services
from common.observability import request_id_middleware
from common.piece_ttl import PieceTtl
from satellite.accounting import AccountingConfig
from satellite.accounting.service import AccountingService
from satellite.admin.api import AdminServices, create_admin_app
from satellite.admin.repository import AdminRepository
from satellite.api.accounting import AccountingEndpoint
from satellite.api.contact import ContactEndpoint
from satellite.api.errors import error_middleware
from satellite.api.losses import LossEndpoint
from satellite.api.metainfo import MetainfoEndpoint, bearer_auth
from satellite.api.reputation import ReputationEndpoint
from satellite.audit import AuditChore, AuditVerifier
from satellite.config import SatelliteConfig
from satellite.console import audit_log_middleware, install_console
from satellite.db import Database, check_schema, create_database
from satellite.db.audits import AuditRepository
from satellite.db.console import ConsoleRepository
from satellite.db.gc import GCRepository
from satellite.db.gracefulexit import GracefulExitRepository
from satellite.db.leases import LeaseRepository
from satellite.db.lifecycle import LifecycleRepository
from satellite.db.losses import LossRepository
from satellite.db.metabase import MetabaseRepository
from satellite.db.nodes import NodeRepository
from satellite.db.payouts import PayoutRepository
from satellite.db.residency_ledger import LedgerRepository, declare_inline_place
from satellite.db.stakes import StakeRepository
from satellite.db.tenancy import TenancyRepository
from satellite.gc import RetainSender, gc_config
from satellite.gracefulexit import ExitChore, GracefulExitEndpoint, GracefulExitService, exit_config
from satellite.leases import LeasedService
from satellite.lifecycle import LifecycleChore, LifecycleConfig
from satellite.losses import LossConfig, LossService
from satellite.metainfo import MetainfoService, MultipartService
from satellite.metrics import SatelliteMetrics
from satellite.nodeselection import SelectionConfig
from satellite.orders import OrderSigner
from satellite.overlay.geoip import GeoIPDatabase
from satellite.overlay.service import OverlayService
from satellite.payouts import Payee, PayoutPlanner, Settlement, SettlementConfig
from satellite.payouts.store import Batch
from satellite.process import ApiWorkerPool
from satellite.repair import RepairConfig, RepairQueue, RepairService
from satellite.reputation import ReputationConfig
from satellite.reputation.service import ReputationService
from satellite.residency import MetadataLocation
from satellite.residency.audit import ResidencyAuditor
from satellite.residency.service import ResidencyService
from satellite.roles import CHORES, SCALABLE_CHORES, Role
from satellite.tenancy import SecretBox, TenancyService

__all__ = ["Role", "Satellite", "Service"]

log = logging.getLogger(__name__)


class Satellite:
    """Build with :meth:`create` (it checks the schema), then :meth:`start` or :meth:`run`."""

    def __init__(
        self,
        config: SatelliteConfig,
        db: Database,
        identity: Identity,
        *,
        config_path: str = "CONFIG",
        role: Role = Role.ALL,
        api_workers: int = 1,
        reuse_port: bool = False,
        payout_planner: PayoutPlanner | None = None,
    ):
        self.config = config
        self.db = db
        self.identity = identity
        self.config_path = config_path
        self.role = role
        self.reuse_port = reuse_port  # a worker of a pool binds its port beside its siblings
        # The API worker processes this one supervises (it then serves no public API itself).
        self.api_pool = ApiWorkerPool(config, api_workers) if role.api and api_workers > 1 else None
        self.leases = LeaseRepository(db)
        self.leased: list[LeasedService] = []  # the chores of this process, once services() built them
        self.started = asyncio.Event()  # set once every listener of this role is up
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
                require_stake=config.stake_required,
                min_stake=config.stake_minimum,
            ),
            inline_threshold=config.inline_threshold,
            max_segment_size=config.max_segment_size,
            metadata=MetadataLocation.from_config(config),
            piece_ttl=PieceTtl(config.lifecycle_day_seconds, config.lifecycle_piece_grace_seconds),
        )
        self.multipart = MultipartService(self.metainfo, self.metabase)
        declare_inline_place(db, *self.metainfo.metadata.storage_place)  # the ledger's ``satellite-db`` holder
        # Residency evidence (satellite/residency): the ledger placement writes, exported signed.
        self.residency = ResidencyService(
            LedgerRepository(db), identity, self.metainfo.metadata,
            auditor=ResidencyAuditor(db, AuditVerifier(identity, timeout=config.audit_timeout),
                                     leaves=config.audit_leaves, concurrency=config.audit_concurrency),
        )  # fmt: skip
        # Audits and reputation: the chore runs only where chores run; every role answers nodes.
        self.audits = AuditRepository(db, ReputationConfig.from_satellite(config))
        self.reputation = ReputationService(self.audits, self.audits.config)
        self.audit_chore = AuditChore(
            self.audits,
            AuditVerifier(identity, timeout=config.audit_timeout),
            leaves=config.audit_leaves,
            reservoir_size=config.audit_reservoir_size,
            scan_batch=config.audit_scan_batch,
            concurrency=config.audit_concurrency,
            batch=config.audit_batch,
            max_misses=config.audit_max_misses,
            interval=config.audit_interval,
            max_rate=config.audit_max_rate,
            on_nodes_changed=self.overlay.invalidate,
        )
        # Garbage collection and graceful exit (satellite/gc, satellite/gracefulexit).
        self.gc = RetainSender(GCRepository(db), identity, gc_config(config))
        # Lifecycle rules (satellite/lifecycle): expiry and stale-upload aborts, woken by rule changes.
        self.lifecycle = LifecycleChore(LifecycleRepository(db), LifecycleConfig.from_satellite(config))
        exits = GracefulExitRepository(db)
        self.graceful_exit = GracefulExitService(
            exits, satellite_id=identity.id, on_nodes_changed=self.overlay.invalidate
        )
        self.exit_chore = ExitChore(
            exits, self.signer, self.overlay.candidates, self.metainfo.selection, exit_config(config)
        )
        # Settlement (satellite/payouts): accounting plans periods on ``self.payouts``; the
        # worker pays them on chain. The chain is opened on first need, not at start.
        self.settlement = Settlement(
            PayoutRepository(db),
            SettlementConfig.from_satellite(config),
            stakes=StakeRepository(db),
            on_stakes_changed=self.overlay.invalidate,
            on_confirmed=self._paystubs_settled,
            on_rolled_over=self._payouts_rolled_over,
        )
        self.payouts = self.settlement.service
        # Accounting (satellite/accounting): tallies, order settlement, periods, meters, the reserve
        # fund. Closed periods are handed to settlement (``payout_planner`` replaces it in tests).
        self.accounting = AccountingService(
            db,
            AccountingConfig.from_dict(config.accounting),
            identity.id,
            planner=payout_planner if payout_planner is not None else self.payouts,
        )
        # Repair (satellite/repair): the checker and the repair workers, one queue in the database.
        # A segment the checker finds lost (fewer than k healthy pieces) becomes a data-loss incident.
        self.repair = RepairService(
            RepairQueue(db),
            self.nodes,
            self.signer,
            self.metainfo.selection,
            RepairConfig.from_satellite(config),
            on_lost=self.accounting.compensation.segments_lost,
            metadata=self.metainfo.metadata,
        )
        # Piece losses (satellite/losses): readers' bad-share reports and nodes' own scrub reports.
        self.losses = LossService(
            LossRepository(db),
            self.repair.queue,
            self.nodes,
            online_window=float(config.online_window),
            config=LossConfig.from_satellite(config),
            on_nodes_changed=self.overlay.invalidate,
        )
        self.reputation.losses = self.losses  # the milder signal shows in the node's report
        # Prometheus metrics and /health (satellite/metrics): on the admin port and the API port.
        self.metrics = SatelliteMetrics(self)
        self.api_app = self._api_app()
        # The admin API: a separate aiohttp app on admin_host:admin_port, never the public port;
        # without an admin token it is not served at all rather than served open.
        self.admin_app: web.Application | None = None
        if config.admin_token and role.admin:
            console = ConsoleRepository(db)
            self.admin_app = create_admin_app(
                AdminServices(
                    tenancy=self.tenancy,
                    nodes=self.nodes,
                    repo=AdminRepository(db),
                    selection=self.metainfo.selection,
                    token=config.admin_token,
                    on_nodes_changed=self.overlay.invalidate,
                    reputation=self.reputation,
                    graceful_exit=self.graceful_exit,
                    gc=self.gc.store,
                    repair=self.repair,
                    accounting=self.accounting,
                    payouts=self.settlement,
                    role=str(role),
                    chores_here=lambda: {ls.name: ls.held for ls in self.leased},
                    residency=self.residency,
                ),
                outer_middlewares=[audit_log_middleware(console)],
            )
            install_console(self.admin_app, console)  # the web console on the same port and token
        if self.admin_app is not None:
            self.admin_app.router.add_get("/metrics", self.metrics.metrics)
            self.admin_app.router.add_get("/health", self.metrics.health)
        self._runners: list[web.AppRunner] = []
        self.api_url = ""
        self.admin_url = ""

    @classmethod
    async def create(
        cls,
        config: SatelliteConfig,
        *,
        config_path: str = "CONFIG",
        role: Role = Role.ALL,
        api_workers: int = 1,
        reuse_port: bool = False,
        payout_planner: PayoutPlanner | None = None,
    ) -> Satellite:
        db = create_database(config.resolved_database_url, pool_size=config.db_pool_size)
        try:
            await check_schema(db, config_path=config_path)
        except BaseException:
            await db.close()
            raise
        identity = Identity.load(config.resolved_identity_path)
        return cls(
            config,
            db,
            identity,
            config_path=config_path,
            role=role,
            api_workers=api_workers,
            reuse_port=reuse_port,
            payout_planner=payout_planner,
        )

    async def _paystubs_settled(self, batch: Batch) -> None:
        """Settlement's write-back: a confirmed batch's state and transaction on its paystubs."""
        tx_hash = batch.signed.tx_hash if batch.signed is not None else None
        await self.accounting.repo.record_settlement(
            batch.period, [p.node_id for p in batch.payees], "confirmed", tx_hash
        )

    async def _payouts_rolled_over(self, period: str, payees: list[Payee]) -> None:
        """Settlement did not pay these (their fee would eat too much): accounting carries each
        amount into the node's next paystub, once (``AccountingRepository.carry_rolled_over``)."""
        carried = await self.accounting.repo.carry_rolled_over(period, [p.node_id for p in payees])
        if carried:
            log.info("period %s: %d rolled-over payouts carried to the next period", period, len(carried))

    def _setting_changed(self, name: str) -> None:
        """A bucket setting was put or deleted here: a lifecycle change wakes the chore at once."""
        if name == "lifecycle":
            self.lifecycle.wake()

    @property
    def serves_api(self) -> bool:
        """This process listens on the public port itself (not through a worker pool)."""
        return self.role.api and self.api_pool is None

    def _api_app(self) -> web.Application:
        app = web.Application(
            middlewares=[
                request_id_middleware,
                self.metrics.api_middleware,
                error_middleware,
                bearer_auth(self.config.gateway_token, MetainfoEndpoint.PREFIX),
            ],
            client_max_size=64 * 1024**2,
        )
        app.router.add_get("/health", self.metrics.health)
        app.add_routes(ContactEndpoint(self.overlay).routes())
        app.add_routes(
            ReputationEndpoint(self.reputation, self.identity.id, online_window=self.config.online_window).routes()
        )
        app.add_routes(GracefulExitEndpoint(self.graceful_exit).routes())
        app.add_routes(LossEndpoint(self.losses, self.identity.id).routes())
        app.add_routes(AccountingEndpoint(self.accounting, self.identity.id, stake=self.settlement.node_stake).routes())
        metainfo = MetainfoEndpoint(self.metainfo, self.multipart, self.tenancy, self.losses, self.accounting.meter,
                                    on_setting_changed=self._setting_changed)  # fmt: skip
        app.add_routes(metainfo.routes())
        return app

    async def _serve(self, app: web.Application, host: str, port: int, *, reuse_port: bool = False) -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_port=reuse_port or None)
        await site.start()
        self._runners.append(runner)
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        return f"http://{host}:{sock.getsockname()[1]}"

    async def start(self) -> None:
        """Bind the listeners this role serves (port 0 = any free port; see ``api_url``).

        An ``API`` worker binds the configured port with ``SO_REUSEPORT`` beside its siblings
        (the ``MAIN`` process holds the port and passes the number it got for port 0).
        """
        if self.admin_app is not None:
            self.admin_url = await self._serve(self.admin_app, self.config.admin_host, self.config.admin_port)
        if self.serves_api:
            self.api_url = await self._serve(
                self.api_app, self.config.host, self.config.port, reuse_port=self.reuse_port
            )
        elif self.api_pool is not None:
            await self.api_pool.start()
            self.api_url = f"http://{self.config.host}:{self.api_pool.port}"
        log.info("satellite %s (%s) listening on %s", self.identity.id[:16], self.role, self.api_url)

    def chores(self) -> list[Service]:
        """Every background chore; each is named by the role that selects it (``satellite.roles.CHORES``),
        but settlement's two services (payouts, stakes), which the role ``settlement`` selects."""
        return [
            Service("audit", self.audit_chore.run, self.audit_chore.close),
            Service("repair-checker", self.repair.run_checker),
            Service("repair-workers", self.repair.run_workers, self.repair.close),
            Service("gc", self.gc.run, self.gc.close),
            Service("graceful-exit", self.exit_chore.run, self.exit_chore.close),
            Service("lifecycle", self.lifecycle.run, self.lifecycle.close),
            Service("accounting", self.accounting.run, self.accounting.close),
            *self.settlement.services(),
        ]

    def chore_services(self) -> list[Service]:
        """The chores this process's role names; each but the scalable ones under its lease."""
        self.leased = []
        out: list[Service] = []
        for service in self.chores():
            role_name = service.name if service.name in CHORES else "settlement"
            if role_name not in self.role.chores:
                continue
            if role_name in SCALABLE_CHORES:
                out.append(service)
                continue
            leased = LeasedService(service, self.leases, ttl=self.config.lease_ttl)
            self.leased.append(leased)
            out.append(leased.service())
        return out

    def services(self) -> list[Service]:
        async def serve_forever() -> None:
            await self.start()
            self.started.set()
            await asyncio.Event().wait()

        async def stop_http() -> None:
            for runner in reversed(self._runners):
                await runner.cleanup()
            self._runners.clear()

        async def noop() -> None:
            return None

        async def close_db() -> None:
            await self.residency.auditor.verifier.close()  # its HTTP session, if an audit opened one
            await self.db.close()
            if self.geoip is not None:
                self.geoip.close()

        services = [Service("database", noop, close_db), Service("http", serve_forever, stop_http)]
        if self.api_pool is not None:
            services.append(Service("api-workers", self.api_pool.run, self.api_pool.close))
        if self.serves_api:  # request counts of this process's metainfo API, written in batches
            services.append(Service("metering", self.accounting.meter.run, self.accounting.meter.close))
        services.extend(self.chore_services())
        return services

    async def run(self) -> None:
        await run_services(self.services(), process="satellite")

    async def close(self) -> None:
        await close_services(self.services())
