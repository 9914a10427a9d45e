"""Async engines and session factories for SQLite (default) and PostgreSQL.

SQLite allows one writer at a time. A deferred transaction that reads and then writes can
fail with "database is locked" *without* waiting for the busy timeout (SQLite cannot let
it upgrade its read snapshot). So every write transaction here begins with
``BEGIN IMMEDIATE``, which takes the write lock up front and does wait, and reads go
through a second engine with plain deferred transactions, which in WAL mode never block on
the writer. On PostgreSQL both factories share one engine (and one pool).

The hot paths (commit, list) use Core connections (:meth:`Database.read_conn`,
:meth:`Database.write_conn`) rather than ORM sessions: the session's unit of work and its
begin/close bookkeeping cost more CPU than the statements they run. On PostgreSQL
``read_conn`` is in autocommit, which saves the BEGIN and ROLLBACK round trips of a read and
changes nothing else under READ COMMITTED (each statement takes its own snapshot anyway);
it cannot stream a server-side cursor, which needs a transaction (use :meth:`Database.read`).
On SQLite ``read_conn`` is in autocommit too (no ``BEGIN``): each SELECT is its own implicit
read transaction in WAL mode, as each statement takes its own snapshot on PostgreSQL; the
``BEGIN`` a small GET or PUT paid for every read was a statement of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_

__all__ = ["Database", "create_database", "sqlite_url"]

SQLITE_BUSY_TIMEOUT_MS = 30_000
_AUTOCOMMIT = "geoshard_autocommit"  # an execution option: this connection's reads begin no transaction


def sqlite_url(path: str) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _setup_sqlite(engine: AsyncEngine, *, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the driver so that "begin" below decides.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode up to the last checkpointed commit
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_AUTOCOMMIT):
            return  # the driver is in autocommit (isolation_level None): every statement stands alone
        # Straight to the driver: one trip to aiosqlite's thread, where exec_driver_sql takes three
        # (cursor, execute, close) and its statement bookkeeping, for a statement that returns nothing.
        await_(conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN"))


@dataclass
class Database:
    """The satellite's handle on its database: a read and a write session factory."""

    url: str
    engine: AsyncEngine
    write_engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    write_sessions: async_sessionmaker[AsyncSession]
    read_engine: AsyncEngine  # ``engine``, in autocommit

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads; whatever it began is rolled back at the end."""
        async with self.sessions() as session:
            yield session

    @contextlib.asynccontextmanager
    async def read_conn(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection for reads, in autocommit on PostgreSQL (no server-side cursors)."""
        async with self.read_engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def snapshot_conn(self) -> AsyncIterator[AsyncConnection]:
        """A Core connection whose statements all read one snapshot, rolled back at the end.

        For reads of several statements whose answer must be consistent (a listing's key scan
        and its rows; an object's segments and their pieces): :meth:`read_conn` runs each
        statement on its own snapshot, so a commit between two of them would show half of it.
        SQLite: a deferred transaction (WAL keeps its snapshot from the first read). PostgreSQL:
        REPEATABLE READ, which never fails a transaction that only reads."""
        engine = self.engine
        if self.dialect == "postgresql":
            engine = engine.execution_options(isolation_level="REPEATABLE READ")
        async with engine.connect() as conn, conn.begin() as tx:
            yield conn
            await tx.rollback()

    @contextlib.asynccontextmanager
    async def write_conn(self) -> AsyncIterator[AsyncConnection]:
        """A Core write transaction: committed when the block ends, rolled back if it raises."""
        async with self.write_engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        async with self.write_sessions() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


def create_database(url: str, *, pg_schema: str | None = None, pool_size: int = 10) -> Database:
    """Build engines for ``url``; ``pg_schema`` pins PostgreSQL's search_path (used by tests)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        read = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
        # Writers queue here rather than spinning in SQLite's busy handler.
        write = create_async_engine(url, pool_size=2, max_overflow=0, pool_timeout=60)
        _setup_sqlite(read, immediate=False)
        _setup_sqlite(write, immediate=True)
    else:
        connect_args: dict[str, Any] = {}
        if pg_schema is not None:
            connect_args["server_settings"] = {"search_path": pg_schema}
        read = write = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            connect_args=connect_args,
            pool_pre_ping=False,
        )
    reads = read.execution_options(**{_AUTOCOMMIT: True}) if read is not write else (
        read.execution_options(isolation_level="AUTOCOMMIT"))  # fmt: skip
    return Database(
        url=url,
        engine=read,
        write_engine=write,
        sessions=async_sessionmaker(read, expire_on_commit=False),
        write_sessions=async_sessionmaker(write, expire_on_commit=False),
        read_engine=reads,
    )
