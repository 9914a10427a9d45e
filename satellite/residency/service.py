"""The residency service: the satellite's metadata location and signed exports of the ledger.

An export reads the bucket's chain head first and then its entries up to that head, so
placements committed while it streams neither appear half-way nor break the chain; the head
is signed with the satellite's identity (:mod:`satellite.residency.evidence`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

from .evidence import head_line, header_line
from .location import MetadataLocation

__all__ = ["LedgerStore", "ResidencyService"]


class LedgerStore(Protocol):
    """The ledger reads an export needs (``satellite.db.residency_ledger.LedgerRepository``)."""

    async def head(self, bucket: str) -> tuple[int, str]: ...

    def entries(
        self, bucket: str, *, since: dt.datetime | None = None, up_to: int | None = None
    ) -> AsyncIterator[dict[str, Any]]: ...


class ResidencyService:
    def __init__(self, store: LedgerStore, identity: Any, metadata: MetadataLocation, auditor: Any = None) -> None:
        self.auditor = auditor  # satellite.residency.audit.ResidencyAuditor: node-signed evidence
        self.store = store
        self.identity = identity  # common.identity.Identity: signs export heads
        self.metadata = metadata

    async def has_history(self, bucket: str) -> bool:
        return (await self.store.head(bucket))[0] > 0

    async def export(self, buckets: list[str], since: dt.datetime | None = None) -> AsyncIterator[str]:
        """The evidence file's lines (JSON, no newline) for ``buckets``, each chain signed at its head."""
        now = dt.datetime.now(dt.UTC).isoformat()
        yield _line(header_line(self.identity.id, now, metadata_location=self.metadata.describe(),
                                since=since.isoformat() if since else None))  # fmt: skip
        for bucket in buckets:
            seq, head_hash = await self.store.head(bucket)
            count, first = 0, 0
            async for entry in self.store.entries(bucket, since=since, up_to=seq):
                first = first or entry["seq"]
                count += 1
                yield _line({"type": "entry", **entry})
            head = {
                "bucket": bucket,
                "seq": seq,
                "hash": head_hash,
                "first_seq": first,
                "count": count,
                "since": since.isoformat() if since else None,
                "exported_at": now,
                "satellite_id": self.identity.id,
            }
            yield _line(head_line(self.identity.sign, head))


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
