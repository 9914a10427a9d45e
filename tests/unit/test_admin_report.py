"""The compliance report's arithmetic, without a database: health, violations, truncation."""

from __future__ import annotations

from erasure.scheme import RedundancyScheme
from satellite.admin.report import MAX_LISTED, ComplianceReport, SegmentPieces
from satellite.nodeselection import NodeCandidate, PlacementPolicy

NOW = 1_700_000_000.0
POLICY = PlacementPolicy("de", RedundancyScheme(2, 3, 4, 4), allowed_countries=frozenset({"DE"}))


def node(i: str, country: str = "DE", *, ago: float = 0, dq: bool = False) -> NodeCandidate:
    return NodeCandidate(i, "a", country, "r", f"n{i}", 1, True, NOW - ago, disqualified=dq)


def seg(nodes: list[str], key: str = "k") -> SegmentPieces:
    return SegmentPieces(key, 1, 0, 0, k=2, repair_threshold=3, node_ids=nodes)


def test_unknown_nodes_are_reported_and_never_healthy() -> None:
    r = ComplianceReport("b", POLICY, {"a": node("a"), "b": node("b")}, now=NOW, online_window=60)
    r.add(seg(["a", "b", "gone", "gone2"]))
    out = r.to_dict()
    assert out["pieces_by_country"] == {"??": 2, "DE": 2}
    assert out["out_of_policy"]["pieces"] == 2 and not out["compliant"]
    assert out["below_repair_threshold"]["listed"][0]["healthy"] == 2


def test_each_unhealthy_kind_counts() -> None:
    nodes = {"ok": node("ok"), "off": node("off", ago=61), "dq": node("dq", dq=True), "fr": node("fr", "FR")}
    r = ComplianceReport("b", POLICY, nodes, now=NOW, online_window=60)
    r.add(seg(["ok", "off", "dq", "fr"]))
    weak = r.to_dict()["below_repair_threshold"]
    assert (weak["segments"], weak["lost"], weak["listed"][0]["healthy"]) == (1, 1, 1)


def test_listing_is_capped_but_counting_is_not() -> None:
    r = ComplianceReport("b", POLICY, {}, now=NOW, online_window=60)
    for i in range(MAX_LISTED + 5):
        r.add(seg([], key=f"o{i}"))
    r.add(SegmentPieces("inline", 1, 0, 0, k=0, repair_threshold=0, node_ids=[]))
    out = r.to_dict()
    weak = out["below_repair_threshold"]
    assert weak["segments"] == MAX_LISTED + 5 and len(weak["listed"]) == MAX_LISTED and weak["truncated"]
    assert out["segments"] == {"remote": MAX_LISTED + 5, "inline": 1}
