"""A whole Geoshard network in one test process (Storj's testplanet idea).

:func:`planet` starts, on loopback and in the test's event loop: a real satellite (its
own SQLite database, API on a free port), storage-node peers that check in with it —
each on its own ``127.0.N.1`` so placement's one-piece-per-/24 rule holds, in countries
of two regions — and a gateway peer. It creates the ``global``, ``eu`` and ``na``
policies and two tenants with an access key each, and hands out boto3 clients for them.
boto3 is synchronous: tests call it through ``asyncio.to_thread`` (``Planet.s3``) so the
servers in this loop keep serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from common.identity import Identity
from erasure import RedundancyScheme
from gateway.config import GatewayConfig
from gateway.peer import GatewayPeer
from satellite.config import SatelliteConfig
from satellite.db import Database, create_database, upgrade_schema
from satellite.db.engine import sqlite_url
from satellite.nodeselection.policy import PlacementPolicy
from satellite.peer import Satellite
from storage_node.config import NodeConfig
from storage_node.peer import Peer
from tests.satellite_fixtures import stop_satellite

__all__ = ["PLACES", "Planet", "Tenant", "fails", "planet", "status"]

T = TypeVar("T")

# (country, region) of node i, cycling: three countries in eu, two in na.
PLACES = [("DE", "eu"), ("FR", "eu"), ("NL", "eu"), ("US", "na"), ("CA", "na")]


@dataclass
class Tenant:
    id: str
    access_key: str
    secret_key: str


@dataclass
class Planet:
    satellite: Satellite
    nodes: list[Peer]
    gateway: GatewayPeer
    tenants: list[Tenant]
    _clients: dict[str, Any] = field(default_factory=dict)
    # The nodes' run tasks; a node a test adds (tests/durability_helpers.add_node) joins them,
    # so the planet cancels it too.
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return self.gateway.url

    def client(self, tenant: int = 0, **config: Any) -> Any:
        """A boto3 S3 client with default settings (checksums on) for tenant ``tenant``."""
        t = self.tenants[tenant]
        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=t.access_key, aws_secret_access_key=t.secret_key,
            region_name="us-east-1", config=Config(retries={"max_attempts": 1}, **config),
        )  # fmt: skip

    async def s3(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(call, *args, **kwargs)

    async def get(self, s3: Any, **kwargs: Any) -> tuple[dict[str, Any], bytes]:
        """GetObject and its whole body, both off the event loop (the body streams from it)."""

        def call() -> tuple[dict[str, Any], bytes]:
            got = s3.get_object(**kwargs)
            return got, got["Body"].read()

        return await asyncio.to_thread(call)

    def node_of(self, node_id: str) -> Peer:
        return next(n for n in self.nodes if n.identity.id == node_id)


async def fails(net: Planet, call: Callable[..., Any], **kwargs: Any) -> ClientError:
    """The ClientError a boto3 call must raise (through ``net.s3``)."""
    try:
        await net.s3(call, **kwargs)
    except ClientError as e:
        return e
    raise AssertionError(f"{getattr(call, '__name__', call)} succeeded")


def status(err: ClientError) -> int:
    return int(err.response["ResponseMetadata"]["HTTPStatusCode"])


async def _wait_for_nodes(sat: Satellite, count: int, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while len(await sat.overlay.candidates()) < count:
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def planet(
    tmp_path: Path,
    *,
    nodes: int = 6,
    scheme: str = "2/3/4/5",
    segment_size: int = 256 * 1024,
    database: Database | None = None,
    satellite_config: dict[str, Any] | None = None,
    node_config: dict[str, Any] | None = None,
    **gateway: Any,
) -> AsyncIterator[Planet]:
    """``database``: a migrated database to use (the caller closes it); default a fresh SQLite file.
    ``satellite_config``: overrides of ``SatelliteConfig.for_tests``; ``node_config``: of
    ``NodeConfig.for_tests`` for every node."""
    sat_dir = tmp_path / "satellite"
    sat_dir.mkdir(parents=True)
    db = database or create_database(sqlite_url(str(sat_dir / "satellite.db")))
    if database is None:
        await upgrade_schema(db)
    sat = Satellite(SatelliteConfig.for_tests(str(sat_dir), **(satellite_config or {})), db, Identity.generate())
    await sat.start()
    tasks: list[asyncio.Task[None]] = []
    gw: GatewayPeer | None = None
    try:
        s = RedundancyScheme.parse(scheme)
        for name, regions in (("global", ()), ("eu", ("eu",)), ("na", ("na",))):
            await sat.tenancy.create_policy(PlacementPolicy(name, s, allowed_regions=frozenset(regions)))
        peers = []
        for i in range(nodes):
            country, region = PLACES[i % len(PLACES)]
            data = tmp_path / f"node{i}"
            cfg = NodeConfig.for_tests(data, sat.identity.id, satellite_url=sat.api_url, country=country,
                                       region=region, listen_host=f"127.0.{10 + i}.1",
                                       **(node_config or {}))  # fmt: skip
            peer = Peer(cfg, Identity.load_or_create(data / "identity.pem"))
            peers.append(peer)
            tasks.append(asyncio.create_task(peer.run()))
        await _wait_for_nodes(sat, nodes, timeout=max(15.0, 3.0 * nodes))  # a loaded machine starts slowly
        tenants = []
        for name in ("alpha", "beta"):
            info = await sat.tenancy.create_tenant(name, "global")
            key = await sat.tenancy.create_access_key(info.id)
            tenants.append(Tenant(info.id, key.access_key_id, key.secret_access_key))
        key_file = tmp_path / "gateway" / "master.key"
        key_file.parent.mkdir()
        gw_cfg = GatewayConfig.for_tests(sat.api_url, sat.config.gateway_token, str(key_file),
                                         segment_size=segment_size, **gateway)  # fmt: skip
        gw = GatewayPeer(gw_cfg, master_key=os.urandom(32))
        await gw.start()
        yield Planet(sat, peers, gw, tenants, tasks=tasks)
    finally:
        if gw is not None:
            await gw.close()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await stop_satellite(sat)  # tests step chores by hand; it closes what they opened
        if database is None:
            await db.close()
