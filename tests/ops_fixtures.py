"""A real satellite in the test's event loop, on SQLite and loopback, for operations tests.

:func:`running_satellite` starts :class:`satellite.peer.Satellite` with the test
configuration (overridable), on a fresh migrated SQLite file, and closes it afterwards:
the node-onboarding, metrics and repair-status tests talk to it over real HTTP.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from common.identity import Identity
from satellite.config import SatelliteConfig
from satellite.db import create_database, upgrade_schema
from satellite.db.engine import sqlite_url
from satellite.peer import Satellite
from tests.satellite_fixtures import stop_satellite

__all__ = ["running_satellite"]


@contextlib.asynccontextmanager
async def running_satellite(tmp_path: Path, **config: Any) -> AsyncIterator[Satellite]:
    sat_dir = tmp_path / "satellite"
    sat_dir.mkdir(parents=True, exist_ok=True)
    db = create_database(sqlite_url(str(sat_dir / "satellite.db")))
    await upgrade_schema(db)
    sat = Satellite(SatelliteConfig.for_tests(str(sat_dir), **config), db, Identity.generate())
    await sat.start()
    try:
        yield sat
    finally:
        await stop_satellite(sat)
        await db.close()
