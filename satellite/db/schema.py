"""Schema migrations, run programmatically from the package (no alembic.ini at the repo root)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from satellite.db.engine import Database

__all__ = ["SchemaBehindError", "check_schema", "head_revision", "upgrade_schema"]

_MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaBehindError(RuntimeError):
    """The database schema is older (or other) than this code expects."""


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # the package always ships at least one migration
    return head


async def upgrade_schema(db: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""

    def run(conn: Connection) -> None:
        cfg = _config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with db.write_engine.begin() as conn:
        await conn.run_sync(run)


async def current_revision(db: Database) -> str | None:
    def run(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(run)


async def check_schema(db: Database, *, config_path: str = "CONFIG") -> None:
    """Raise :class:`SchemaBehindError` with the command that fixes it unless the schema is current."""
    current = await current_revision(db)
    head = head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise SchemaBehindError(
            f"the satellite database is {state}, this satellite needs revision {head}; "
            f"run `geoshard satellite migrate --config {config_path}`"
        )
