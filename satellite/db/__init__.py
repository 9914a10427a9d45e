"""The satellite's database: typed models, engines, Alembic migrations and the repositories services use."""

from satellite.db.engine import Database, create_database
from satellite.db.schema import SchemaBehindError, check_schema, upgrade_schema

__all__ = ["Database", "SchemaBehindError", "check_schema", "create_database", "upgrade_schema"]
