"""The access-control half of ``MetabaseStore``: a bucket's access settings in one read,
an object's canned ACL, and tenants' Block Public Access."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Text, bindparam, delete, literal, select, type_coerce, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from satellite.db.access_models import TenantAccessBlock
from satellite.db.engine import Database
from satellite.db.models import ObjectRow, Tenant
from satellite.db.surface_models import BucketSetting

__all__ = ["ACCESS_SETTINGS", "AccessRepository", "access_columns", "access_rows_of"]


_TENANT_BLOCK = "*tenant"  # no bucket setting has this name (they are words)
_ACCESS_ROWS = union_all(
    select(BucketSetting.name.label("name"), type_coerce(BucketSetting.value, Text).label("value")).where(
        BucketSetting.bucket_id == bindparam("bucket_id"), BucketSetting.name.in_(bindparam("names", expanding=True))
    ),
    select(literal(_TENANT_BLOCK).label("name"), type_coerce(TenantAccessBlock.block, Text).label("value")).where(
        TenantAccessBlock.tenant_id == bindparam("tenant_id")
    ),
)


def _json(value: Any) -> dict[str, Any]:
    return dict(json.loads(value) if isinstance(value, str) else value)


# What an authorization reads of a bucket (satellite.access.service), as columns of the bucket's
# own query: one correlated, indexed lookup each, so a request reads its bucket and who may use it
# in one statement.
ACCESS_SETTINGS = ("ownership", "acl", "public_access_block", "policy")


def access_columns(bucket_id: Any, tenant_id: Any) -> list[Any]:
    """Scalar subqueries (labelled ``a_<name>`` and ``a_tenant_block``) for a bucket query's columns."""
    cols = [
        select(type_coerce(BucketSetting.value, Text))
        .where(BucketSetting.bucket_id == bucket_id, BucketSetting.name == name)
        .scalar_subquery()
        .label(f"a_{name}")
        for name in ACCESS_SETTINGS
    ]
    block = select(type_coerce(TenantAccessBlock.block, Text)).where(TenantAccessBlock.tenant_id == tenant_id)
    return [*cols, block.scalar_subquery().label("a_tenant_block")]


def access_rows_of(m: Any) -> tuple[tuple[str, ...], dict[str, dict[str, Any]], dict[str, Any] | None]:
    """``BucketInfo.access_rows`` from a row selected with :func:`access_columns`."""
    settings = {n: _json(m[f"a_{n}"]) for n in ACCESS_SETTINGS if m[f"a_{n}"] is not None}
    block = m["a_tenant_block"]
    return ACCESS_SETTINGS, settings, None if block is None else _json(block)


async def _settings(s: AsyncSession, bucket_id: int, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    rows = await s.execute(
        select(BucketSetting.name, BucketSetting.value).where(
            BucketSetting.bucket_id == bucket_id, BucketSetting.name.in_(list(names))
        )
    )
    return {name: dict(value) for name, value in rows.all()}


class AccessRepository:
    db: Database

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_settings(self, bucket_id: int, names: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The bucket's settings among ``names``, by name (one indexed query)."""
        async with self.db.read() as s:
            return await _settings(s, bucket_id, names)

    async def access_rows(self, bucket_id: int, tenant_id: str,
                          names: Iterable[str]) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:  # fmt: skip
        """A bucket's access settings and its tenant's block, in one statement: every
        authorization reads them, on the hot paths of GET, LIST and commit."""
        async with self.db.read_conn() as c:
            rows = (await c.execute(_ACCESS_ROWS, {"bucket_id": bucket_id, "tenant_id": tenant_id,
                                                   "names": list(names)})).all()  # fmt: skip
        settings = {str(name): _json(value) for name, value in rows if name != _TENANT_BLOCK}
        block = next((_json(value) for name, value in rows if name == _TENANT_BLOCK), None)
        return settings, block

    async def set_object_metadata_entry(self, bucket_id: int, key: str, name: str, value: str | None,
                                        version_id: str | None = None) -> bool:  # fmt: skip
        """Set (or with None remove) one entry of the current object's (or that version's) stored metadata."""
        q = select(ObjectRow.id, ObjectRow.user_metadata).where(ObjectRow.bucket_id == bucket_id, ObjectRow.key == key)
        q = q.where(ObjectRow.version_id == version_id) if version_id else q.order_by(ObjectRow.version.desc())
        async with self.db.transaction() as s:
            row = (await s.execute(q.limit(1))).first()
            if row is None:
                return False
            meta = {k: v for k, v in dict(row.user_metadata or {}).items() if k != name}
            if value is not None:
                meta[name] = value
            await s.execute(update(ObjectRow).where(ObjectRow.id == row.id).values(user_metadata=meta))
            return True

    async def tenants_exist(self, tenant_ids: Iterable[str]) -> set[str]:
        ids = list(tenant_ids)
        if not ids:
            return set()
        async with self.db.read() as s:
            return set((await s.execute(select(Tenant.id).where(Tenant.id.in_(ids)))).scalars())

    async def get_tenant_block(self, tenant_id: str) -> dict[str, Any] | None:
        async with self.db.read() as s:
            row = await s.get(TenantAccessBlock, tenant_id)
        return None if row is None else dict(row.block)

    async def put_tenant_block(self, tenant_id: str, block: dict[str, Any] | None) -> None:
        async with self.db.transaction() as s:
            if block is None:
                await s.execute(delete(TenantAccessBlock).where(TenantAccessBlock.tenant_id == tenant_id))
                return
            row = await s.get(TenantAccessBlock, tenant_id)
            now = dt.datetime.now(dt.UTC)
            if row is None:
                s.add(TenantAccessBlock(tenant_id=tenant_id, block=block, updated_at=now))
            else:
                row.block, row.updated_at = block, now
