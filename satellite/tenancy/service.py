"""Tenants, access keys and placement policies: the service the admin API and gateways call.

Access key secrets are generated here, stored only sealed by :class:`SecretBox`, and
handed back in clear exactly twice: once to the admin who creates the key, and to
authenticated gateways, which need them to verify SigV4 signatures.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
from dataclasses import dataclass
from typing import Protocol

from satellite.errors import InvalidArgument, NoSuchAccessKey
from satellite.nodeselection import PlacementPolicy
from satellite.tenancy.secretbox import SecretBox

__all__ = ["AccessKeyInfo", "NewAccessKey", "TenancyService", "TenancyStore", "TenantInfo"]

_TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_KEY_ALPHABET = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class TenantInfo:
    id: str
    name: str
    default_policy: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class AccessKeyInfo:
    access_key_id: str
    tenant_id: str
    status: str
    created_at: dt.datetime


@dataclass(frozen=True)
class NewAccessKey:
    access_key_id: str
    secret_access_key: str
    tenant_id: str


@dataclass(frozen=True)
class StoredAccessKey:
    access_key_id: str
    tenant_id: str
    status: str
    secret_ciphertext: bytes
    created_at: dt.datetime


class TenancyStore(Protocol):
    async def create_policy(self, policy: PlacementPolicy) -> None: ...
    async def update_policy(self, policy: PlacementPolicy) -> None: ...
    async def get_policy(self, name: str) -> PlacementPolicy: ...
    async def list_policies(self) -> list[PlacementPolicy]: ...
    async def delete_policy(self, name: str) -> None: ...
    async def create_tenant(self, tenant_id: str, name: str, default_policy: str | None) -> TenantInfo: ...
    async def get_tenant(self, tenant_id: str) -> TenantInfo: ...
    async def list_tenants(self) -> list[TenantInfo]: ...
    async def set_default_policy(self, tenant_id: str, policy: str | None) -> None: ...
    async def add_access_key(self, key: StoredAccessKey) -> None: ...
    async def get_access_key(self, access_key_id: str) -> StoredAccessKey: ...
    async def list_access_keys(self, tenant_id: str) -> list[AccessKeyInfo]: ...
    async def revoke_access_key(self, access_key_id: str) -> None: ...


class TenancyService:
    def __init__(self, store: TenancyStore, box: SecretBox) -> None:
        self.store = store
        self.box = box

    # --- policies
    async def create_policy(self, policy: PlacementPolicy) -> PlacementPolicy:
        await self.store.create_policy(policy)
        return policy

    async def update_policy(self, policy: PlacementPolicy) -> PlacementPolicy:
        """Change a policy's rules: new pieces follow at once; existing ones the repair
        checker finds outside it are migrated, as after a bucket's change of policy."""
        await self.store.update_policy(policy)
        return policy

    async def get_policy(self, name: str) -> PlacementPolicy:
        return await self.store.get_policy(name)

    async def list_policies(self) -> list[PlacementPolicy]:
        return await self.store.list_policies()

    async def delete_policy(self, name: str) -> None:
        """Delete a policy no bucket or tenant uses (``PolicyInUse`` otherwise)."""
        await self.store.delete_policy(name)

    # --- tenants
    async def create_tenant(self, name: str, default_policy: str | None = None) -> TenantInfo:
        if not _TENANT_NAME.match(name):
            raise InvalidArgument(f"invalid tenant name {name!r}: letters, digits, '.', '_', '@', '-'")
        return await self.store.create_tenant(secrets.token_hex(16), name, default_policy)

    async def get_tenant(self, tenant_id: str) -> TenantInfo:
        return await self.store.get_tenant(tenant_id)

    async def list_tenants(self) -> list[TenantInfo]:
        return await self.store.list_tenants()

    async def set_default_policy(self, tenant_id: str, policy: str | None) -> None:
        await self.store.set_default_policy(tenant_id, policy)

    # --- access keys
    async def create_access_key(self, tenant_id: str) -> NewAccessKey:
        await self.store.get_tenant(tenant_id)  # NoSuchTenant before anything is generated
        key_id = "GS" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(18))
        secret = secrets.token_urlsafe(30)
        await self.store.add_access_key(
            StoredAccessKey(
                access_key_id=key_id,
                tenant_id=tenant_id,
                status="active",
                secret_ciphertext=self.box.seal(secret.encode(), key_id.encode()),
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        return NewAccessKey(key_id, secret, tenant_id)

    async def lookup_access_key(self, access_key_id: str) -> tuple[NewAccessKey, str]:
        """The key's secret, tenant and status (``active``/``revoked``) for a gateway."""
        if not access_key_id or len(access_key_id) > 32:
            raise NoSuchAccessKey("no such access key")
        stored = await self.store.get_access_key(access_key_id)
        secret = self.box.open(stored.secret_ciphertext, stored.access_key_id.encode()).decode()
        return NewAccessKey(stored.access_key_id, secret, stored.tenant_id), stored.status

    async def list_access_keys(self, tenant_id: str) -> list[AccessKeyInfo]:
        return await self.store.list_access_keys(tenant_id)

    async def revoke_access_key(self, access_key_id: str) -> None:
        await self.store.revoke_access_key(access_key_id)
