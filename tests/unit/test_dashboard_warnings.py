"""The node dashboard warns before a threshold: a quarter of a score's margin used is a
warning, half is critical, past it the satellite's suspension or disqualification speaks;
every audit that did not pass is named with its reason."""

from __future__ import annotations

from typing import Any

from storage_node.dashboard.service import score_warnings, scrub_warnings

THRESHOLDS = {"audit_disqualify": 0.96, "unknown_suspend": 0.6, "online_suspend": 0.6}


def report(audit: float = 1.0, unknown: float = 1.0, online: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {"scores": {"audit": audit, "unknown": unknown, "online": online}, "thresholds": THRESHOLDS,
            "recent_audits": [], "warnings": [], **extra}


def kinds(r: dict[str, Any]) -> dict[str, str]:
    return {w["kind"]: w["severity"] for w in score_warnings(r)}


def test_a_healthy_node_has_no_warning() -> None:
    assert score_warnings(report(audit=0.995, unknown=0.95, online=0.95)) == []


def test_a_quarter_of_the_margin_warns_and_half_is_critical() -> None:
    # audit margin 0.04: 0.989 has used over 25%, 0.979 over 50%.
    assert kinds(report(audit=0.989)) == {"audit_score": "warning"}
    assert kinds(report(audit=0.979)) == {"audit_score": "critical"}
    # unknown / online margin 0.4: 0.89 has used over 25%, 0.79 over half.
    assert kinds(report(unknown=0.89, online=0.79)) == {"unknown_score": "warning", "online_score": "critical"}
    (w,) = score_warnings(report(audit=0.975))
    assert "62% of its margin to disqualification at 0.96" in w["message"]


def test_past_the_threshold_the_satellites_verdict_speaks_with_its_reason() -> None:
    r = report(audit=0.94, disqualified=True, disqualified_at="2026-12-01T10:00:00Z",
               disqualification_reason="audit score 0.94 fell to the disqualification threshold")
    assert kinds(r) == {"disqualified": "critical"}
    assert "fell to the disqualification threshold" in score_warnings(r)[0]["message"]
    r = report(unknown=0.5, suspended=True, suspended_at="2026-12-01T10:00:00Z", suspension_reason="unknown errors")
    assert kinds(r) == {"suspended": "critical"}


def test_each_audit_that_did_not_pass_is_named_with_its_reason() -> None:
    audits = [{"at": "2026-12-01T10:00:02Z", "outcome": "failure", "piece_id": "ab" * 32,
               "reason": "leaf 1 does not verify against the piece's Merkle root (wrong data)"},
              {"at": "2026-12-01T10:00:01Z", "outcome": "success", "piece_id": "cd" * 32, "reason": ""},
              {"at": "2026-12-01T10:00:00Z", "outcome": "offline", "piece_id": "ef" * 32, "reason": "refused"}]
    (w,) = [w for w in score_warnings(report(recent_audits=audits)) if w["kind"] == "failed_audits"]
    assert w["severity"] == "critical" and w["message"].startswith("2 recent audit(s) did not pass")
    assert "wrong data" in w["message"]
    only_offline = [a for a in audits if a["outcome"] != "failure"]
    (w,) = score_warnings(report(recent_audits=only_offline))
    assert w["severity"] == "warning"  # unreachable is not lost data


def test_the_satellites_own_warnings_are_kept_once() -> None:
    r = report(audit=0.975, warnings=["this machine's clock is +90s off the satellite's: set it right (NTP)"])
    assert [w["kind"] for w in score_warnings(r)] == ["audit_score", "satellite"]


def test_pieces_the_scrub_lost_are_critical_and_undelivered_reports_warn() -> None:
    clean = {"available": True, "pieces_damaged": 0, "current": {"pieces_damaged": 0}, "losses_unreported": 0}
    assert scrub_warnings(clean) == []
    assert scrub_warnings({"available": False, "message": "Scrubbing is off"}) == []
    found = {**clean, "current": {"pieces_damaged": 2}, "losses_unreported": 2}
    by_kind = {w["kind"]: w for w in scrub_warnings(found)}
    lost = by_kind["scrub_losses"]
    assert lost["severity"] == "critical" and "2 corrupt or missing" in lost["message"]
    assert by_kind["scrub_unreported"]["severity"] == "warning"
    # The last finished pass's losses count too, before the next pass begins.
    assert [w["kind"] for w in scrub_warnings({**clean, "pieces_damaged": 1, "current": None})] == ["scrub_losses"]
