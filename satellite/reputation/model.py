"""The beta reputation model, pure arithmetic with no I/O (Storj's ``reputation`` package).

Each score is the mean of a beta distribution whose parameters decay: after an audit with
result ``v`` (1 = good, 0 = bad)

    alpha ← λ·alpha + w·v        beta ← λ·beta + w·(1 − v)        score = alpha / (alpha + beta)

With λ < 1 old results fade, so a node is judged on roughly its last ``1/(1−λ)`` audits.
Starting from Storj's α₀ = 1000 = 1/(1−λ), β₀ = 0 (a perfect score at its steady state)
``n`` failures in a row leave the score at exactly ``λⁿ``: with λ = 0.999 that crosses the
disqualification threshold 0.96 after ⌈ln 0.96 / ln 0.999⌉ = 41 failures. A node that
loses a fraction ``f`` of its data converges to ``1 − f``, so any loss above 4% is
eventually disqualified, and a large loss fast.

Three scores, because three kinds of evidence differ:

* **audit score** — a proof was checked and was wrong, or the piece is missing. Only this
  score disqualifies: it is the only one that proves lost data.
* **unknown-audit score** (its own λ, thresholds) — the node answered with something that
  proves nothing (an HTTP 500, a refusal). It *suspends* (no new pieces; downloads go on)
  and recovers with successful audits; a node suspended longer than the grace period is
  disqualified, or a cheater could answer every audit with an error forever.
* **online score** — the share of audits in a window that found the node reachable
  (check-ins decide whether it is online *now*; audits are the sampled history). Too low
  suspends, until it recovers.

Timeouts change no score here: the audit module contains the node and retries the same
challenge; only after repeated misses does it report a failure.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Decision", "Outcome", "ReputationConfig", "ReputationState", "apply_outcome", "beta_update"]


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"  # missing piece, wrong data, bad proof, wrong signer
    OFFLINE = "offline"  # not reachable: the online score
    CONTAINED = "contained"  # timed out: the challenge is pending and will be retried
    UNKNOWN = "unknown"  # an answer that proves nothing: the unknown-audit score


@dataclass(frozen=True)
class ReputationConfig:
    audit_lambda: float = 0.999
    audit_weight: float = 1.0
    audit_initial_alpha: float = 1000.0
    audit_initial_beta: float = 0.0
    audit_dq_threshold: float = 0.96
    unknown_lambda: float = 0.95
    unknown_weight: float = 1.0
    unknown_initial_alpha: float = 20.0
    unknown_initial_beta: float = 0.0
    unknown_suspend_threshold: float = 0.6
    suspension_grace: int = 7 * 86400
    online_score_window: int = 30 * 86400
    online_min_audits: int = 10
    online_suspend_threshold: float = 0.6
    vetting_audits: int = 100

    def __post_init__(self) -> None:
        for name in ("audit_lambda", "unknown_lambda"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.audit_initial_alpha + self.audit_initial_beta <= 0:
            raise ValueError("audit_initial_alpha + audit_initial_beta must be positive")
        if self.unknown_initial_alpha + self.unknown_initial_beta <= 0:
            raise ValueError("unknown_initial_alpha + unknown_initial_beta must be positive")

    @classmethod
    def from_satellite(cls, config: Any) -> ReputationConfig:
        """The fields of the same names in a ``SatelliteConfig``."""
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})


def beta_update(alpha: float, beta: float, good: bool, lam: float, weight: float) -> tuple[float, float]:
    v = 1.0 if good else 0.0
    return lam * alpha + weight * v, lam * beta + weight * (1.0 - v)


def _score(alpha: float, beta: float) -> float:
    total = alpha + beta
    return alpha / total if total > 0 else 1.0


@dataclass(frozen=True)
class ReputationState:
    """What the satellite knows of one node's standing (a ``reputations`` row plus node flags)."""

    audit_alpha: float
    audit_beta: float
    unknown_alpha: float
    unknown_beta: float
    online_score: float = 1.0
    success_count: int = 0
    total_count: int = 0
    failure_count: int = 0
    offline_count: int = 0
    unknown_count: int = 0
    timeout_count: int = 0
    vetted_at: dt.datetime | None = None
    disqualified_at: dt.datetime | None = None
    disqualification_reason: str | None = None
    suspended_at: dt.datetime | None = None
    suspension_reason: str | None = None

    @classmethod
    def initial(cls, c: ReputationConfig) -> ReputationState:
        return cls(c.audit_initial_alpha, c.audit_initial_beta, c.unknown_initial_alpha, c.unknown_initial_beta)

    @property
    def audit_score(self) -> float:
        return _score(self.audit_alpha, self.audit_beta)

    @property
    def unknown_score(self) -> float:
        return _score(self.unknown_alpha, self.unknown_beta)


