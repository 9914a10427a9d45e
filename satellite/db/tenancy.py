"""Tenants, access keys and placement policies in the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError

from erasure.scheme import RedundancyScheme
from satellite.db.engine import Database
from satellite.db.models import AccessKey, Bucket, PlacementPolicyRow, Tenant, policy_named
from satellite.errors import (
    NoSuchAccessKey,
    NoSuchPolicy,
    NoSuchTenant,
    PolicyExists,
    PolicyInUse,
    TenantExists,
)
from satellite.nodeselection import PlacementPolicy
from satellite.tenancy.service import AccessKeyInfo, StoredAccessKey, TenantInfo

__all__ = ["TenancyRepository", "policy_from_row"]


def policy_from_row(row: PlacementPolicyRow) -> PlacementPolicy:
    return PlacementPolicy(
        name=row.name,
        scheme=RedundancyScheme(row.k, row.repair, row.success, row.total),
        allowed_countries=frozenset(row.allowed_countries),
        allowed_regions=frozenset(row.allowed_regions),
        excluded_countries=frozenset(row.excluded_countries),
        min_countries=row.min_countries,
    )


def _policy_values(policy: PlacementPolicy) -> dict[str, Any]:
    """A policy's rules as column values (everything but its name)."""
    return {
        "allowed_countries": sorted(policy.allowed_countries),
        "allowed_regions": sorted(policy.allowed_regions),
        "excluded_countries": sorted(policy.excluded_countries),
        "min_countries": policy.min_countries,
        "k": policy.scheme.k,
        "repair": policy.scheme.repair,
        "success": policy.scheme.success,
        "total": policy.scheme.total,
    }


class TenancyRepository:
    """Implements ``satellite.tenancy.service.TenancyStore``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_policy(self, policy: PlacementPolicy) -> None:
        row = PlacementPolicyRow(name=policy.name, created_at=dt.datetime.now(dt.UTC), **_policy_values(policy))
        try:
            async with self.db.transaction() as s:
                s.add(row)
        except IntegrityError:
            raise PolicyExists(f"a placement policy named {policy.name!r} already exists") from None

    async def update_policy(self, policy: PlacementPolicy) -> None:
        async with self.db.transaction() as s:
            res = await s.execute(
                update(PlacementPolicyRow)
                .where(policy_named(policy.name))
                .values(**_policy_values(policy))
            )
            if not res.rowcount:
                raise NoSuchPolicy(f"no placement policy named {policy.name!r}")

    async def get_policy(self, name: str) -> PlacementPolicy:
        async with self.db.read() as s:
            row = (await s.execute(select(PlacementPolicyRow).where(policy_named(name)))).scalar()
        if row is None:
            raise NoSuchPolicy(f"no placement policy named {name!r}")
        return policy_from_row(row)

    async def list_policies(self) -> list[PlacementPolicy]:
        async with self.db.read() as s:
            rows = (await s.execute(select(PlacementPolicyRow).order_by(PlacementPolicyRow.name))).scalars()
            return [policy_from_row(r) for r in rows]

    async def delete_policy(self, name: str) -> None:
        async with self.db.transaction() as s:
            pid = (await s.execute(select(PlacementPolicyRow.id).where(policy_named(name)))).scalar()
            if pid is None:
                raise NoSuchPolicy(f"no placement policy named {name!r}")
            used = await s.execute(
                select(
                    or_(
                        exists().where(Bucket.policy_id == pid),
                        exists().where(Tenant.default_policy_id == pid),
                    )
                )
            )
            if used.scalar():
                raise PolicyInUse(f"placement policy {name!r} is used by a bucket or as a tenant's default")
            await s.execute(delete(PlacementPolicyRow).where(PlacementPolicyRow.id == pid))

    async def _policy_id(self, s: object, name: str | None) -> int | None:
        if name is None:
            return None
        pid = (await s.execute(select(PlacementPolicyRow.id).where(policy_named(name)))).scalar()  # type: ignore[attr-defined]
        if pid is None:
            raise NoSuchPolicy(f"no placement policy named {name!r}")
        return int(pid)

    async def create_tenant(self, tenant_id: str, name: str, default_policy: str | None) -> TenantInfo:
        now = dt.datetime.now(dt.UTC)
        try:
            async with self.db.transaction() as s:
                pid = await self._policy_id(s, default_policy)
                s.add(Tenant(id=tenant_id, name=name, default_policy_id=pid, created_at=now))
        except IntegrityError:
            raise TenantExists(f"a tenant named {name!r} already exists") from None
        return TenantInfo(tenant_id, name, default_policy, now)

    def _tenant_query(self):  # type: ignore[no-untyped-def]
        return select(Tenant, PlacementPolicyRow.name).outerjoin(
            PlacementPolicyRow, PlacementPolicyRow.id == Tenant.default_policy_id
        )

    async def get_tenant(self, tenant_id: str) -> TenantInfo:
        async with self.db.read() as s:
            row = (await s.execute(self._tenant_query().where(Tenant.id == tenant_id))).first()
        if row is None:
            raise NoSuchTenant(f"no tenant {tenant_id!r}")
        return TenantInfo(row[0].id, row[0].name, row[1], row[0].created_at)

    async def list_tenants(self) -> list[TenantInfo]:
        async with self.db.read() as s:
            rows = (await s.execute(self._tenant_query().order_by(Tenant.name))).all()
        return [TenantInfo(t.id, t.name, p, t.created_at) for t, p in rows]

    async def set_default_policy(self, tenant_id: str, policy: str | None) -> None:
        async with self.db.transaction() as s:
            pid = await self._policy_id(s, policy)
            res = await s.execute(update(Tenant).where(Tenant.id == tenant_id).values(default_policy_id=pid))
            if not res.rowcount:
                raise NoSuchTenant(f"no tenant {tenant_id!r}")

    async def add_access_key(self, key: StoredAccessKey) -> None:
        async with self.db.transaction() as s:
            s.add(
                AccessKey(
                    id=key.access_key_id,
                    tenant_id=key.tenant_id,
                    secret_ciphertext=key.secret_ciphertext,
                    status=key.status,
                    created_at=key.created_at,
                )
            )

    async def get_access_key(self, access_key_id: str) -> StoredAccessKey:
        async with self.db.read() as s:
            k = await s.get(AccessKey, access_key_id)
        if k is None:
            raise NoSuchAccessKey(f"no access key {access_key_id!r}")
        return StoredAccessKey(k.id, k.tenant_id, k.status, k.secret_ciphertext, k.created_at)

    async def list_access_keys(self, tenant_id: str) -> list[AccessKeyInfo]:
        async with self.db.read() as s:
            rows = (
                await s.execute(select(AccessKey).where(AccessKey.tenant_id == tenant_id).order_by(AccessKey.id))
            ).scalars()
            return [AccessKeyInfo(k.id, k.tenant_id, k.status, k.created_at) for k in rows]

    async def revoke_access_key(self, access_key_id: str) -> None:
        async with self.db.transaction() as s:
            res = await s.execute(
                update(AccessKey)
                .where(AccessKey.id == access_key_id)
                .values(status="revoked", revoked_at=dt.datetime.now(dt.UTC))
            )
            if not res.rowcount:
                raise NoSuchAccessKey(f"no access key {access_key_id!r}")

    async def revoked_since(self, since: dt.datetime) -> list[str]:
        """Access keys revoked after ``since`` (the index on ``revoked_at`` serves it)."""
        async with self.db.read() as s:
            rows = await s.execute(select(AccessKey.id).where(AccessKey.revoked_at > since).order_by(AccessKey.id))
            return [r[0] for r in rows]
