"""The gateway's access key cache, and the revocation feed that makes revocation win over it.

Every S3 request needs its key's tenant and what to verify its signature with. The
gateway never holds a secret: for SigV4 the satellite gives it the *signing key* of one
day and region (an HMAC chain of the secret that cannot be reversed), for SigV2 the
satellite checks the signature itself. Asking for each request would add a round trip
to every request, so :class:`CredentialCache` keeps signing keys for
``credential_cache_ttl`` seconds. A cache must not keep a revoked key alive, though: a
customer who revokes a leaked key expects it to stop working everywhere at once.

So a background loop (:meth:`CredentialCache.run`) polls the satellite's revocation feed
(``access-key/revocations``) every ``revocation_poll_interval`` seconds and evicts every
key it names; the next request with that key asks the satellite, which answers
"revoked". The feed is one indexed query on the satellite and a few bytes on the wire,
the same on every gateway, so a revocation reaches all of them within one poll interval.

Revocation wins even when the feed does not answer: the cache is trusted only while the
last successful poll is at most ``revocation_max_staleness`` seconds old. Past that (the
satellite is unreachable, the loop is not running) every request asks the satellite
itself, exactly as without a cache. The poll's start time is what counts, so an answer
that was slow to come cannot vouch for a moment after it was asked.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.satellite_client import NoSuchAccessKey, SatelliteClient

__all__ = ["CredentialCache", "CredentialCacheConfig"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CredentialCacheConfig:
    ttl: float = 60.0  # how long an answer is reused; 0 = ask the satellite every time
    poll_interval: float = 0.5  # how often the revocation feed is read
    max_staleness: float = 2.0  # past this without a good poll, the cache is not trusted


class CredentialCache:
    """The gateway's :class:`~gateway.s3.credentials.KeyProvider`: SigV4 signing keys per
    ``(access key, day, region)``, cached; SigV2 checks asked of the satellite each time
    (SigV2 signs with the secret, which the satellite keeps)."""

    def __init__(self, satellite: SatelliteClient, config: CredentialCacheConfig = CredentialCacheConfig()) -> None:
        self.satellite = satellite
        self.config = config
        self._entries: dict[str, dict[tuple[str, str], tuple[float, tuple[bytes, str] | None]]] = {}
        self._since: str | None = None  # the satellite's "now" of the last good poll
        self._synced_at = float("-inf")  # monotonic time the last good poll was sent
        self.lookups = 0  # satellite round trips for keys (what the cache saves)

    @property
    def trusted(self) -> bool:
        return time.monotonic() - self._synced_at <= self.config.max_staleness

    async def sigv4_key(self, access_key_id: str, date: str, region: str) -> tuple[bytes, str] | None:
        ttl = self.config.ttl
        hit = self._entries.get(access_key_id, {}).get((date, region))
        if hit is not None and time.monotonic() - hit[0] < ttl and self.trusted:
            return hit[1]
        asked = time.monotonic()
        self.lookups += 1
        try:
            answer = await self.satellite.get_access_key(access_key_id, date, region)
        except NoSuchAccessKey:
            value = None
        else:
            active = answer.get("status") == "active" and answer.get("signing_key")
            value = (base64.b64decode(answer["signing_key"]), str(answer["tenant_id"])) if active else None
        if ttl > 0:
            self._entries.setdefault(access_key_id, {})[(date, region)] = (asked, value)
        return value

    async def sigv2_tenant(self, access_key_id: str, signature: str, strings: Sequence[str]) -> tuple[bool, str | None]:
        self.lookups += 1
        try:
            answer = await self.satellite.verify_sigv2(access_key_id, signature, list(strings))
        except NoSuchAccessKey:
            return False, None
        if answer.get("status") != "active":
            return False, None
        return True, (str(answer["tenant_id"]) if answer.get("match") else None)

    async def poll_once(self) -> list[str]:
        """Read the revocation feed once and evict what it names; returns the evicted keys."""
        sent = time.monotonic()
        answer = await self.satellite.access_key_revocations(self._since)
        revoked = [str(k) for k in answer.get("revoked", ())]
        for key in revoked:
            self._entries.pop(key, None)
        self._since = str(answer["now"])
        self._synced_at = sent
        return revoked

    async def run(self) -> None:
        """Poll until cancelled; a failed poll is logged and retried at the next interval."""
        failing = False
        while True:
            try:
                revoked = await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the satellite is away: the cache goes untrusted by itself
                if not failing:
                    log.warning("revocation feed unavailable, asking the satellite for every key: %r", exc)
                failing = True
            else:
                if failing:
                    log.info("revocation feed answers again")
                failing = False
                if revoked:
                    log.debug("revocation feed: evicted %s", revoked)
            await asyncio.sleep(self.config.poll_interval)

    async def close(self) -> None:
        self._entries.clear()
