"""Chore leases in the database: compare-and-set on one row per chore, on SQLite and PostgreSQL.

A lease is taken when its row is missing, expired, already ours, or held by a process the
caller knows is dead (``stale``). The update names the holder it read, so of two processes
that both saw the same expired lease only one wins: PostgreSQL re-checks the ``WHERE`` of an
``UPDATE`` after waiting for the row lock, and SQLite runs one writer at a time. Two first
takers race on the primary key, and the loser's insert fails.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from satellite.db.engine import Database
from satellite.db.lease_models import ChoreLease

__all__ = ["LeaseRepository"]

_T = ChoreLease.__table__


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class LeaseRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def acquire(
        self, name: str, holder: str, ttl: float, *, stale: Callable[[str], bool] = lambda _h: False
    ) -> bool:
        """Take or renew ``name`` for ``ttl`` seconds; False while another live process holds it."""
        now = dt.datetime.now(dt.UTC)
        until = now + dt.timedelta(seconds=ttl)
        try:
            async with self.db.write_conn() as c:
                row = (await c.execute(select(_T.c.holder, _T.c.expires_at).where(_T.c.name == name))).first()
                if row is None:
                    await c.execute(insert(_T).values(name=name, holder=holder, acquired_at=now, expires_at=until))
                    return True
                if row.holder != holder and row.expires_at > now and not stale(row.holder):
                    return False
                values: dict[str, Any] = {"holder": holder, "expires_at": until}
                if row.holder != holder:
                    values["acquired_at"] = now
                done = await c.execute(update(_T).where(_T.c.name == name, _T.c.holder == row.holder).values(**values))
                return done.rowcount == 1
        except IntegrityError:  # another process inserted the first lease of this chore first
            return False

    async def release(self, name: str, holder: str) -> None:
        """Give ``name`` up at once (a clean stop), so a standby process need not wait for it to expire."""
        async with self.db.write_conn() as c:
            await c.execute(delete(_T).where(_T.c.name == name, _T.c.holder == holder))

    async def holders(self) -> list[dict[str, Any]]:
        """Every lease, live or expired, for the admin API: which process runs which chore."""
        now = dt.datetime.now(dt.UTC)
        async with self.db.read_conn() as c:
            rows = (await c.execute(select(_T).order_by(_T.c.name))).all()
        return [
            {"chore": r.name, "holder": r.holder, "acquired_at": _iso(r.acquired_at),
             "expires_at": _iso(r.expires_at), "live": r.expires_at > now}
            for r in rows
        ]  # fmt: skip
