"""Tenants, access keys and placement policies: the service the admin API and gateways call.

Access key secrets are generated here, stored only sealed by :class:`SecretBox`, and
handed back in clear once: to the admin who creates the key. Gateways verify signatures
without them: they get a SigV4 *signing key* scoped to one day and region
(:meth:`TenancyService.signing_key`), and SigV2 signatures are checked here
(:meth:`TenancyService.verify_sigv2`) — for active keys only. Gateways cache keys; the revocation
feed (:meth:`TenancyService.revocations`) is what they poll to drop a revoked one within
a second, on every gateway at once.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from typing import Protocol

from common.s3keys import SIGV4_DATE, SIGV4_REGION, sigv2_signature, sigv4_signing_key
from satellite.errors import InvalidArgument, NoSuchAccessKey
from satellite.nodeselection import PlacementPolicy
from satellite.tenancy.secretbox import SecretBox

__all__ = ["REVOCATION_OVERLAP", "AccessKeyInfo", "NewAccessKey", "TenancyService", "TenancyStore", "TenantInfo"]

REVOCATION_OVERLAP = dt.timedelta(seconds=30)
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
    async def revoked_since(self, since: dt.datetime) -> list[str]: ...


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
        if stored.status != "active":  # nothing a gateway may verify with
            return NewAccessKey(stored.access_key_id, "", stored.tenant_id), stored.status
        secret = self.box.open(stored.secret_ciphertext, stored.access_key_id.encode()).decode()
        return NewAccessKey(stored.access_key_id, secret, stored.tenant_id), stored.status

    async def signing_key(self, access_key_id: str, date: str, region: str) -> tuple[str, str, bytes]:
        """``(tenant_id, status, key)``: the SigV4 signing key of an active key for one day
        and region (``b""`` unless active). A gateway verifies SigV4 with it and never sees
        the secret: a leaked signing key signs for that scope only, and not past revocation."""
        if not SIGV4_DATE.match(date) or not SIGV4_REGION.match(region):
            raise InvalidArgument("date must be YYYYMMDD and region 1 to 64 letters, digits or '-'")
        key, status = await self.lookup_access_key(access_key_id)
        if status != "active":
            return key.tenant_id, status, b""
        return key.tenant_id, status, sigv4_signing_key(key.secret_access_key, date, region)

    async def verify_sigv2(self, access_key_id: str, signature: str, strings: list[str]) -> tuple[str, str, bool]:
        """``(tenant_id, status, match)``: whether ``signature`` is the key's SigV2 signature of
        one of ``strings`` (an active key only). SigV2 signs with the secret itself, so it is
        checked here rather than handed out."""
        key, status = await self.lookup_access_key(access_key_id)
        if status != "active":
            return key.tenant_id, status, False
        match = any(hmac.compare_digest(sigv2_signature(key.secret_access_key, sts).encode(), signature.encode())
                    for sts in strings)  # fmt: skip
        return key.tenant_id, status, match

    async def list_access_keys(self, tenant_id: str) -> list[AccessKeyInfo]:
        return await self.store.list_access_keys(tenant_id)

    async def revoke_access_key(self, access_key_id: str) -> None:
        await self.store.revoke_access_key(access_key_id)

    async def revocations(self, since: dt.datetime | None) -> tuple[dt.datetime, list[str]]:
        """``(now, keys)``: the keys revoked after ``since - REVOCATION_OVERLAP`` (none when
        ``since`` is None: a gateway that just started has nothing cached), and the time
        to ask from next. The overlap covers the clocks of the satellite's processes (the
        admin API stamps ``revoked_at``, any API process answers) and a revocation that
        commits while a poll reads: a key is named in every answer for that long, so no
        gateway can miss it, and evicting a key twice costs one lookup."""
        now = dt.datetime.now(dt.UTC)
        if since is None:
            return now, []
        return now, await self.store.revoked_since(since - REVOCATION_OVERLAP)
