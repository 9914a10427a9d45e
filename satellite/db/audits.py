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
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from satellite.audit.chore import AuditRecord, Containment, PendingTarget
from satellite.audit.selection import PieceRef
from satellite.audit.verifier import AuditTarget
from satellite.db.engine import Database
from satellite.db.models import AuditResult, Node, PendingAudit, PieceRow, Reputation, SegmentRow
from satellite.reputation import Decision, Outcome, ReputationConfig, ReputationState, apply_outcome

__all__ = ["AuditRepository"]


def _state(rep: Any, node: Any, config: ReputationConfig) -> ReputationState:
    """The state from a reputations row (or None) and a nodes row: ORM objects or Core rows alike."""
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


_pieces = cast(Table, PieceRow.__table__)
_segments = cast(Table, SegmentRow.__table__)
_nodes = cast(Table, Node.__table__)
_reps = cast(Table, Reputation.__table__)
_results = cast(Table, AuditResult.__table__)
_pending = cast(Table, PendingAudit.__table__)

# The audit chore's hot statements as Core, built once: ORM sessions and unit-of-work flushes
# were most of the satellite's CPU per audit (bench/audit.py; docs/performance.md).
_TARGETS = (
    select(_pieces.c.segment_id, _pieces.c.number, _pieces.c.node_id, _pieces.c.piece_id, _pieces.c.merkle_root,
           _pieces.c.size, _segments.c.layout, _nodes.c.address)
    .join(_segments, _segments.c.id == _pieces.c.segment_id)
    .join(_nodes, _nodes.c.id == _pieces.c.node_id)
    .where(_nodes.c.disqualified_at.is_(None), _nodes.c.exit_finished_at.is_(None), _nodes.c.contained_at.is_(None))
    # A piece past (or about to pass) its TTL is expected gone from its node: never audited.
    .where(or_(_segments.c.piece_expires.is_(None), _segments.c.piece_expires > bindparam("b_expires_after")))
)  # fmt: skip
# An audit (or a contained node's retry) must be answered well before the piece's TTL ends.
TTL_MARGIN = dt.timedelta(minutes=10)
_NODE_COLUMNS = tuple(
    _nodes.c[name]
    for name in ("id", "audit_success_count", "audit_total_count", "vetted_at", "disqualified_at",
                 "disqualification_reason", "suspended_at", "suspension_reason", "contained_at")
)  # fmt: skip
_UPDATE_REP = update(_reps).where(_reps.c.node_id == bindparam("b_node"))
_UPDATE_NODE = update(_nodes).where(_nodes.c.id == bindparam("b_id"))


def _rep_values(node_id: str, s: ReputationState, now: dt.datetime, key: str = "node_id") -> dict[str, Any]:
    return {
        key: node_id, "audit_alpha": s.audit_alpha, "audit_beta": s.audit_beta, "unknown_alpha": s.unknown_alpha,
        "unknown_beta": s.unknown_beta, "online_score": s.online_score, "failure_count": s.failure_count,
        "offline_count": s.offline_count, "unknown_count": s.unknown_count, "timeout_count": s.timeout_count,
        "updated_at": now,
    }  # fmt: skip


