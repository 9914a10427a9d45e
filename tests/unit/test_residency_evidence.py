"""Residency evidence, without a database: the compliance report's verdicts over inline bytes
and lost data, and the verifier an auditor runs on an exported ledger (issue 14 §2, §3)."""

from __future__ import annotations

import json

from common.identity import Identity
from erasure.scheme import RedundancyScheme
from satellite.admin.report import ComplianceReport, SegmentPieces
from satellite.nodeselection import NodeCandidate, PlacementPolicy
from satellite.residency import MetadataLocation
from satellite.residency.chain import GENESIS, entry_hash
from satellite.residency.evidence import head_line, header_line, verify_evidence

NOW = 1_700_000_000.0
EU = PlacementPolicy("eu", RedundancyScheme(2, 3, 4, 4), allowed_regions=frozenset({"eu"}))
CH = PlacementPolicy("ch", RedundancyScheme(2, 3, 4, 4), allowed_countries=frozenset({"CH"}))
DE = MetadataLocation("DE", "eu")


def node(i: str, country: str = "DE", region: str = "eu", *, dq: bool = False) -> NodeCandidate:
    return NodeCandidate(i, "a", country, region, f"n{i}", 1, True, NOW, disqualified=dq)


def inline(key: str, size: int) -> SegmentPieces:
    return SegmentPieces(key, 1, 0, 0, k=0, repair_threshold=0, node_ids=[], segment_id=99, inline_bytes=size)


def test_inline_bytes_count_under_the_satellites_country_and_keep_a_bucket_compliant_where_allowed() -> None:
    r = ComplianceReport("b", EU, {}, now=NOW, online_window=60, metadata=DE)
    r.add(inline("a", 21))
    r.add(inline("b", 100))
    out = r.to_dict()
    assert out["inline_bytes_by_country"] == {"DE": 121} and out["inline_bytes"] == 121
    assert out["status"] == "compliant" and out["out_of_policy"]["inline_segments"] == 0


def test_inline_bytes_in_a_database_the_policy_excludes_are_out_of_policy() -> None:
    r = ComplianceReport("b", CH, {}, now=NOW, online_window=60, metadata=DE)
    r.add(inline("a", 21))
    out = r.to_dict()
    assert out["status"] == "out_of_policy" and not out["compliant"]
    assert (out["out_of_policy"]["inline_segments"], out["out_of_policy"]["inline_bytes"]) == (1, 21)


def test_a_segment_below_k_is_data_lost_with_its_key_whatever_else_is_true() -> None:
    nodes = {i: node(i) for i in ("a", "a2", "a3", "a4")} | {i: node(i, dq=True) for i in "xyz"}
    r = ComplianceReport("b", EU, nodes, now=NOW, online_window=60, metadata=DE, queued=frozenset({7}))
    r.add(SegmentPieces("photos/cat.jpg", 3, 0, 0, k=2, repair_threshold=3, node_ids=["a", "x", "y", "z"],
                        segment_id=7))  # fmt: skip
    r.add(SegmentPieces("fine", 1, 0, 0, k=2, repair_threshold=3, node_ids=["a", "a2", "a3", "a4"], segment_id=8))
    out = r.to_dict()
    assert out["status"] == "data_lost" and not out["compliant"]
    assert out["data_lost"]["keys"] == [{"object": "photos/cat.jpg", "version": 3, "segments": 1}]
    assert out["below_repair_threshold"]["repair_queued"] == 1


def test_degraded_names_segments_below_the_repair_threshold_and_whether_repair_is_queued() -> None:
    nodes = {i: node(i) for i in "abc"} | {"d": node("d", dq=True)}
    r = ComplianceReport("b", EU, nodes, now=NOW, online_window=60, metadata=DE, queued=frozenset({1}))
    r.add(SegmentPieces("k", 1, 0, 0, k=2, repair_threshold=4, node_ids=["a", "b", "c", "d"], segment_id=1))
    out = r.to_dict()
    assert out["status"] == "degraded" and out["degraded"]["segments"] == 1 and out["data_lost"]["segments"] == 0
    assert out["below_repair_threshold"]["listed"][0]["repair_queued"] is True


# --- the verifier --------------------------------------------------------------------------


def _entry(seq: int, prev: str, country: str = "DE", event: str = "upload") -> dict:
    e = {"type": "entry", "seq": seq, "at": f"2026-12-01T10:00:0{seq}.000000Z", "bucket": "b", "event": event,
         "action": "add", "key": "k", "segment": 1, "piece": seq, "node": "n" * 64, "country": country,
         "region": "eu", "prev": prev}  # fmt: skip
    e["hash"] = entry_hash(e)
    return e


