"""Wires the storage node: every service is built here and nowhere else.

A service is ``(name, run, close)``. :meth:`Peer.run` opens the blob store, then runs
every service's ``run`` in one ``asyncio.TaskGroup`` — if one fails, the group cancels
the others — and finally closes them in reverse order of construction, so the HTTP
server stops taking requests before the database under it is closed.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging

from common.identity import Identity
from common.lifecycle import Service, nothing, run_services
from common.observability import request_id_middleware
from storage_node.config import NodeConfig
from storage_node.contact import CheckInService
from storage_node.dashboard import DashboardServer, DashboardService
from storage_node.http_server import HttpServer
from storage_node.metrics import NodeMetrics
from storage_node.nodedb import NodeDB
from storage_node.pieces.chores import ExpiryChore, RetainChore, TrashChore
from storage_node.pieces.index import PieceIndex
from storage_node.pieces.store import PieceStore
from storage_node.piecestore.endpoint import PiecestoreEndpoint
from storage_node.scrub import ScrubChore, ScrubConfig, ScrubRecords
from storage_node.settlement import SettlementChore

__all__ = ["VERSION", "HttpServer", "Peer", "Service"]

log = logging.getLogger(__name__)

try:
    VERSION = importlib.metadata.version("geoshard")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    VERSION = "0.0.0"


class Peer:
    """One storage node process."""

    def __init__(self, config: NodeConfig, identity: Identity) -> None:
        self.config = config
        self.identity = identity
        self.db = NodeDB(config.db_path)
        self.store = PieceStore(config.data_dir, config.capacity, PieceIndex(self.db.conn))
        self.retain = RetainChore(self.store)
        self.expiry = ExpiryChore(self.store, self.db, config.chore_interval)
        self.trash = TrashChore(self.store, config.trash_grace, config.chore_interval)
        self.endpoint = PiecestoreEndpoint(
            identity,
            config.satellite_id,
            self.store,
            self.db,
            self.retain,
            max_piece_size=config.max_piece_size,
            version=VERSION,
        )
        # Scrub (storage_node/scrub.py): every piece re-verified per period, losses reported.
        scrub_records = ScrubRecords(self.db.conn)
        self.scrub = ScrubChore(
            identity,
            config.satellite_id,
            config.satellite_url,
            self.store,
            scrub_records,
            ScrubConfig.from_node(config),
        )
        app = self.endpoint.app()
        app.add_routes(self.scrub.routes())
        self.metrics = NodeMetrics(self.store, self.trash, self.retain)
        self.metrics.install(app, node_id=identity.id)
        app.middlewares.insert(0, request_id_middleware)  # log lines carry the gateway's request id
        # Large reads off the socket cut per-chunk overhead on multi-MiB piece uploads.
        self.server = HttpServer(app, config.listen_host, config.port, read_bufsize=2**20, backlog=512)
        self.contact = CheckInService(identity, config, self.store, lambda: self.address, VERSION)
        self.dashboard = DashboardService(
            config, identity, self.store, self.db, self.contact.state, address=lambda: self.address, version=VERSION,
            scrub=scrub_records,
        )
        self.dashboard_server = DashboardServer(self.dashboard) if config.dashboard_port >= 0 else None
        if self.dashboard_server is not None:  # metrics on the operator's port too, as every process has
            self.metrics.install_routes(self.dashboard_server.app, node_id=identity.id)
        self.settlement = SettlementChore(identity, config, self.db)  # served GET orders, submitted for pay
        self.services: list[Service] = [
            Service("db", nothing, self._close_db),
            Service("piecestore", self.server.run, self.server.close),
            Service("retain", self.retain.run),
            Service("expiry", self.expiry.run),
            Service("trash", self.trash.run),
            Service("scrub", self.scrub.run, self.scrub.close),
            Service("contact", self._run_contact, self.contact.close),
            Service("settlement", self.settlement.run, self.settlement.close),
        ]
        if self.dashboard_server is not None:
            self.services.append(Service("dashboard", self._run_dashboard, self.dashboard.close))
            self.services.append(Service("dashboard-http", self.dashboard_server.run, self.dashboard_server.close))

    @property
    def address(self) -> str:
        if self.config.address:
            return self.config.address
        host = self.config.listen_host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"http://{host}:{self.server.port}"

    @property
    def url(self) -> str:
        """Where this process can be reached from this machine: the address it listens on
        (loopback when it listens on every interface)."""
        host = self.config.listen_host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.server.port}"

    async def _close_db(self) -> None:
        self.db.close()

    async def _run_contact(self) -> None:
        await self.server.started.wait()  # the check-in carries the bound address
        await self.contact.run()

    async def _run_dashboard(self) -> None:
        await self.server.started.wait()  # its first refresh asks the satellite about this node
        await self.dashboard.run()

    async def run(self) -> None:
        """Serve until cancelled; every service is closed on the way out."""
        await asyncio.to_thread(self.store.open)
        await run_services(self.services, process="storage-node")
