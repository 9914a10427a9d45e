"""The beta model's arithmetic with Storj's parameters, and the decisions it drives."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from satellite.reputation import Outcome, ReputationConfig, ReputationState, apply_outcome, beta_update

STORJ = ReputationConfig()  # λ=0.999, w=1, α₀=1000, β₀=0, DQ ≤ 0.96; unknown λ=0.95, ≤ 0.6
T0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def run(
    outcomes: list[Outcome], c: ReputationConfig = STORJ, state: ReputationState | None = None
) -> tuple[ReputationState, int | None]:
    """Apply in order; the state and the (1-based) audit that disqualified, if any."""
    s = state or ReputationState.initial(c)
    dq_at = None
    for i, o in enumerate(outcomes):
        s, d = apply_outcome(s, o, c, now=T0 + i * dt.timedelta(minutes=1), reason="piece missing")
        if d.disqualified and dq_at is None:
            dq_at = i + 1
    return s, dq_at


def test_beta_update_is_storjs_formula() -> None:
    assert beta_update(1000.0, 0.0, False, 0.999, 1.0) == (999.0, 1.0)
    assert beta_update(10.0, 5.0, True, 0.5, 2.0) == (7.0, 2.5)


def test_from_a_perfect_start_41_failures_in_a_row_disqualify_and_40_do_not() -> None:
    assert math.ceil(math.log(0.96) / math.log(0.999)) == 41
    s40, dq40 = run([Outcome.FAILURE] * 40)
    assert dq40 is None and s40.audit_score > 0.96 and s40.audit_score == pytest.approx(0.999**40, rel=1e-9)
    s41, dq41 = run([Outcome.FAILURE] * 41)
    assert dq41 == 41 and s41.disqualified_at == T0 + 40 * dt.timedelta(minutes=1)
    assert "0.96" in (s41.disqualification_reason or "") and "41 failed audit(s) of 41" in (
        s41.disqualification_reason or ""
    )


def test_successes_between_failures_delay_disqualification_and_ten_percent_loss_is_caught() -> None:
    # Every 10th audit fails: the score tends to 0.9 < 0.96, so disqualification comes, later.
    pattern = ([Outcome.SUCCESS] * 9 + [Outcome.FAILURE]) * 200
    s, dq = run(pattern)
    assert dq is not None and 41 < dq < 2000
    # Every 50th fails (2% loss): the score tends to 0.98 and the node stays.
    s, dq = run(([Outcome.SUCCESS] * 49 + [Outcome.FAILURE]) * 100)
    assert dq is None and s.audit_score > 0.97


def test_disqualification_is_final_for_the_model() -> None:
    s, dq = run([Outcome.FAILURE] * 41 + [Outcome.SUCCESS] * 500)
    assert dq == 41 and s.disqualified_at is not None


def test_unknown_audits_suspend_then_recover_and_never_disqualify_within_grace() -> None:
    # unknown λ=0.95 from α₀=20: score 0.95ⁿ ≤ 0.6 first at n = 10.
    s, _ = run([Outcome.UNKNOWN] * 9)
    assert s.suspended_at is None and s.unknown_score > 0.6
    s, d = apply_outcome(s, Outcome.UNKNOWN, STORJ, now=T0 + dt.timedelta(hours=1), reason="HTTP 500")
    assert d.suspended and s.suspended_at is not None and "unknown-audit score" in (s.suspension_reason or "")
    assert "HTTP 500" in (s.suspension_reason or "")
    assert s.audit_score == 1.0 and s.disqualified_at is None  # errors are not evidence of loss
    for i in range(30):
        s, d = apply_outcome(s, Outcome.SUCCESS, STORJ, now=T0 + dt.timedelta(hours=2, minutes=i))
        if d.unsuspended:
            break
    assert s.suspended_at is None and s.suspension_reason is None and s.unknown_score > 0.6


def test_suspended_past_the_grace_period_is_disqualified() -> None:
    s, _ = run([Outcome.UNKNOWN] * 10)
    assert s.suspended_at is not None
    s, d = apply_outcome(s, Outcome.UNKNOWN, STORJ, now=s.suspended_at + dt.timedelta(days=6))
    assert not d.disqualified
    s, d = apply_outcome(s, Outcome.UNKNOWN, STORJ, now=s.suspended_at + dt.timedelta(days=7))
    assert d.disqualified and "grace period" in (s.disqualification_reason or "")


def test_offline_changes_only_the_online_score_and_suspends_when_judged() -> None:
    c = ReputationConfig(online_min_audits=10)
    s = ReputationState.initial(c)
    s, d = apply_outcome(s, Outcome.OFFLINE, c, now=T0, online=(3, 9))  # too few audits to judge
    assert s.online_score == 3 / 9 and not d.suspended and s.audit_score == 1.0
    s, d = apply_outcome(s, Outcome.OFFLINE, c, now=T0, online=(3, 10))
    assert d.suspended and "online score" in (s.suspension_reason or "")
    s, d = apply_outcome(s, Outcome.SUCCESS, c, now=T0, online=(7, 10))
    assert d.unsuspended


def test_timeouts_change_no_score_and_vetting_counts_successes() -> None:
    c = ReputationConfig(vetting_audits=3)
    s, _ = run([Outcome.CONTAINED] * 5, c)
    assert (s.audit_score, s.unknown_score, s.timeout_count, s.vetted_at) == (1.0, 1.0, 5, None)
    s, _ = run([Outcome.SUCCESS, Outcome.FAILURE, Outcome.SUCCESS, Outcome.OFFLINE, Outcome.SUCCESS], c)
    assert s.vetted_at == T0 + 4 * dt.timedelta(minutes=1) and s.success_count == 3 and s.total_count == 5
