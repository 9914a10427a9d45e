"""A node's standing as people read it: scores, thresholds, flags with reasons, recent
audits, and warnings while there is still time to act.

The same report answers the admin (``GET /v1/nodes/{id}/audits``) and the node operator
(``POST /api/v1/nodes/reputation``, signed by the node). Warnings fire when a score has used
up half its margin to the threshold: with Storj's parameters an audit score below 0.98
means about 20 failures in a row, half-way to disqualification, which is when an operator
can still find a failing disk.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from satellite.reputation.model import ReputationConfig, ReputationState

__all__ = ["ReputationService", "StandingStore"]


class StandingStore(Protocol):
    """``satellite.db.audits.AuditRepository``."""

    async def standing(self, node_id: str) -> tuple[Any, ReputationState, Any] | None: ...
    async def results(self, node_id: str, limit: int = 50) -> list[Any]: ...


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def warnings(state: ReputationState, c: ReputationConfig) -> list[str]:
    out: list[str] = []
    if state.disqualified_at is not None:
        return out
    half_audit = c.audit_dq_threshold + (1.0 - c.audit_dq_threshold) / 2
    if state.audit_score < half_audit:
        out.append(
            f"audit score {state.audit_score:.4f} is falling toward disqualification at {c.audit_dq_threshold}: "
            f"{state.failure_count} failed audit(s) — check the disk and the recent audits below"
        )
    half_unknown = c.unknown_suspend_threshold + (1.0 - c.unknown_suspend_threshold) / 2
    if state.suspended_at is None and state.unknown_score < half_unknown:
        out.append(
            f"unknown-audit score {state.unknown_score:.3f} is falling toward suspension at "
            f"{c.unknown_suspend_threshold}: the node answers audits with errors"
        )
    if state.suspended_at is not None:
        out.append(f"suspended (no new pieces) since {_iso(state.suspended_at)}: {state.suspension_reason}")
    half_online = c.online_suspend_threshold + (1.0 - c.online_suspend_threshold) / 2
    if state.suspended_at is None and state.online_score < half_online:
        out.append(f"online score {state.online_score:.3f}: the node was unreachable for some audits")
    return out


class ReputationService:
    def __init__(self, store: StandingStore, config: ReputationConfig, losses: Any = None) -> None:
        self.store = store
        self.config = config
        # satellite.losses.LossService: self-reported losses, a separate and milder signal
        self.losses = losses

    async def report(self, node_id: str, *, recent: int = 20) -> dict[str, Any] | None:
        """None when the satellite has never heard of ``node_id``."""
        found = await self.store.standing(node_id)
        if found is None:
            return None
        node, state, pending = found
        c = self.config
        results = await self.store.results(node_id, recent)
        losses = await self.losses.report(node_id) if self.losses is not None else None
        extra = [losses["warning"]] if losses and losses["warning"] else []
        return {
            "node_id": node_id,
            "scores": {
                "audit": round(state.audit_score, 6),
                "unknown": round(state.unknown_score, 6),
                "online": round(state.online_score, 6),
            },
            "thresholds": {
                "audit_disqualify": c.audit_dq_threshold,
                "unknown_suspend": c.unknown_suspend_threshold,
                "online_suspend": c.online_suspend_threshold,
            },
            "counts": {
                "audits": state.total_count,
                "success": state.success_count,
                "failure": state.failure_count,
                "offline": state.offline_count,
                "unknown": state.unknown_count,
                "timeout": state.timeout_count,
            },
            "last_contact_at": _iso(node.last_contact_at),
            "vetted": state.vetted_at is not None,
            "vetted_at": _iso(state.vetted_at),
            "audits_to_vetting": max(0, c.vetting_audits - state.success_count) if state.vetted_at is None else 0,
            "contained": pending is not None,
            "contained_misses": pending.misses if pending is not None else 0,
            "suspended": state.suspended_at is not None,
            "suspended_at": _iso(state.suspended_at),
            "suspension_reason": state.suspension_reason,
            "disqualified": state.disqualified_at is not None,
            "disqualified_at": _iso(state.disqualified_at),
            "disqualification_reason": state.disqualification_reason,
            "warnings": warnings(state, c) + extra,
            "self_reported_losses": losses,
            "recent_audits": [
                {
                    "at": _iso(r.audited_at),
                    "outcome": r.outcome,
                    "piece_id": r.piece_id,
                    "segment_id": r.segment_id,
                    "piece_number": r.piece_number,
                    "reason": r.reason,
                }
                for r in results
            ],
        }
