"""Storage for audits and reputation: the pieces scan, audit targets, containment rows,
audit results and the beta-model scores (``satellite.audit`` and ``satellite.reputation``).

An audit's result, the node's new scores, its flags (vetted, suspended, disqualified,
contained) and its containment row change in one transaction, so a crash never leaves a
score that disagrees with the results it was computed from. On PostgreSQL the node's
reputation row is locked (``FOR UPDATE``) for that transaction, so concurrent audits of one
node never lose an update; SQLite serialises writers already (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update

from satellite.audit.chore import Containment, PendingTarget
from satellite.audit.selection import PieceRef
from satellite.audit.verifier import AuditTarget
from satellite.db.engine import Database
from satellite.db.models import AuditResult, Node, PendingAudit, PieceRow, Reputation, SegmentRow
from satellite.reputation import Decision, Outcome, ReputationConfig, ReputationState, apply_outcome

__all__ = ["AuditRepository"]


def _state(rep: Reputation | None, node: Node, config: ReputationConfig) -> ReputationState:
    base = ReputationState.initial(config)
    if rep is not None:
        base = ReputationState(
            rep.audit_alpha, rep.audit_beta, rep.unknown_alpha, rep.unknown_beta, online_score=rep.online_score,
            failure_count=rep.failure_count, offline_count=rep.offline_count, unknown_count=rep.unknown_count,
            timeout_count=rep.timeout_count,
        )  # fmt: skip
    return ReputationState(
        base.audit_alpha, base.audit_beta, base.unknown_alpha, base.unknown_beta, online_score=base.online_score,
        success_count=node.audit_success_count, total_count=node.audit_total_count,
        failure_count=base.failure_count, offline_count=base.offline_count, unknown_count=base.unknown_count,
        timeout_count=base.timeout_count, vetted_at=node.vetted_at, disqualified_at=node.disqualified_at,
        disqualification_reason=node.disqualification_reason, suspended_at=node.suspended_at,
        suspension_reason=node.suspension_reason,
    )  # fmt: skip


def _share_size(layout: dict[str, Any] | None, piece_size: int) -> int:
    if layout and isinstance(layout.get("share_size"), int):
        return int(layout["share_size"])
    return piece_size  # no layout: one leaf per piece


class AuditRepository:
    def __init__(self, db: Database, config: ReputationConfig) -> None:
        self.db = db
        self.config = config

    # --- choosing what to audit --------------------------------------------------------

    async def scan(self, after: tuple[int, int] | None, limit: int) -> list[PieceRef]:
        """The next ``limit`` pieces in ``(segment_id, number)`` order after ``after`` (keyset)."""
        q = select(PieceRow.segment_id, PieceRow.number, PieceRow.node_id, PieceRow.size)
        if after is not None:
            q = q.where(tuple_(PieceRow.segment_id, PieceRow.number) > tuple_(*after))
        q = q.order_by(PieceRow.segment_id, PieceRow.number).limit(limit)
        async with self.db.read() as s:
            rows = (await s.execute(q)).all()
        return [PieceRef(int(r[0]), int(r[1]), r[2], int(r[3])) for r in rows]

    async def target(self, ref: PieceRef) -> AuditTarget | None:
        """The piece as recorded now; None when it is gone or its node no longer answers to us."""
        q = (
            select(PieceRow, SegmentRow.layout, Node.address)
            .join(SegmentRow, SegmentRow.id == PieceRow.segment_id)
            .join(Node, Node.id == PieceRow.node_id)
            .where(PieceRow.segment_id == ref.segment_id, PieceRow.number == ref.number)
            .where(Node.disqualified_at.is_(None), Node.exit_finished_at.is_(None), Node.contained_at.is_(None))
        )
        async with self.db.read() as s:
            row = (await s.execute(q)).first()
        if row is None:
            return None
        p, layout, address = row
        return AuditTarget(
            node_id=p.node_id, address=address, segment_id=p.segment_id, piece_number=p.number,
            piece_id=p.piece_id, merkle_root=p.merkle_root, piece_size=p.size, share_size=_share_size(layout, p.size),
        )  # fmt: skip

    async def pending(self) -> list[PendingTarget]:
        """Every contained node's challenge, oldest attempt first."""
        q = (
            select(PendingAudit, Node.address)
            .join(Node, Node.id == PendingAudit.node_id)
            .where(Node.disqualified_at.is_(None))
            .order_by(PendingAudit.last_attempt_at)
        )
        async with self.db.read() as s:
            rows = (await s.execute(q)).all()
        return [
            PendingTarget(
                AuditTarget(
                    node_id=p.node_id, address=address, segment_id=p.segment_id, piece_number=p.piece_number,
                    piece_id=p.piece_id, merkle_root=p.merkle_root, piece_size=p.piece_size, share_size=p.share_size,
                ),
                tuple(int(i) for i in p.leaf_indexes),
                p.misses,
            )
            for p, address in rows
        ]

    async def still_stored(self, t: AuditTarget) -> bool:
        """Whether the satellite still expects this node to hold this piece (not deleted, not repaired away)."""
        q = select(PieceRow.piece_id).where(
            PieceRow.segment_id == t.segment_id, PieceRow.number == t.piece_number, PieceRow.node_id == t.node_id
        )
        async with self.db.read() as s:
            return (await s.execute(q)).scalar() == t.piece_id

    # --- recording -----------------------------------------------------------------------

    async def record(
        self,
        t: AuditTarget,
        outcome: Outcome,
        reason: str,
        *,
        containment: Containment = Containment.KEEP,
        leaf_indexes: tuple[int, ...] = (),
        at: dt.datetime | None = None,
    ) -> tuple[ReputationState, Decision]:
        """Store one outcome and everything it changes, in one transaction."""
        now = at or dt.datetime.now(dt.UTC)
        since = now - dt.timedelta(seconds=self.config.online_score_window)
        async with self.db.transaction() as s:
            rep_q = select(Reputation).where(Reputation.node_id == t.node_id)
            if self.db.dialect == "postgresql":
                rep_q = rep_q.with_for_update()
            rep = (await s.execute(rep_q)).scalar_one_or_none()
            node = await s.get(Node, t.node_id)
            if node is None:
                raise LookupError(f"no node {t.node_id}")
            window = (
                await s.execute(
                    select(func.count(), func.count().filter(AuditResult.outcome == Outcome.OFFLINE.value)).where(
                        AuditResult.node_id == t.node_id, AuditResult.audited_at >= since
                    )
                )
            ).one()
            audits = int(window[0]) + 1
            offline = int(window[1]) + (outcome is Outcome.OFFLINE)
            state, decision = apply_outcome(
                _state(rep, node, self.config), outcome, self.config, now=now, reason=reason,
                online=(audits - offline, audits),
            )  # fmt: skip
            values = {
                "audit_alpha": state.audit_alpha, "audit_beta": state.audit_beta,
                "unknown_alpha": state.unknown_alpha, "unknown_beta": state.unknown_beta,
                "online_score": state.online_score, "failure_count": state.failure_count,
                "offline_count": state.offline_count, "unknown_count": state.unknown_count,
                "timeout_count": state.timeout_count, "updated_at": now,
            }  # fmt: skip
            if rep is None:
                s.add(Reputation(node_id=t.node_id, **values))
            else:
                for k, v in values.items():
                    setattr(rep, k, v)
            node.audit_success_count = state.success_count
            node.audit_total_count = state.total_count
            node.vetted_at = state.vetted_at
            node.disqualified_at = state.disqualified_at
            node.disqualification_reason = state.disqualification_reason
            node.suspended_at = state.suspended_at
            node.suspension_reason = state.suspension_reason
            s.add(
                AuditResult(
                    node_id=t.node_id, segment_id=t.segment_id, piece_number=t.piece_number, piece_id=t.piece_id,
                    outcome=outcome.value, reason=reason[:500], audited_at=now,
                )
            )  # fmt: skip
            await self._contain(s, t, node, containment, leaf_indexes, now)
        return state, decision

    @staticmethod
    async def _contain(
        s: Any, t: AuditTarget, node: Node, how: Containment, leaf_indexes: tuple[int, ...], now: dt.datetime
    ) -> None:
        if how is Containment.CONTAIN and await s.get(PendingAudit, t.node_id) is None:
            s.add(
                PendingAudit(
                    node_id=t.node_id, segment_id=t.segment_id, piece_number=t.piece_number, piece_id=t.piece_id,
                    merkle_root=t.merkle_root, piece_size=t.piece_size, share_size=t.share_size,
                    leaf_indexes=list(leaf_indexes), misses=1, created_at=now, last_attempt_at=now,
                )
            )  # fmt: skip
            node.contained_at = now
        elif how is Containment.CONTAIN:
            pass  # already contained by another challenge: that one decides
        elif how is Containment.MISS:
            await s.execute(
                update(PendingAudit)
                .where(PendingAudit.node_id == t.node_id)
                .values(misses=PendingAudit.misses + 1, last_attempt_at=now)
            )
        elif how is Containment.RELEASE:
            await s.execute(delete(PendingAudit).where(PendingAudit.node_id == t.node_id))
            node.contained_at = None
        elif node.contained_at is not None:  # only a contained node has a pending audit to touch
            await s.execute(
                update(PendingAudit).where(PendingAudit.node_id == t.node_id).values(last_attempt_at=now)
            )

    async def release(self, node_id: str) -> None:
        """Drop a contained challenge without judging it (its piece was deleted meanwhile)."""
        async with self.db.transaction() as s:
            await s.execute(delete(PendingAudit).where(PendingAudit.node_id == node_id))
            await s.execute(update(Node).where(Node.id == node_id).values(contained_at=None))

    # --- reading back ----------------------------------------------------------------------

    async def results(self, node_id: str, limit: int = 50) -> list[AuditResult]:
        q = (
            select(AuditResult)
            .where(AuditResult.node_id == node_id)
            .order_by(AuditResult.audited_at.desc(), AuditResult.id.desc())
            .limit(limit)
        )
        async with self.db.read() as s:
            return list((await s.execute(q)).scalars().all())

    async def standings(self) -> list[tuple[Node, ReputationState]]:
        """Every node with its scores, in id order (the admin console's node table)."""
        async with self.db.read() as s:
            rows = (await s.execute(
                select(Node, Reputation).outerjoin(Reputation, Reputation.node_id == Node.id).order_by(Node.id)
            )).all()
        return [(node, _state(rep, node, self.config)) for node, rep in rows]

    async def standing(self, node_id: str) -> tuple[Node, ReputationState, PendingAudit | None] | None:
        async with self.db.read() as s:
            node = await s.get(Node, node_id)
            if node is None:
                return None
            rep = await s.get(Reputation, node_id)
            pending = await s.get(PendingAudit, node_id)
        return node, _state(rep, node, self.config), pending
