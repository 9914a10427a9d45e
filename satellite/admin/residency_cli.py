"""``geoshard admin residency-history``: a bucket's residency ledger, shown or exported signed."""

from __future__ import annotations

import argparse
import json
from typing import Any

from satellite.residency.evidence import verify_evidence

from .client import AdminClient

__all__ = ["register_residency", "residency_audit", "residency_history", "residency_info"]


def residency_history(c: AdminClient, a: argparse.Namespace) -> Any:
    query = {"since": a.since} if a.since else None
    text: str = c.call("GET", AdminClient.path("v1", "buckets", a.bucket, "residency-history"), query=query, raw=True)
    lines = text.splitlines()
    satellite_id = json.loads(lines[0])["satellite_id"] if lines else ""
    checked = verify_evidence(lines, satellite_id)  # what an auditor will see, checked before it is handed over
    history = checked.buckets.get(a.bucket)
    entries = [json.loads(t) for t in lines if '"type":"entry"' in t]
    data = {
        "bucket": a.bucket,
        "satellite_id": satellite_id,
        "entries": len(entries),
        "countries": sorted(history.countries) if history else [],
        "verified": checked.ok or (not entries and not checked.problems),
        "problems": [str(p) for p in checked.problems],
    }
    if a.export:
        with open(a.export, "w", encoding="utf-8") as f:
            f.write(text if text.endswith("\n") else text + "\n")
        data["file"] = a.export
        msg = (f"wrote {len(entries)} entries of bucket {a.bucket} to {a.export}, the chain head signed by satellite "
               f"{satellite_id}\nan auditor checks it with: geoshard verify-residency {a.export} "
               f"--satellite-id {satellite_id}")  # fmt: skip
        return data, msg
    shown = entries[-a.limit :] if a.limit else entries
    rows = [f"{'SEQ':>6}  {'AT':<27} {'EVENT':<13} {'ACTION':<6} {'COUNTRY':<7} {'NODE':<12}  OBJECT/SEGMENT/PIECE"]
    for e in shown:
        rows.append(f"{e['seq']:>6}  {e['at']:<27} {e['event']:<13} {e['action']:<6} {e['country']:<7} "
                    f"{e['node'][:12]:<12}  {e['key']}/{e['segment']}/{e['piece']}")  # fmt: skip
    head = [f"bucket {a.bucket}: {len(entries)} entries" + (f" since {a.since}" if a.since else "")
            + (f" (last {len(shown)} shown)" if len(shown) < len(entries) else ""),
            f"countries that ever held a piece: {', '.join(data['countries']) or '(none)'}"]  # fmt: skip
    return data, "\n".join([*head, "", *rows, *(f"PROBLEM {p}" for p in data["problems"])])


def residency_audit(c: AdminClient, a: argparse.Namespace) -> Any:
    text: str = c.call("POST", AdminClient.path("v1", "buckets", a.bucket, "residency-audit"), raw=True)
    lines = text.splitlines()
    satellite_id = json.loads(lines[0])["satellite_id"] if lines else ""
    checked = verify_evidence(lines, satellite_id)
    history = checked.buckets.get(a.bucket)
    audited = history.audited if history else {}
    data = {
        "bucket": a.bucket,
        "satellite_id": satellite_id,
        "pieces": sum(t[1] for t in audited.values()),
        "proven": sum(t[0] for t in audited.values()),
        "by_country": {c: {"proven": t[0], "challenged": t[1]} for c, t in sorted(audited.items())},
        "unproven": history.unproven if history else [],
        "problems": [str(p) for p in checked.problems],
    }
    if a.export:
        with open(a.export, "w", encoding="utf-8") as f:
            f.write(text if text.endswith("\n") else text + "\n")
        data["file"] = a.export
    per = ", ".join(f"{c} {v['proven']}/{v['challenged']}" for c, v in data["by_country"].items()) or "none"
    msg = [f"bucket {a.bucket}: {data['proven']} of {data['pieces']} pieces proven held by their nodes ({per})",
           *(f"UNPROVEN {u}" for u in data["unproven"][:50]), *(f"PROBLEM {p}" for p in data["problems"])]
    if a.export:
        msg.append(f"wrote {a.export}; an auditor checks it with: geoshard verify-residency {a.export} "
                   f"--satellite-id {satellite_id}")  # fmt: skip
    return data, "\n".join(msg), 0 if data["proven"] == data["pieces"] and not data["problems"] else 5


def residency_info(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", "/v1/residency")
    return r, (f"satellite {r['satellite_id']} (its public key: what verify-residency checks signatures with)\n"
               f"metadata stored at {r['metadata_location']}")  # fmt: skip


def register_residency(groups: Any, leaf: Any) -> None:
    leaf(groups, "residency-info", residency_info, "the satellite's public key and where its metadata lives")
    p = leaf(groups, "residency-audit", residency_audit,
             "challenge every piece of a bucket now; node-signed answers as evidence (exit 5: a piece unproven)")
    p.add_argument("bucket")
    p.add_argument("--export", metavar="FILE", help="write the evidence file (JSON lines) here")
    p = leaf(groups, "residency-history", residency_history,
             "a bucket's residency ledger: every node and country that held its pieces; --export writes signed "
             "evidence for 'geoshard verify-residency'")  # fmt: skip
    p.add_argument("bucket")
    p.add_argument("--since", help="only entries at or after this ISO 8601 time (e.g. 2026-12-01T00:00:00Z)")
    p.add_argument("--export", metavar="FILE", help="write the signed evidence file (JSON lines) here")
    p.add_argument("--limit", type=int, default=50, help="entries to show without --export (default 50, 0: all)")