def _file(sat: Identity, countries: list[str]) -> list[str]:
    lines = [header_line(sat.id, "2026-12-01T11:00:00Z")]
    prev = GENESIS
    for i, c in enumerate(countries, 1):
        e = _entry(i, prev, c)
        prev = e["hash"]
        lines.append(e)
    head = {"bucket": "b", "seq": len(countries), "hash": prev, "first_seq": 1, "count": len(countries),
            "since": None, "exported_at": "2026-12-01T11:00:00Z", "satellite_id": sat.id}  # fmt: skip
    lines.append(head_line(sat.sign, head))
    return [json.dumps(x) for x in lines]


def test_a_clean_file_verifies_and_lists_every_country_that_ever_held_a_piece() -> None:
    sat = Identity.generate()
    v = verify_evidence(_file(sat, ["DE", "FR", "US"]), sat.id)
    assert v.ok and v.problems == [] and v.buckets["b"].countries == {"DE", "FR", "US"}


def test_changing_one_line_fails_naming_that_line() -> None:
    sat = Identity.generate()
    lines = _file(sat, ["DE", "FR", "US"])
    tampered = json.loads(lines[2])
    tampered["country"] = "DE"  # hide that a piece was ever in FR
    lines[2] = json.dumps(tampered)
    v = verify_evidence(lines, sat.id)
    assert not v.ok and [p.line for p in v.problems] == [3] and "does not match its hash" in str(v.problems[0])


def test_rehashing_a_changed_line_still_breaks_the_next_link() -> None:
    sat = Identity.generate()
    lines = _file(sat, ["DE", "FR", "US"])
    tampered = json.loads(lines[2])
    tampered["country"] = "DE"
    tampered["hash"] = entry_hash(tampered)
    lines[2] = json.dumps(tampered)
    v = verify_evidence(lines, sat.id)
    assert not v.ok and [p.line for p in v.problems] == [4] and "does not link" in str(v.problems[0])


def test_dropping_the_last_entries_or_another_key_fails_at_the_head() -> None:
    sat = Identity.generate()
    lines = _file(sat, ["DE", "FR", "US"])
    v = verify_evidence(lines[:3] + lines[4:], sat.id)  # the last entry removed
    assert not v.ok and any(p.line == 4 and "head" in p.message for p in v.problems)
    other = Identity.generate()
    v = verify_evidence(lines, other.id)  # a key that is not the satellite's
    assert not v.ok and "signature" in str(v.problems[0])


def test_garbage_is_reported_not_raised() -> None:
    sat = Identity.generate()
    assert not verify_evidence([], sat.id).ok
    assert not verify_evidence(["{not json"], sat.id).ok
    v = verify_evidence([*_file(sat, ["DE"])[:2], "[1]", '{"type": "entry"}'], sat.id)
    assert not v.ok and {p.line for p in v.problems} >= {3, 4}


# --- where the satellite's database is ----------------------------------------------------


def test_inline_needs_every_metadata_place_in_policy_and_an_unknown_place_is_in_no_restricted_one() -> None:
    from types import SimpleNamespace

    import pytest

    anywhere = PlacementPolicy("global", RedundancyScheme(2, 3, 4, 4))
    de_only = PlacementPolicy("de", RedundancyScheme(2, 3, 4, 4), allowed_countries=frozenset({"DE"}))
    no_us = PlacementPolicy("no-us", RedundancyScheme(2, 3, 4, 4), excluded_countries=frozenset({"US"}))
    assert DE.allows_inline(EU) and DE.allows_inline(de_only) and not DE.allows_inline(CH)
    split = MetadataLocation("DE", "eu", database_country="US", database_region="na")  # the database elsewhere
    assert not split.allows_inline(EU) and not split.allows_inline(no_us) and split.allows_inline(anywhere)
    assert split.storage_country == "US"
    unknown = MetadataLocation()
    assert unknown.allows_inline(anywhere) and not unknown.allows_inline(no_us) and not unknown.allows_inline(EU)
    cfg = SimpleNamespace(metadata_country="de", metadata_region="EU", database_country="", database_region="")
    assert MetadataLocation.from_config(cfg) == DE
    with pytest.raises(ValueError, match="metadata_country 'Germany'"):
        MetadataLocation.from_config(SimpleNamespace(metadata_country="Germany"))