@dataclass(frozen=True)
class Decision:
    """What changed for the node: each flag is set only on the audit that caused it."""

    vetted: bool = False
    disqualified: bool = False
    suspended: bool = False
    unsuspended: bool = False


def apply_outcome(
    state: ReputationState,
    outcome: Outcome,
    config: ReputationConfig,
    *,
    now: dt.datetime,
    reason: str = "",
    online: tuple[int, int] | None = None,
) -> tuple[ReputationState, Decision]:
    """The node's standing after one audit outcome.

    ``online`` is ``(reachable, audits)`` over the online window *including* this outcome;
    ``None`` leaves the online score as it was. ``reason`` is the audit's own explanation,
    quoted in any suspension or disqualification it causes.
    """
    c = config
    s = dataclasses.replace(state, total_count=state.total_count + 1)
    if outcome is Outcome.SUCCESS:
        a, b = beta_update(s.audit_alpha, s.audit_beta, True, c.audit_lambda, c.audit_weight)
        ua, ub = beta_update(s.unknown_alpha, s.unknown_beta, True, c.unknown_lambda, c.unknown_weight)
        s = dataclasses.replace(s, audit_alpha=a, audit_beta=b, unknown_alpha=ua, unknown_beta=ub,
                                success_count=s.success_count + 1)  # fmt: skip
    elif outcome is Outcome.FAILURE:
        a, b = beta_update(s.audit_alpha, s.audit_beta, False, c.audit_lambda, c.audit_weight)
        s = dataclasses.replace(s, audit_alpha=a, audit_beta=b, failure_count=s.failure_count + 1)
    elif outcome is Outcome.UNKNOWN:
        ua, ub = beta_update(s.unknown_alpha, s.unknown_beta, False, c.unknown_lambda, c.unknown_weight)
        s = dataclasses.replace(s, unknown_alpha=ua, unknown_beta=ub, unknown_count=s.unknown_count + 1)
    elif outcome is Outcome.OFFLINE:
        s = dataclasses.replace(s, offline_count=s.offline_count + 1)
    elif outcome is Outcome.CONTAINED:
        s = dataclasses.replace(s, timeout_count=s.timeout_count + 1)
    online_judged = False
    if online is not None:
        reachable, audits = online
        s = dataclasses.replace(s, online_score=reachable / audits if audits else 1.0)
        online_judged = audits >= c.online_min_audits

    vetted = suspended = unsuspended = False
    if s.disqualified_at is not None:
        return s, Decision()  # final; the admin's reinstate is the way back
    if s.vetted_at is None and s.success_count >= c.vetting_audits:
        s = dataclasses.replace(s, vetted_at=now)
        vetted = True
    if s.audit_score <= c.audit_dq_threshold:
        why = (
            f"audit score {s.audit_score:.4f} fell to the disqualification threshold {c.audit_dq_threshold} "
            f"after {s.failure_count} failed audit(s) of {s.total_count}"
        )
        if outcome is Outcome.FAILURE and reason:
            why += f"; last failure: {reason}"
        return dataclasses.replace(s, disqualified_at=now, disqualification_reason=why[:255]), Decision(
            vetted=vetted, disqualified=True
        )
    unknown_low = s.unknown_score <= c.unknown_suspend_threshold
    offline_low = online_judged and s.online_score < c.online_suspend_threshold
    if unknown_low or offline_low:
        if s.suspended_at is None:
            if unknown_low:
                why = (
                    f"unknown-audit score {s.unknown_score:.3f} fell to {c.unknown_suspend_threshold}: "
                    f"{s.unknown_count} audit(s) answered with errors"
                )
                if outcome is Outcome.UNKNOWN and reason:
                    why += f"; last: {reason}"
            else:
                why = (
                    f"online score {s.online_score:.3f} is below {c.online_suspend_threshold}: the node was "
                    f"unreachable for {online[1] - online[0] if online else 0} of its recent audits"
                )
            s = dataclasses.replace(s, suspended_at=now, suspension_reason=why[:255])
            suspended = True
        elif unknown_low and (now - s.suspended_at).total_seconds() >= c.suspension_grace:
            why = (
                f"suspended since {s.suspended_at.isoformat(timespec='seconds')} and the unknown-audit score "
                f"({s.unknown_score:.3f}) did not recover within the {c.suspension_grace}s grace period"
            )
            return dataclasses.replace(s, disqualified_at=now, disqualification_reason=why[:255]), Decision(
                vetted=vetted, disqualified=True
            )
    elif s.suspended_at is not None:
        s = dataclasses.replace(s, suspended_at=None, suspension_reason=None)
        unsuspended = True
    return s, Decision(vetted=vetted, suspended=suspended, unsuspended=unsuspended)
