"""A listing reads one snapshot: a DELETE that commits between its key scan and its row
fetch neither shortens the page nor makes a truncated listing say it is complete."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import pytest
from sqlalchemy import delete, insert

from erasure.scheme import RedundancyScheme
from satellite.db.metabase import MetabaseRepository
from satellite.db.models import ObjectRow
from satellite.db.tenancy import TenancyRepository
from satellite.nodeselection import PlacementPolicy
from satellite.tenancy.secretbox import SecretBox
from satellite.tenancy.service import TenancyService
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)


async def test_a_delete_between_a_listings_two_reads_leaves_the_page_whole_and_truncated(
    db, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    tenancy = TenancyService(TenancyRepository(db), SecretBox(os.urandom(32)))
    await tenancy.create_policy(PlacementPolicy(name="eu", scheme=RedundancyScheme(2, 3, 4, 5),
                                                allowed_countries=frozenset({"DE"})))  # fmt: skip
    tenant = await tenancy.create_tenant("acme", default_policy="eu")
    repo = MetabaseRepository(db)
    bucket = await repo.create_bucket(tenant.id, "listing", "")
    now = dt.datetime.now(dt.UTC)
    rows = [{"bucket_id": bucket.id, "key": f"k{i:03d}", "version": 1, "status": "committed", "size": 1, "etag": "e",
             "content_type": "", "user_metadata": {}, "checksums": {}, "tags": {}, "segment_count": 0,
             "created_at": now} for i in range(20)]  # fmt: skip
    async with db.transaction() as s:
        await s.execute(insert(ObjectRow), rows)

    scan = MetabaseRepository._skip_scan

    async def scan_then_a_delete_commits(self: MetabaseRepository, *args: Any, **kwargs: Any) -> Any:
        found = await scan(self, *args, **kwargs)
        async with db.write_conn() as c:  # a DeleteObject from another request, committed now
            await c.execute(delete(ObjectRow).where(ObjectRow.key == "k003"))
        return found

    monkeypatch.setattr(MetabaseRepository, "_skip_scan", scan_then_a_delete_commits)
    page = await repo.list_objects(bucket.id, prefix="", delimiter="/", start="", start_inclusive=False, limit=11)
    assert len(page) == 11  # max-keys 10 + the one that says "truncated": the listing's snapshot still has k003
    monkeypatch.undo()
    after = await repo.list_objects(bucket.id, prefix="", delimiter="/", start="", start_inclusive=False, limit=30)
    assert len(after) == 19  # and the delete did commit
