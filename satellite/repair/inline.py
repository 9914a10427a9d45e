"""Migrating inline segments out of the satellite's database when their policy excludes it.

An inline segment is ciphertext the satellite holds in its own database; once its
bucket's policy no longer allows the satellite's location (:mod:`satellite.residency.location`)
those bytes are out of policy as surely as a piece on a node in the wrong country. The
checker queues such segments with reason ``inline`` at the end of each pass, and a
repairer migrates them here: the same placement and upload a repair uses, on the same
queue, so a policy change has one migration path for pieces and inline bytes alike.

The migration needs no key. An inline segment is the plaintext encrypted as one block
(``gateway.pipeline.upload.encrypt_inline``); for a segment of at most 4 KiB every layout
of the bucket's scheme also has exactly one block (its blocks are at least 64 KiB), and a
segment's single block is encrypted the same whatever the block size (nonce and associated
data depend only on the segment id, the block index 0 and "last block"). So the stored
ciphertext, zero-padded to whole stripes, *is* the primary data of a pieced segment with
the smallest share size: it is split into ``k`` primary pieces, erasure-coded into ``n``,
uploaded with ``REPAIR_PUT`` orders, and the segment row turns into a remote one — layout,
scheme, root piece id, piece rows, inline bytes gone — in one transaction that first checks
the segment is still inline (a concurrent delete or overwrite makes it a no-op). A reader
then decodes it like any other remote segment.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, update

from common.messages import Action
from common.piece_client import PieceClient, PieceTarget, PieceTransferError, UploadedPiece
from erasure import LayoutError, SegmentLayout, piece_root, rebuild_pieces
from satellite.db.engine import Database
from satellite.db.models import Bucket, ObjectRow, PieceRow, RepairJob, SegmentRow, Upload
from satellite.db.residency_ledger import LedgerEvent, inline_change, record_changes
from satellite.nodeselection import NodeCandidate, PlacementPolicy, SelectionConfig, select_nodes
from satellite.orders import OrderSigner, derive_piece_id
from satellite.residency import MetadataLocation

__all__ = ["InlineMigrationError", "InlineMigrator", "InlineSegment", "InlineStore", "encode_inline"]

log = logging.getLogger(__name__)


class InlineMigrationError(Exception):
    """Too few pieces of an inline segment landed; it stays inline and the job is retried."""


@dataclass(frozen=True, slots=True)
class InlineSegment:
    id: int
    policy_id: int
    plain_size: int
    data: bytes


class InlineStore:
    """The reads and the one swap inline migration needs."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def outside(self, policy_ids: Sequence[int], limit: int = 10_000) -> list[int]:
        """Inline segments (of objects and pending uploads) in buckets under ``policy_ids``."""
        if not policy_ids:
            return []
        seg = SegmentRow
        query = (
            select(seg.id)
            .outerjoin(ObjectRow, ObjectRow.id == seg.object_id)
            .outerjoin(Upload, Upload.id == seg.upload_id)
            .join(Bucket, Bucket.id == func.coalesce(ObjectRow.bucket_id, Upload.bucket_id))
            .where(seg.k == 0, seg.inline_data.is_not(None), Bucket.policy_id.in_(list(policy_ids)))
            .order_by(seg.id)
            .limit(limit)
        )
        async with self.db.read() as s:
            return list((await s.execute(query)).scalars())

    async def load(self, segment_id: int) -> InlineSegment | None:
        seg = SegmentRow
        query = (
            select(seg.id, Bucket.policy_id, seg.plain_size, seg.inline_data)
            .outerjoin(ObjectRow, ObjectRow.id == seg.object_id)
            .outerjoin(Upload, Upload.id == seg.upload_id)
            .join(Bucket, Bucket.id == func.coalesce(ObjectRow.bucket_id, Upload.bucket_id))
            .where(seg.id == segment_id, seg.k == 0)
        )
        async with self.db.read() as s:
            row = (await s.execute(query)).first()
        if row is None or row[3] is None:
            return None
        return InlineSegment(row[0], row[1], row[2], bytes(row[3]))

    async def swap(
        self, segment_id: int, layout: SegmentLayout, root_piece_id: str, pieces: Sequence[UploadedPiece], worker: str
    ) -> bool:
        """Turn the inline segment into a remote one, if it is still inline; finish the job."""
        scheme = layout.scheme
        async with self.db.transaction() as s:
            lock = select(SegmentRow.id).where(SegmentRow.id == segment_id, SegmentRow.k == 0)
            if self.db.dialect == "postgresql":
                lock = lock.with_for_update()
            found = (await s.execute(lock)).first() is not None
            if found:
                await s.execute(
                    update(SegmentRow)
                    .where(SegmentRow.id == segment_id)
                    .values(
                        layout=layout.to_dict(),
                        inline_data=None,
                        root_piece_id=root_piece_id,
                        k=scheme.k,
                        repair_threshold=scheme.repair,
                        success_threshold=scheme.success,
                        total=scheme.total,
                        piece_size=layout.piece_size,
                    )
                )
                await s.execute(
                    insert(PieceRow),
                    [
                        {
                            "segment_id": segment_id,
                            "number": p.piece_num,
                            "node_id": p.node_id,
                            "piece_id": p.piece_id,
                            "merkle_root": p.root,
                            "size": p.size,
                        }
                        for p in pieces
                    ],
                )
                await on_inline_migrated(s, segment_id, pieces)
            await s.execute(delete(RepairJob).where(RepairJob.segment_id == segment_id, RepairJob.claimed_by == worker))
        return found


