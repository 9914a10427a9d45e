"""Migrations, schema checks and SQLite write concurrency, on both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import os

import pytest
from sqlalchemy import func, select

from satellite.db import SchemaBehindError, check_schema, create_database, upgrade_schema
from satellite.db.engine import sqlite_url
from satellite.db.models import Base, PlacementPolicyRow, Tenant
from satellite.db.schema import current_revision, head_revision
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)


async def test_migrated_schema_is_current_and_matches_models(db) -> None:  # noqa: F811
    await check_schema(db)
    assert await current_revision(db) == head_revision()

    def table_names(conn):  # type: ignore[no-untyped-def]
        from sqlalchemy import inspect

        return set(inspect(conn).get_table_names())

    async with db.engine.connect() as conn:
        names = await conn.run_sync(table_names)
    assert set(Base.metadata.tables) <= names


async def test_refuses_an_empty_schema_and_names_the_fix(tmp_path) -> None:
    database = create_database(sqlite_url(os.path.join(tmp_path, "empty.db")))
    try:
        with pytest.raises(SchemaBehindError, match=r"geoshard satellite migrate --config /etc/sat.toml"):
            await check_schema(database, config_path="/etc/sat.toml")
    finally:
        await database.close()


async def test_timestamps_come_back_aware_utc(db) -> None:  # noqa: F811
    t = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    async with db.transaction() as s:
        s.add(PlacementPolicyRow(name="p", k=1, repair=1, success=1, total=1, created_at=t))
    async with db.read() as s:
        got = (await s.execute(select(PlacementPolicyRow.created_at))).scalar_one()
    assert got == t and got.tzinfo is not None and got.utcoffset() == dt.timedelta(0)


async def test_fifty_concurrent_commits_from_several_connections(db, db_backend, tmp_path) -> None:  # noqa: F811
    """No "database is locked": 50 writers over two independent engines (as two processes would)."""
    second = create_database(db.url) if db_backend == "sqlite" else db
    now = dt.datetime.now(dt.UTC)

    async def commit(i: int) -> None:
        database = db if i % 2 else second
        async with database.transaction() as s:
            # read-then-write: the pattern that defeats SQLite's busy handler in deferred mode
            count = (await s.execute(select(func.count()).select_from(Tenant))).scalar_one()
            s.add(Tenant(id=f"t{i:031d}", name=f"tenant-{i}-{count}", created_at=now))

    try:
        await asyncio.gather(*(commit(i) for i in range(50)))
    finally:
        if second is not db:
            await second.close()
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Tenant))).scalar_one() == 50


async def test_versioning_migration_makes_existing_objects_their_keys_null_versions(tmp_path) -> None:
    """0016_versioning on a database with objects: each existing row is its key's latest,
    "null" version and no delete marker, and ListObjects' index exists."""
    from sqlalchemy import inspect, text

    from satellite.db.models import Bucket

    database = create_database(sqlite_url(os.path.join(tmp_path, "old.db")))
    try:
        await upgrade_schema(database, "0016_residency_gc")
        now = dt.datetime.now(dt.UTC)
        async with database.transaction() as s:
            s.add(PlacementPolicyRow(name="p", k=1, repair=1, success=1, total=1, created_at=now))
            s.add(Tenant(id="t" * 32, name="t", created_at=now))
            await s.flush()
            policy = (await s.execute(select(PlacementPolicyRow.id))).scalar_one()
            s.add(Bucket(name="bkt", tenant_id="t" * 32, policy_id=policy, versioning="unversioned", created_at=now))
        async with database.write_conn() as c:
            bucket = (await c.execute(text("SELECT id FROM buckets"))).scalar_one()
            await c.execute(text(
                "INSERT INTO objects (bucket_id, key, version, status, size, etag, content_type, user_metadata, "
                "checksums, tags, segment_count, created_at) VALUES (:b, :k, 1, 'committed', 1, 'e', '', '{}', '{}', "
                "'{}', 0, :t)"), [{"b": bucket, "k": k, "t": now} for k in ("a", "b")])  # fmt: skip
        await upgrade_schema(database)
        async with database.read_conn() as c:
            query = text("SELECT key, version_id, is_latest, delete_marker FROM objects ORDER BY key")
            rows = (await c.execute(query)).all()
            indexes = await c.run_sync(lambda conn: {i["name"] for i in inspect(conn).get_indexes("objects")})
        assert [tuple(r) for r in rows] == [("a", "null", 1, 0), ("b", "null", 1, 0)]
        assert {"ix_objects_current", "ix_objects_version_id"} <= indexes
    finally:
        await database.close()
