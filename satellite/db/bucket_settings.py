"""A bucket's S3 configuration documents (the settings half of ``MetabaseStore``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from satellite.db.engine import Database
from satellite.db.surface_models import BucketSetting

__all__ = ["BucketSettingsRepository", "upsert_setting"]


async def upsert_setting(s: AsyncSession, bucket_id: int, name: str, value: dict[str, Any]) -> None:
    """Store a bucket's ``name`` document in the caller's transaction (``updated_at`` now)."""
    row = await s.get(BucketSetting, (bucket_id, name))
    now = dt.datetime.now(dt.UTC)
    if row is None:
        s.add(BucketSetting(bucket_id=bucket_id, name=name, value=value, updated_at=now))
    else:
        row.value, row.updated_at = value, now


class BucketSettingsRepository:
    db: Database

    async def get_setting(self, bucket_id: int, name: str) -> dict[str, Any] | None:
        async with self.db.read() as s:
            row = await s.get(BucketSetting, (bucket_id, name))
        return None if row is None else dict(row.value)

    async def put_setting(self, bucket_id: int, name: str, value: dict[str, Any]) -> None:
        async with self.db.transaction() as s:
            await upsert_setting(s, bucket_id, name, value)

    async def delete_setting(self, bucket_id: int, name: str) -> bool:
        async with self.db.transaction() as s:
            res = await s.execute(
                delete(BucketSetting).where(BucketSetting.bucket_id == bucket_id, BucketSetting.name == name)
            )
            return bool(res.rowcount)

    async def setting_names(self, bucket_id: int) -> list[str]:
        async with self.db.read() as s:
            rows = await s.execute(select(BucketSetting.name).where(BucketSetting.bucket_id == bucket_id))
            return sorted(rows.scalars())