async def on_inline_migrated(session: Any, segment_id: int, pieces: Sequence[UploadedPiece]) -> None:
    """Record the migration in the residency ledger, in the swap's transaction: the segment
    leaves the satellite's database and its pieces arrive on their nodes, one append."""
    changes = [inline_change(segment_id, "remove")]
    changes += [(segment_id, p.piece_num, p.node_id, "add", None) for p in pieces]
    await record_changes(session, LedgerEvent.MIGRATION, changes)


def encode_inline(layout: SegmentLayout, cipher: bytes) -> tuple[dict[int, bytes], dict[int, bytes]]:
    """Every piece of ``layout`` from a one-block ciphertext, and each piece's Merkle root."""
    if layout.blocks != 1 or layout.cipher_size != len(cipher):
        raise LayoutError(f"an inline segment of {len(cipher)} bytes is not one block of {layout.cipher_block_size}")
    k, s, stripes = layout.scheme.k, layout.share_size, layout.stripes
    buf = np.zeros(layout.padded_size, dtype=np.uint8)
    buf[: len(cipher)] = np.frombuffer(cipher, dtype=np.uint8)
    strided = buf.reshape(stripes, k, s)
    primary = {j: np.ascontiguousarray(strided[:, j, :]).tobytes() for j in range(k)}
    coded = rebuild_pieces(layout, primary, list(range(layout.scheme.total)))
    pieces = {j: bytes(coded[j]) for j in coded}
    return pieces, {j: piece_root(p, s) for j, p in pieces.items()}


class InlineMigrator:
    """One repairer's inline migrations (called by :class:`~satellite.repair.Repairer`)."""

    def __init__(
        self,
        store: InlineStore,
        signer: OrderSigner,
        client: PieceClient,
        selection: SelectionConfig,
        metadata: MetadataLocation,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.signer = signer
        self.client = client
        self.selection = selection
        self.metadata = metadata
        self.rng = rng or random.Random()

    async def migrate(
        self, segment_id: int, policy: PlacementPolicy | None, snapshot: list[NodeCandidate], worker: str
    ) -> tuple[str, list[UploadedPiece]]:
        """``("gone" | "not_needed" | "changed" | "migrated", pieces placed)``; raises when too
        few pieces could be placed (the segment stays inline and the job is retried)."""
        seg = await self.store.load(segment_id)
        if seg is None or policy is None:
            return "gone", []
        if self.metadata.allows_inline(policy):
            return "not_needed", []
        layout = SegmentLayout.for_segment(policy.scheme, seg.plain_size)
        pieces, roots = await asyncio.to_thread(encode_inline, layout, seg.data)
        chosen = select_nodes(  # PlacementError: a shortage, retried like any other
            snapshot, policy, policy.scheme.total, now=time.time(), config=self.selection, rng=self.rng
        )
        root = self.signer.new_root_piece_id()

        async def one(num: int, node: NodeCandidate) -> UploadedPiece:
            piece_id = derive_piece_id(root, node.id, num)
            order = self.signer.order_limit(node.id, piece_id, Action.REPAIR_PUT, layout.piece_size)
            return await self.client.upload(PieceTarget(num, node.id, node.address, order), pieces[num],
                                            layout.share_size, roots[num])  # fmt: skip

        outcomes = await asyncio.gather(*(one(i, n) for i, n in enumerate(chosen)), return_exceptions=True)
        landed = [o for o in outcomes if isinstance(o, UploadedPiece)]
        for o in outcomes:
            if not isinstance(o, UploadedPiece | PieceTransferError):
                raise o  # type: ignore[misc]
        if len(landed) < policy.scheme.success:
            failures = "; ".join(str(o) for o in outcomes if isinstance(o, PieceTransferError))[:400]
            raise InlineMigrationError(
                f"inline segment {segment_id}: {len(landed)} of {policy.scheme.success} pieces landed, "
                f"it stays inline ({failures})"
            )
        ok = await self.store.swap(segment_id, layout, root, landed, worker)
        log.info("inline segment %d migrated to %d pieces (%s)", segment_id, len(landed), "ok" if ok else "changed")
        return ("migrated" if ok else "changed"), landed

