"""Residency audits: challenge every piece of a bucket and keep the nodes' signed answers.

The ledger is the satellite's word; this is the storage side's. For each piece of the
bucket's objects and pending uploads, the ordinary Merkle audit (``satellite.audit``) is sent
to the node that should hold it, and the satellite-signed challenge and node-signed proof are
written as one ``audit`` line with the node's address and declared country; a signed
``audit_head`` closes the file (:mod:`satellite.residency.audit_evidence`). Challenges run a
few at a time; a residency audit changes no reputation (the audit chore's samples do that),
so an admin may run it whenever an auditor asks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, select

from satellite.audit.verifier import AuditTarget, AuditVerifier, pick_leaves
from satellite.db.engine import Database
from satellite.db.models import Bucket, Node, ObjectRow, PieceRow, SegmentRow, Upload

from .audit_evidence import AuditDigest, audit_head
from .evidence import header_line

__all__ = ["ResidencyAuditor"]


class ResidencyAuditor:
    def __init__(self, db: Database, verifier: AuditVerifier, *, leaves: int = 3, concurrency: int = 8) -> None:
        self.db = db
        self.verifier = verifier
        self.leaves = leaves
        self.concurrency = concurrency

    async def _pieces(self, bucket: str) -> list[dict[str, Any]]:
        seg = SegmentRow
        query = (
            select(PieceRow, seg.layout, func.coalesce(ObjectRow.key, Upload.key), Node.address, Node.country,
                   Node.country_override, Node.region, Node.region_override)
            .join(seg, seg.id == PieceRow.segment_id)
            .outerjoin(ObjectRow, ObjectRow.id == seg.object_id)
            .outerjoin(Upload, Upload.id == seg.upload_id)
            .join(Bucket, Bucket.id == func.coalesce(ObjectRow.bucket_id, Upload.bucket_id))
            .join(Node, Node.id == PieceRow.node_id)
            .where(Bucket.name == bucket)
            .order_by(PieceRow.segment_id, PieceRow.number)
        )  # fmt: skip
        async with self.db.read() as s:
            rows = (await s.execute(query)).all()
        out = []
        for p, layout, key, address, country, c_over, region, r_over in rows:
            share = int(layout["share_size"]) if layout and isinstance(layout.get("share_size"), int) else p.size
            out.append({
                "bucket": bucket, "key": key or "", "segment": int(p.segment_id), "piece": int(p.number),
                "node": p.node_id, "address": address, "country": (c_over or country).upper(),
                "region": r_over if r_over is not None else region, "piece_id": p.piece_id,
                "root": p.merkle_root.hex(), "piece_size": int(p.size), "share_size": share,
            })  # fmt: skip
        return out

    async def run(self, bucket: str) -> AsyncIterator[str]:
        """The evidence file's lines for ``bucket`` (JSON, no newline), in piece order."""
        identity = self.verifier.identity
        now = dt.datetime.now(dt.UTC).isoformat()
        yield _line(header_line(identity.id, now, kind="residency-audit", bucket=bucket))
        pieces = await self._pieces(bucket)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(info: dict[str, Any]) -> dict[str, Any]:
            target = AuditTarget(info["node"], info["address"], info["segment"], info["piece"], info["piece_id"],
                                 bytes.fromhex(info["root"]), info["piece_size"], info["share_size"])  # fmt: skip
            async with gate:
                report, challenge, answer = await self.verifier.exchange(
                    target, pick_leaves(target.leaf_count, self.leaves)
                )
            proof = None
            if answer is not None:
                try:
                    proof = json.loads(answer)
                except ValueError:
                    proof = None
            return {"type": "audit", **info, "challenge": challenge.to_json(), "proof": proof,
                    "outcome": str(report.outcome), "reason": report.reason,
                    "at": dt.datetime.now(dt.UTC).isoformat()}  # fmt: skip

        digest = AuditDigest()
        for start in range(0, len(pieces), 256):  # bounded: a batch of answers in memory at a time
            for line in await asyncio.gather(*(one(i) for i in pieces[start : start + 256])):
                digest.add(line)  # sets prev and hash
                yield _line(line)
        head = {"bucket": bucket, "count": digest.count, "digest": digest.last, "exported_at": now,
                "satellite_id": identity.id}  # fmt: skip
        yield _line(audit_head(identity.sign, head))


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