def _node_values(node_id: str, s: ReputationState, contained_at: dt.datetime | None) -> dict[str, Any]:
    return {
        "b_id": node_id, "audit_success_count": s.success_count, "audit_total_count": s.total_count,
        "vetted_at": s.vetted_at, "disqualified_at": s.disqualified_at,
        "disqualification_reason": s.disqualification_reason, "suspended_at": s.suspended_at,
        "suspension_reason": s.suspension_reason, "contained_at": contained_at,
    }  # fmt: skip


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
        return (await self.targets([ref]))[0]

    async def targets(self, refs: Sequence[PieceRef]) -> list[AuditTarget | None]:
        """Each ref's piece as recorded now (None where gone or its node no longer answers), one query."""
        if not refs:
            return []
        q = _TARGETS.where(tuple_(_pieces.c.segment_id, _pieces.c.number).in_([(r.segment_id, r.number) for r in refs]))
        async with self.db.read_conn() as c:
            rows = (await c.execute(q, {"b_expires_after": dt.datetime.now(dt.UTC) + TTL_MARGIN})).all()
        found = {
            (int(r.segment_id), int(r.number)): AuditTarget(
                node_id=r.node_id, address=r.address, segment_id=int(r.segment_id), piece_number=int(r.number),
                piece_id=r.piece_id, merkle_root=bytes(r.merkle_root), piece_size=int(r.size),
                share_size=_share_size(r.layout, int(r.size)),
            )
            for r in rows
        }
        return [found.get((r.segment_id, r.number)) for r in refs]

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
        """Whether the satellite still expects this node to hold this piece (not deleted, not repaired
        away, not past its TTL)."""
        live = dt.datetime.now(dt.UTC) + TTL_MARGIN
        q = (
            select(PieceRow.piece_id)
            .join(SegmentRow, SegmentRow.id == PieceRow.segment_id)
            .where(PieceRow.segment_id == t.segment_id, PieceRow.number == t.piece_number)
            .where(PieceRow.node_id == t.node_id)
            .where(or_(SegmentRow.piece_expires.is_(None), SegmentRow.piece_expires > live))
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
        return (await self.record_many([AuditRecord(t, outcome, reason, containment, leaf_indexes)], at=at))[0]

    async def record_many(
        self, records: Sequence[AuditRecord], *, at: dt.datetime | None = None
    ) -> list[tuple[ReputationState, Decision]]:
        """Store a group's outcomes and everything they change, in one transaction.

        Core statements, a fixed number of them per group whatever its size: the nodes' rows,
        their reputations and their online windows are read in one query each, the results
        inserted in one statement and the scores written with one executemany per table.
        Outcomes for one node apply in order, each seeing the state the one before left.
        """
        if not records:
            return []
        now = at or dt.datetime.now(dt.UTC)
        since = now - dt.timedelta(seconds=self.config.online_score_window)
        ids = list(dict.fromkeys(r.target.node_id for r in records))
        async with self.db.write_conn() as c:
            rep_q = select(_reps).where(_reps.c.node_id.in_(ids))
            if self.db.dialect == "postgresql":
                rep_q = rep_q.with_for_update()
            reps = {r.node_id: r for r in (await c.execute(rep_q)).all()}
            nodes = {r.id: r for r in (await c.execute(select(*_NODE_COLUMNS).where(_nodes.c.id.in_(ids)))).all()}
            window = {
                r[0]: (int(r[1]), int(r[2]))
                for r in await c.execute(
                    select(_results.c.node_id, func.count(),
                           func.count().filter(_results.c.outcome == Outcome.OFFLINE.value))
                    .where(_results.c.node_id.in_(ids), _results.c.audited_at >= since)
                    .group_by(_results.c.node_id)
                )
            }
            states: dict[str, ReputationState] = {}
            contained: dict[str, dt.datetime | None] = {}
            for node_id in ids:
                if node_id not in nodes:
                    raise LookupError(f"no node {node_id}")
                states[node_id] = _state(reps.get(node_id), nodes[node_id], self.config)
                contained[node_id] = nodes[node_id].contained_at
            out: list[tuple[ReputationState, Decision]] = []
            for rec in records:
                node_id = rec.target.node_id
                audits, offline = window.get(node_id, (0, 0))
                audits, offline = audits + 1, offline + (rec.outcome is Outcome.OFFLINE)
                window[node_id] = (audits, offline)
                state, decision = apply_outcome(
                    states[node_id], rec.outcome, self.config, now=now, reason=rec.reason,
                    online=(audits - offline, audits),
                )  # fmt: skip
                states[node_id] = state
                out.append((state, decision))
                contained[node_id] = await self._contain(c, rec, contained[node_id], now)
            await c.execute(
                insert(_results),
                [
                    {"node_id": r.target.node_id, "segment_id": r.target.segment_id,
                     "piece_number": r.target.piece_number, "piece_id": r.target.piece_id,
                     "outcome": r.outcome.value, "reason": r.reason[:500], "audited_at": now}
                    for r in records
                ],
            )  # fmt: skip
            fresh = [n for n in ids if n not in reps]
            if fresh:
                await c.execute(insert(_reps), [_rep_values(n, states[n], now) for n in fresh])
            known = [n for n in ids if n in reps]
            if known:
                await c.execute(_UPDATE_REP, [_rep_values(n, states[n], now, key="b_node") for n in known])
            await c.execute(_UPDATE_NODE, [_node_values(n, states[n], contained[n]) for n in ids])
        return out

    @staticmethod
    async def _contain(
        c: AsyncConnection, rec: AuditRecord, contained_at: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        """Apply one outcome's containment change; the node's ``contained_at`` after it."""
        t, how = rec.target, rec.containment
        if how is Containment.CONTAIN:
            if (await c.execute(select(_pending.c.node_id).where(_pending.c.node_id == t.node_id))).first():
                return contained_at  # already contained by another challenge: that one decides
            await c.execute(
                insert(_pending).values(
                    node_id=t.node_id, segment_id=t.segment_id, piece_number=t.piece_number, piece_id=t.piece_id,
                    merkle_root=t.merkle_root, piece_size=t.piece_size, share_size=t.share_size,
                    leaf_indexes=list(rec.leaf_indexes), misses=1, created_at=now, last_attempt_at=now,
                )
            )  # fmt: skip
            return now
        if how is Containment.MISS:
            await c.execute(
                update(_pending)
                .where(_pending.c.node_id == t.node_id)
                .values(misses=_pending.c.misses + 1, last_attempt_at=now)
            )
        elif how is Containment.RELEASE:
            await c.execute(delete(_pending).where(_pending.c.node_id == t.node_id))
            return None
        elif contained_at is not None:  # only a contained node has a pending audit to touch
            await c.execute(update(_pending).where(_pending.c.node_id == t.node_id).values(last_attempt_at=now))
        return contained_at

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
