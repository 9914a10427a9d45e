"""A lifecycle chore in its own process that SIGKILLs itself during its N-th expiry batch.

    python -m tests.lifecycle_crash_worker DB_URL PG_SCHEMA NOW CRASH_AT WHERE

It runs the satellite's lifecycle chore over the database (``PG_SCHEMA`` its search path on
PostgreSQL, ``-`` for none; batches of 3, one-second days, the
clock at unix time ``NOW``) and prints each committed batch's expired keys. At the
``CRASH_AT``-th batch with something to expire it kills itself with SIGKILL: ``inside`` the
batch's transaction after its deletions ran but before the commit, or ``after`` the commit,
before the chore saw the result (no cleanup, no finally blocks). Batches of the version phase
(noncurrent versions removed for good) count as expiry batches too; they print ``removed``
and the ``key@version-id`` of each version removed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from satellite.db import create_database
from satellite.db.deletion import delete_keys
from satellite.db.lifecycle import LifecycleObject, LifecycleRepository
from satellite.db.lifecycle_versions import LifecycleVersion
from satellite.db.object_versions import delete_version
from satellite.lifecycle import LifecycleChore, LifecycleConfig


class CrashingRepository(LifecycleRepository):
    def __init__(self, db: Any, crash_at: int, where: str) -> None:
        super().__init__(db)
        self.crash_at, self.where, self.batches = crash_at, where, 0

    async def expire(self, bucket_id: int, doomed: Sequence[LifecycleObject], cursor: dict[str, Any]) -> list[str]:
        if doomed:
            self.batches += 1
        if self.batches == self.crash_at and doomed and self.where == "inside":
            async with self.db.transaction() as s:
                await delete_keys(s, bucket_id, [o.key for o in doomed], only_ids={o.id for o in doomed})
                print("crash", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        deleted = await super().expire(bucket_id, doomed, cursor)
        print("expired", *deleted, flush=True)
        if self.batches == self.crash_at and doomed:
            os.kill(os.getpid(), signal.SIGKILL)
        return deleted

    async def remove_versions(self, bucket_id: int, doomed: Sequence[tuple[LifecycleVersion, str]],
                              cursor: dict[str, Any]) -> list[LifecycleVersion]:  # fmt: skip
        if doomed:
            self.batches += 1
        if self.batches == self.crash_at and doomed and self.where == "inside":
            async with self.db.transaction() as s:
                for v, _ in doomed:
                    await delete_version(s, bucket_id, v.key, v.version_id)
                print("crash", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        removed = await super().remove_versions(bucket_id, doomed, cursor)
        print("removed", *(f"{v.key}@{v.version_id}" for v in removed), flush=True)
        if self.batches == self.crash_at and doomed:
            os.kill(os.getpid(), signal.SIGKILL)
        return removed


async def main(db_url: str, schema: str, now: float, crash_at: int, where: str) -> None:
    db = create_database(db_url, pg_schema=None if schema == "-" else schema)
    chore = LifecycleChore(CrashingRepository(db, crash_at, where), LifecycleConfig(batch_size=3, day_seconds=1))
    while await chore.run_once(dt.datetime.fromtimestamp(now, dt.UTC)) is not None:
        pass
    print("no crash", flush=True)
    sys.exit(3)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
