"""A real satellite in the test's event loop, on SQLite and loopback, for operations tests.

:func:`running_satellite` starts :class:`satellite.peer.Satellite` with the test
configuration (overridable), on a fresh migrated SQLite file, and closes it afterwards:
the node-onboarding, metrics and repair-status tests talk to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from common.identity import Identity
from satellite.config import SatelliteConfig, load_config, save_config
from satellite.db import create_database, upgrade_schema
from satellite.db.engine import sqlite_url
from satellite.peer import Satellite
from tests.satellite_fixtures import stop_satellite

__all__ = ["DEADLINE", "GEOSHARD", "init_satellite", "running_satellite"]

# The installed command, as an operator runs it (``python -m`` where the venv has no script).
GEOSHARD = [str(Path(sys.executable).with_name("geoshard"))]
if not Path(GEOSHARD[0]).exists():
    GEOSHARD = [sys.executable, "-m", "geoshard.cli"]
DEADLINE = 90.0  # seconds any one wait may take on a loaded CI machine (a bound, not a timing)


async def init_satellite(tmp_path: Path, database_url: str, **settings: Any) -> Path:
    """``geoshard satellite init`` on free ports, then ``settings`` written into its config; its path."""
    data = tmp_path / "satellite"
    init = await asyncio.create_subprocess_exec(
        *GEOSHARD, "satellite", "init", "--data", str(data), "--database-url", database_url,
        "--port", "0", "--admin-port", "0",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(init.communicate(), DEADLINE)
    assert init.returncode == 0, err.decode()
    path = data / "satellite.json"
    config = load_config(path)
    for name, value in settings.items():
        setattr(config, name, value)
    save_config(config, path)
    return path


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
