"""Shared database fixtures: every satellite database test runs on SQLite and on PostgreSQL.

PostgreSQL tests use the server on 127.0.0.1:5432 (database ``test``, trust auth). Tests
run in two xdist workers, so each test gets its own freshly created schema, dropped at the
end. Where no server answers, the PostgreSQL half is skipped and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from satellite.db import Database, create_database, upgrade_schema
from satellite.db.engine import sqlite_url

__all__ = [
    "NODE_PLACES",
    "PG_URL",
    "FakeNode",
    "db",
    "db_backend",
    "drop_pg_database",
    "fresh_database",
    "fresh_pg_database",
    "postgres_available",
    "satellite",
    "stop_satellite",
]

PG_URL = os.environ.get("GEOSHARD_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
_pg_state: dict[str, str | None] = {}


async def _probe_pg() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    import asyncpg

    dsn = PG_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        conn = await asyncio.wait_for(asyncpg.connect(dsn), timeout=3)
    except Exception as e:  # any failure to connect means "skip with this reason"
        return f"no PostgreSQL server at {PG_URL}: {type(e).__name__}: {e}"
    await conn.close()
    return None


async def postgres_available() -> str | None:
    if "reason" not in _pg_state:
        _pg_state["reason"] = await _probe_pg()
    return _pg_state["reason"]


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fresh_database(backend: str, tmp_path: os.PathLike[str]) -> tuple[Database, str | None]:
    """A migrated, empty database on ``backend``; returns it and the PG schema to drop (if any)."""
    if backend == "sqlite":
        database = create_database(sqlite_url(os.path.join(tmp_path, "satellite.db")))
        schema = None
    else:
        reason = await postgres_available()
        if reason is not None:
            pytest.skip(reason)
        schema = f"t_{secrets.token_hex(6)}"
        await _pg_admin(f'CREATE SCHEMA "{schema}"')
        database = create_database(PG_URL, pg_schema=schema)
    await upgrade_schema(database)
    return database, schema


async def fresh_pg_database() -> tuple[str, str]:
    """A new, empty PostgreSQL database for a satellite in another process: (name, SQLAlchemy URL).

    A schema (as :func:`fresh_database` makes) cannot be named in a URL, so processes that
    read a config file get a database of their own; :func:`drop_pg_database` removes it.
    """
    reason = await postgres_available()
    if reason is not None:
        pytest.skip(reason)
    name = f"t_{secrets.token_hex(6)}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    return name, PG_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_pg_database(name: str) -> None:
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def drop_database(database: Database, schema: str | None) -> None:
    await database.close()
    if schema is not None:
        await _pg_admin(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db(db_backend: str, tmp_path: os.PathLike[str]) -> AsyncIterator[Database]:
    database, schema = await fresh_database(db_backend, tmp_path)
    try:
        yield database
    finally:
        await drop_database(database, schema)


# --- a whole satellite on a loopback port, and nodes that only sign --------------------------


WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # a valid EIP-55 address: check-ins refuse others


class FakeNode:
    """A node identity that checks in and signs receipts; it stores nothing."""

    def __init__(self, country: str, region: str, index: int) -> None:
        from common.identity import Identity

        self.identity = Identity.generate()
        self.country = country
        self.region = region
        self.address = f"http://10.{index}.0.1:7000"

    @property
    def id(self) -> str:
        return self.identity.id

    def checkin(self, **overrides: object) -> dict[str, object]:
        from common.messages import CheckIn, Signed, now

        fields: dict[str, object] = {
            "node_id": self.id, "address": self.address, "country": self.country, "region": self.region,
            "capacity": 10**12, "used": 0, "free": 10**12, "version": "test", "wallet": WALLET, "timestamp": now(),
        }  # fmt: skip
        fields.update(overrides)
        return Signed.sign(self.identity, CheckIn(**fields)).to_json()  # type: ignore[arg-type]

    def receipt(self, order_limit_json: dict[str, object], size: int, root: bytes) -> dict[str, object]:
        from common.messages import OrderLimit, PieceReceipt, Signed, now

        limit = Signed.from_json(order_limit_json, OrderLimit).message
        return Signed.sign(
            self.identity,
            PieceReceipt(
                serial=limit.serial,
                node_id=self.id,
                piece_id=limit.piece_id,
                size=size,
                leaf_size=64,
                merkle_root=root,
                created=now(),
            ),
        ).to_json()


NODE_PLACES = [("DE", "eu"), ("FR", "eu"), ("NL", "eu"), ("DE", "eu"), ("FR", "eu"), ("NL", "eu"),
               ("US", "na"), ("CA", "na"), ("US", "na"), ("CA", "na"), ("US", "na"), ("CA", "na")]  # fmt: skip


@pytest.fixture
async def satellite(db: Database, tmp_path: os.PathLike[str]) -> AsyncIterator[Any]:
    """A running satellite (API on a free loopback port) over the ``db`` fixture's database."""
    from common.identity import Identity
    from satellite.config import SatelliteConfig
    from satellite.peer import Satellite

    config = SatelliteConfig.for_tests(str(tmp_path))
    sat = Satellite(config, db, Identity.generate())
    await sat.start()
    try:
        yield sat
    finally:
        await stop_satellite(sat)


async def stop_satellite(sat: Any) -> None:
    """Undo ``Satellite.start()`` in a test that stepped its chores by hand: close its listeners,
    then every chore (each may have opened sessions; closing one never opened is harmless).
    The database is the test's to close."""
    for runner in sat._runners:
        await runner.cleanup()
    for chore in sat.chores():
        with contextlib.suppress(Exception):
            await chore.close()
