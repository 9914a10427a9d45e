"""Graceful exit's storage (implements ``satellite.gracefulexit.ExitStore``): the exit row,
the exiting node's pieces with their segment and policy, and the compare-and-swap that
moves one piece to its new node."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.orm import aliased

from satellite.db.engine import Database
from satellite.db.models import Bucket, GracefulExit, Node, ObjectRow, PieceRow, PlacementPolicyRow, SegmentRow, Upload
from satellite.db.residency_ledger import LedgerEvent, record_pieces
from satellite.db.tenancy import policy_from_row
from satellite.gracefulexit.service import EXITED, EXITING, ExitNode, ExitPiece, ExitState
from satellite.nodeselection import PlacementPolicy

__all__ = ["GracefulExitRepository"]


def _exit_node(n: Node) -> ExitNode:
    return ExitNode(n.id, n.address, n.last_contact_at, n.disqualified_at is not None, n.exit_initiated_at)


class GracefulExitRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def node(self, node_id: str) -> ExitNode | None:
        async with self.db.read() as s:
            n = await s.get(Node, node_id)
        return None if n is None else _exit_node(n)

    async def begin(self, node_id: str, at: dt.datetime) -> None:
        async with self.db.transaction() as s:
            if await s.get(GracefulExit, node_id) is not None:
                return
            count = (await s.execute(select(func.count()).where(PieceRow.node_id == node_id))).scalar_one()
            s.add(
                GracefulExit(
                    node_id=node_id, status=EXITING, initiated_at=at, reason="", pieces_at_start=count,
                    pieces_transferred=0, bytes_transferred=0, pieces_failed=0,
                )
            )  # fmt: skip
            await s.execute(update(Node).where(Node.id == node_id).values(exit_initiated_at=at))

    async def state(self, node_id: str) -> ExitState:
        async with self.db.read() as s:
            row = await s.get(GracefulExit, node_id)
            if row is None:
                return ExitState(node_id, "none")
            remaining = (await s.execute(select(func.count()).where(PieceRow.node_id == node_id))).scalar_one()
        return ExitState(
            node_id=node_id,
            status=row.status,
            initiated_at=row.initiated_at,
            finished_at=row.finished_at,
            reason=row.reason,
            pieces_at_start=row.pieces_at_start,
            pieces_remaining=int(remaining),
            pieces_transferred=row.pieces_transferred,
            bytes_transferred=row.bytes_transferred,
            pieces_failed=row.pieces_failed,
        )

    async def exiting(self) -> list[ExitNode]:
        q = select(Node).join(GracefulExit, GracefulExit.node_id == Node.id).where(GracefulExit.status == EXITING)
        async with self.db.read() as s:
            return [_exit_node(n) for n in (await s.execute(q.order_by(Node.id))).scalars()]

    async def pieces(self, node_id: str, after: tuple[int, int] | None, limit: int) -> list[ExitPiece]:
        # A segment belongs to an object or to a pending upload; either names the bucket.
        bucket_id = func.coalesce(ObjectRow.bucket_id, Upload.bucket_id)
        q = (
            select(PieceRow, SegmentRow.root_piece_id, SegmentRow.layout, PlacementPolicyRow)
            .join(SegmentRow, SegmentRow.id == PieceRow.segment_id)
            .outerjoin(ObjectRow, ObjectRow.id == SegmentRow.object_id)
            .outerjoin(Upload, Upload.id == SegmentRow.upload_id)
            .join(Bucket, Bucket.id == bucket_id)
            .join(PlacementPolicyRow, PlacementPolicyRow.id == Bucket.policy_id)
            .where(PieceRow.node_id == node_id)
        )
        if after is not None:
            q = q.where(tuple_(PieceRow.segment_id, PieceRow.number) > tuple_(*after))
        q = q.order_by(PieceRow.segment_id, PieceRow.number).limit(limit)
        async with self.db.read() as s:
            rows = (await s.execute(q)).all()
            if not rows:
                return []
            other = aliased(PieceRow)
            holders: dict[int, list[str]] = {}
            seg_ids = sorted({p.segment_id for p, *_ in rows})
            held = select(other.segment_id, other.node_id).where(other.segment_id.in_(seg_ids))
            for sid, nid in await s.execute(held):
                holders.setdefault(sid, []).append(nid)
        policies: dict[int, PlacementPolicy] = {}
        out = []
        for p, root, layout, prow in rows:
            policy = policies.setdefault(prow.id, policy_from_row(prow))
            out.append(
                ExitPiece(
                    segment_id=p.segment_id, number=p.number, piece_id=p.piece_id, merkle_root=p.merkle_root,
                    size=p.size, root_piece_id=root or "", layout=layout or {}, policy=policy,
                    holders=tuple(h for h in holders.get(p.segment_id, ()) if h != node_id),
                )
            )  # fmt: skip
        return out

    def _row(self, node_id: str, piece: ExitPiece):  # type: ignore[no-untyped-def]
        return (
            (PieceRow.segment_id == piece.segment_id)
            & (PieceRow.number == piece.number)
            & (PieceRow.node_id == node_id)
            & (PieceRow.piece_id == piece.piece_id)
        )

    async def swap_piece(self, node_id: str, piece: ExitPiece, new_node_id: str, new_piece_id: str) -> bool:
        async with self.db.transaction() as s:
            res = await s.execute(
                update(PieceRow).where(self._row(node_id, piece)).values(node_id=new_node_id, piece_id=new_piece_id)
            )
            if res.rowcount:  # the residency ledger, in the same transaction: off one node, onto another
                gone = [(piece.number, node_id, piece.piece_id)]
                await record_pieces(s, LedgerEvent.GRACEFUL_EXIT, piece.segment_id, gone, action="remove")
                await record_pieces(s, LedgerEvent.GRACEFUL_EXIT, piece.segment_id, [(piece.number, new_node_id)])
            return bool(res.rowcount)

    async def drop_piece(self, node_id: str, piece: ExitPiece) -> bool:
        async with self.db.transaction() as s:
            dropped = bool((await s.execute(delete(PieceRow).where(self._row(node_id, piece)))).rowcount)
            if dropped:
                gone = [(piece.number, node_id, piece.piece_id)]
                await record_pieces(s, LedgerEvent.GRACEFUL_EXIT, piece.segment_id, gone, action="remove")
            return dropped

    async def add_progress(self, node_id: str, transferred: int, nbytes: int, failed: int, at: dt.datetime) -> None:
        g = GracefulExit
        async with self.db.transaction() as s:
            await s.execute(
                update(g)
                .where(g.node_id == node_id)
                .values(
                    pieces_transferred=g.pieces_transferred + transferred,
                    bytes_transferred=g.bytes_transferred + nbytes,
                    pieces_failed=g.pieces_failed + failed,
                    last_progress_at=at,
                )
            )

    async def finish(self, node_id: str, status: str, reason: str, at: dt.datetime) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(GracefulExit)
                .where(GracefulExit.node_id == node_id, GracefulExit.status == EXITING)
                .values(status=status, reason=reason[:255], finished_at=at)
            )
            await s.execute(update(Node).where(Node.id == node_id).values(exit_finished_at=at))

    async def exited(self) -> list[str]:
        """Nodes whose exit completed (the payouts issue releases their held amounts)."""
        async with self.db.read() as s:
            return list((await s.execute(select(GracefulExit.node_id).where(GracefulExit.status == EXITED))).scalars())
