"""What authentication needs and what it proves.

The gateway does not own access keys: the caller gives a :class:`KeyProvider`, which
answers with a SigV4 signing key for one scope and checks SigV2 signatures, so that the
gateway never needs a tenant's secret; or a :data:`CredentialLookup`, an async function
from access key id to ``(secret, tenant_id)`` (or ``None`` for an unknown key), which
:class:`SecretKeys` turns into one. A request that verifies yields an :class:`AuthResult`: who signed it (access key,
tenant), how (:class:`AuthScheme`), and what the signature says about the body
(:class:`PayloadMode`, the declared SHA-256, and for aws-chunked bodies the
:class:`SigningContext` that chunk signatures chain from). The body reader needs all of
it; handlers need the tenant.
"""

from __future__ import annotations

import enum
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol, runtime_checkable

from common.s3keys import sigv2_signature, sigv4_signing_key

__all__ = [
    "MAX_PRESIGNED_EXPIRES",
    "MAX_SKEW_SECONDS",
    "AuthConfig",
    "AuthResult",
    "AuthScheme",
    "CredentialLookup",
    "KeyProvider",
    "PayloadMode",
    "SecretKeys",
    "SigningContext",
    "as_key_provider",
]

CredentialLookup = Callable[[str], Awaitable[tuple[str, str] | None]]
"""``async (access_key_id) -> (secret_access_key, tenant_id) | None``."""


@runtime_checkable
class KeyProvider(Protocol):
    """What verification needs of a key without holding its secret: a SigV4 signing key for
    one scope, and a SigV2 check. The gateway's provider asks the satellite
    (:class:`gateway.access_keys.CredentialCache`); :class:`SecretKeys` computes both from
    a :data:`CredentialLookup`."""

    async def sigv4_key(self, access_key_id: str, date: str, region: str) -> tuple[bytes, str] | None:
        """``(signing key for date/region/s3, tenant_id)``, or None for an unknown or revoked key."""
        ...

    async def sigv2_tenant(self, access_key_id: str, signature: str, strings: Sequence[str]) -> tuple[bool, str | None]:
        """``(key known and active, tenant_id if the signature matches one of strings)``."""
        ...


@dataclass(frozen=True)
class SecretKeys:
    """A :class:`KeyProvider` over a lookup that returns secrets."""

    lookup: CredentialLookup

    async def sigv4_key(self, access_key_id: str, date: str, region: str) -> tuple[bytes, str] | None:
        creds = await self.lookup(access_key_id)
        if creds is None:
            return None
        return _cached_signing_key(creds[0], date, region), creds[1]

    async def sigv2_tenant(self, access_key_id: str, signature: str, strings: Sequence[str]) -> tuple[bool, str | None]:
        creds = await self.lookup(access_key_id)
        if creds is None:
            return False, None
        secret, tenant = creds
        for sts in strings:
            if hmac.compare_digest(sigv2_signature(secret, sts).encode(), signature.encode()):
                return True, tenant
        return True, None


@lru_cache(maxsize=256)
def _cached_signing_key(secret: str, date: str, region: str) -> bytes:
    return sigv4_signing_key(secret, date, region)


def as_key_provider(lookup: CredentialLookup | KeyProvider) -> KeyProvider:
    return lookup if isinstance(lookup, KeyProvider) else SecretKeys(lookup)

MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGNED_EXPIRES = 7 * 24 * 3600


class AuthScheme(enum.Enum):
    SIGV4_HEADER = "AWS4-HMAC-SHA256 header"
    SIGV4_QUERY = "AWS4-HMAC-SHA256 presigned URL"
    SIGV2_HEADER = "AWS (v2) header"
    SIGV2_QUERY = "AWS (v2) presigned URL"
    ANONYMOUS = "no credentials"  # allowed where a bucket's ACL or policy may let everyone in


class PayloadMode(enum.Enum):
    """What ``x-amz-content-sha256`` declared about the body."""

    UNSIGNED = "UNSIGNED-PAYLOAD"
    SHA256 = "<hex sha256>"
    STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

    @property
    def is_streaming(self) -> bool:
        return self.value.startswith("STREAMING-")

    @property
    def signed_chunks(self) -> bool:
        return self in (PayloadMode.STREAMING_SIGNED, PayloadMode.STREAMING_SIGNED_TRAILER)

    @property
    def has_trailer(self) -> bool:
        return self.value.endswith("-TRAILER")


@dataclass(frozen=True, slots=True)
class SigningContext:
    """What aws-chunked chunk and trailer signatures are computed from: the derived SigV4
    key, the request's timestamp and scope, and the seed (request) signature."""

    signing_key: bytes = field(repr=False)
    amz_date: str
    scope: str
    seed_signature: str


@dataclass(frozen=True, slots=True)
class AuthResult:
    access_key_id: str
    tenant_id: str
    scheme: AuthScheme
    payload: PayloadMode = PayloadMode.UNSIGNED
    content_sha256: str | None = None
    signing: SigningContext | None = None


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """``region``: the region clients must sign for, or ``None`` to accept any (clients
    differ in what they default to). ``clock`` is injectable for tests."""

    region: str | None = None
    max_skew: float = MAX_SKEW_SECONDS
    clock: Callable[[], float] = time.time
