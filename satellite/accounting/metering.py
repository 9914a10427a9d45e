"""Customer metering at the metainfo API: requests by class and download egress, per tenant.

Every S3 request a gateway serves reaches the satellite as one metainfo operation naming
the tenant, so that is where requests are counted (never the gateway's own say): class A
(PUT, COPY, LIST, multipart: the writes and listings) and class B (GET, HEAD). A GET's
egress is the length of the byte range the satellite resolved and issued orders for.

Counting a request must not cost a database write on the hot path: each API process adds
to counters in memory and writes them every ``meter_flush_interval`` seconds with one
upsert per flush (``egress = egress + n``), also at shutdown. A process killed without
warning loses at most one interval of counts — it under-bills, it never bills twice.
Counts go to the period in which they are flushed; periods close ``close_delay`` (at least
one flush interval) after they end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from satellite.db.accounting import AccountingRepository

from .pricing import Period

__all__ = ["CLASS_A", "CLASS_B", "RequestMeter"]

log = logging.getLogger(__name__)

CLASS_A = frozenset(
    {
        "bucket/create",
        "bucket/list",
        "bucket/delete",
        "object/commit",
        "object/copy",
        "object/list",
        "object/versions",
        "bucket/versioning/put",
        "object/delete",
        "object/delete-many",
        "object/tags/put",
        "object/tags/delete",
        "multipart/create",
        "multipart/commit-part",
        "multipart/complete",
        "multipart/list-parts",
        "multipart/list-uploads",
    }
)
# bucket/get is not counted: gateways ask it on the way to other operations, not for a client.
CLASS_B = frozenset({"object/get", "object/head", "object/tags/get", "bucket/versioning/get"})


class RequestMeter:
    def __init__(self, repo: AccountingRepository, *, period_seconds: int, flush_interval: float) -> None:
        self.repo = repo
        self.period_seconds = period_seconds
        self.flush_interval = flush_interval
        self._counts: dict[str, list[int]] = {}

    def observe(self, op: str, body: dict[str, Any], answer: dict[str, Any]) -> None:
        """Count one successful metainfo operation (called by the endpoint after it answered)."""
        tenant = body.get("tenant_id")
        if not isinstance(tenant, str) or not tenant:
            return
        if op in CLASS_A:
            index = 1
        elif op in CLASS_B:
            index = 2
        else:
            return
        c = self._counts.setdefault(tenant, [0, 0, 0])
        c[index] += 1
        if op == "object/get":
            rng = answer.get("range")
            size = (answer.get("object") or {}).get("size", 0)
            c[0] += (rng[1] - rng[0] + 1) if rng else int(size or 0)

    async def flush(self, now: float | None = None) -> int:
        """Write the counts so far to the current period's meters; how many tenants."""
        counts, self._counts = self._counts, {}
        if not counts:
            return 0
        period = Period.at(time.time() if now is None else now, self.period_seconds)
        try:
            await self.repo.add_meters(period.id, {t: (c[0], c[1], c[2]) for t, c in counts.items()})
        except Exception:
            for t, c in counts.items():  # keep them for the next flush
                mine = self._counts.setdefault(t, [0, 0, 0])
                for i in range(3):
                    mine[i] += c[i]
            raise
        return len(counts)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except Exception:
                log.exception("writing request meters failed; they are kept for the next flush")

    async def close(self) -> None:
        try:
            await self.flush()
        except Exception:
            log.exception("writing request meters at shutdown failed")
