"""Residency evidence files: what an export holds, and how an auditor checks one.

An export is JSON lines, one object per line, so a reader can name the line that fails:

- ``{"type": "header", "format": "geoshard-residency/1", "satellite_id": …, "exported_at": …}``;
- per bucket, its ledger entries in chain order (``{"type": "entry", "seq": …, "hash": …}``,
  the fields of :data:`satellite.residency.chain.HASHED_FIELDS`; an inline segment's holder
  is ``"node": "satellite-db"``, ``"piece": -1``, in the country the satellite declares for
  its database; ``"event": "gc"`` is a node's signed word that it trashed a removed piece), then
- ``{"type": "head", "head": {bucket, seq, hash, first_seq, count, since, exported_at,
  satellite_id}, "signature": base64}``: the chain head at export time, signed by the
  satellite's Ed25519 identity over ``HEAD_CONTEXT + canonical(head)``.

:func:`verify_evidence` needs only the file's lines and the satellite's public key (its id,
64 hex characters, which the auditor gets from the operator out of band — the id in the
file is not trusted). It recomputes every entry's hash, follows every ``prev`` link and
``seq`` step, and checks the signed head names the last entry: an entry changed, dropped,
inserted or reordered fails at its line, as does a head whose signature does not verify. A
partial export (``--since``) starts at its first entry's ``prev``, which the signed head
covers only through the chain that follows it; the head still proves nothing was added or
removed after that point.

It imports nothing of the satellite's database, so ``geoshard verify-residency`` runs on an
auditor's machine with the package installed and no satellite at all.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .audit_evidence import AuditDigest, check_head, judge_line
from .chain import GENESIS, HASHED_FIELDS, HEAD_CONTEXT, INLINE_HOLDER, canonical, entry_hash

__all__ = [
    "FORMAT",
    "BucketHistory",
    "Problem",
    "Verification",
    "head_line",
    "header_line",
    "report_text",
    "sign_head",
    "verify_evidence",
]

FORMAT = "geoshard-residency/1"


def header_line(satellite_id: str, exported_at: str, **extra: Any) -> dict[str, Any]:
    return {"type": "header", "format": FORMAT, "satellite_id": satellite_id, "exported_at": exported_at, **extra}


def sign_head(sign: Any, head: dict[str, Any]) -> str:
    """``sign``: the satellite identity's ``sign(bytes) -> bytes``."""
    return base64.b64encode(sign(HEAD_CONTEXT + canonical(head))).decode()


def head_line(sign: Any, head: dict[str, Any]) -> dict[str, Any]:
    return {"type": "head", "head": head, "signature": sign_head(sign, head)}


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # 1-based line of the file
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class BucketHistory:
    entries: int = 0
    countries: set[str] = field(default_factory=set)  # every country that ever held a piece
    inline: set[str] = field(default_factory=set)  # of those, where the satellite's database held inline data
    events: dict[str, int] = field(default_factory=dict)
    head_seq: int = 0
    signed: bool = False
    # A residency audit (audit_evidence): per country, [pieces proven by their node, pieces challenged].
    audited: dict[str, list[int]] = field(default_factory=dict)
    audit_signed: bool = False
    unproven: list[str] = field(default_factory=list)


@dataclass
class Verification:
    buckets: dict[str, BucketHistory] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    satellite_id: str = ""

    @property
    def ok(self) -> bool:
        """Every line checks and every bucket's ledger or audit is closed by a signed head."""
        return (
            not self.problems
            and bool(self.buckets)
            and all((b.signed or not b.entries) and (b.audit_signed or not b.audited) for b in self.buckets.values())
            and all(b.signed or b.audit_signed for b in self.buckets.values())
        )


class _Chain:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.seq: int | None = None
        self.hash = ""
        self.count = 0
        self.first_seq = 0


def verify_evidence(lines: Iterable[str], satellite_id: str) -> Verification:
    """Check an evidence file against the satellite's public key; never raises on bad input."""
    out = Verification(satellite_id=satellite_id)
    chains: dict[str, _Chain] = {}
    digests: dict[str, AuditDigest] = {}
    seen_header = False
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            item = json.loads(text)
            if not isinstance(item, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            out.problems.append(Problem(number, f"not a JSON object: {exc}"))
            continue
        kind = item.get("type")
        if not seen_header:
            if kind != "header" or item.get("format") != FORMAT:
                out.problems.append(Problem(number, f"the file does not start with a {FORMAT} header"))
                return out
            seen_header = True
            continue
        if kind == "entry":
            _entry(out, chains, number, item)
        elif kind == "head":
            _head(out, chains, number, item, satellite_id)
        elif kind == "audit":
            _audit(out, digests, number, item, satellite_id)
        elif kind == "audit_head":
            _audit_head(out, digests, number, item, satellite_id)
        else:
            out.problems.append(Problem(number, f"unknown line type {kind!r}"))
    if not seen_header:
        out.problems.append(Problem(1, "the file is empty"))
    for bucket, chain in chains.items():
        if chain.count and not out.buckets[bucket].signed:
            out.problems.append(Problem(0, f"bucket {bucket!r}: entries without a signed head (file cut short?)"))
    return out


def _entry(out: Verification, chains: dict[str, _Chain], number: int, item: dict[str, Any]) -> None:
    missing = [k for k in (*HASHED_FIELDS, "hash") if k not in item]
    if missing:
        out.problems.append(Problem(number, f"entry lacks {', '.join(missing)}"))
        return
    bucket = str(item["bucket"])
    chain = chains.setdefault(bucket, _Chain(bucket))
    history = out.buckets.setdefault(bucket, BucketHistory())
    where = f"bucket {bucket!r} seq {item['seq']}"
    if history.signed:
        out.problems.append(Problem(number, f"{where}: entry after the bucket's signed head"))
    if entry_hash(item) != item["hash"]:
        out.problems.append(Problem(number, f"{where}: the entry does not match its hash (changed after writing)"))
    if chain.seq is None:
        chain.first_seq = int(item["seq"])
        if chain.first_seq == 1 and item["prev"] != GENESIS:
            out.problems.append(Problem(number, f"{where}: the first entry of a chain must follow {GENESIS[:8]}…"))
    else:
        if item["seq"] != chain.seq + 1:
            out.problems.append(Problem(number, f"{where}: follows seq {chain.seq} (entries missing or inserted)"))
        if item["prev"] != chain.hash:
            out.problems.append(Problem(number, f"{where}: does not link to the entry before it"))
    chain.seq, chain.hash = int(item["seq"]), str(item["hash"])
    chain.count += 1
    history.entries += 1
    history.countries.add(str(item["country"]))
    if item["node"] == INLINE_HOLDER:
        history.inline.add(str(item["country"]))
    history.events[str(item["event"])] = history.events.get(str(item["event"]), 0) + 1


def _signed_head(out: Verification, number: int, item: dict[str, Any], satellite_id: str,
                 what: str) -> tuple[str, dict[str, Any]] | None:  # fmt: skip
    """The bucket and head of a head line signed by the satellite, or None (a problem noted)."""
    head, signature = item.get("head"), item.get("signature")
    if not isinstance(head, dict) or not isinstance(signature, str):
        out.problems.append(Problem(number, f"{what} line has a head object and a signature"))
        return None
    bucket = str(head.get("bucket", ""))
    try:
        check_head(head, signature, satellite_id)
    except Exception as exc:  # SignatureError, bad base64, a malformed key: all "not signed by it"
        why = f"the {what}'s signature is not the satellite's ({exc})"
        out.problems.append(Problem(number, f"bucket {bucket!r}: {why}"))
        return None
    return bucket, head


def _head(out: Verification, chains: dict[str, _Chain], number: int, item: dict[str, Any], satellite_id: str) -> None:
    signed = _signed_head(out, number, item, satellite_id, "head")
    if signed is None:
        return
    bucket, head = signed
    chain = chains.get(bucket) or _Chain(bucket)
    history = out.buckets.setdefault(bucket, BucketHistory())
    if head.get("count") != chain.count:
        out.problems.append(Problem(number, f"bucket {bucket!r}: the head counts {head.get('count')} entries, the file "
                                            f"has {chain.count}"))  # fmt: skip
    if chain.count and (head.get("seq") != chain.seq or head.get("hash") != chain.hash):
        why = f"entries after seq {chain.seq} removed, or the last one changed"
        out.problems.append(Problem(number, f"bucket {bucket!r}: the signed head is not the last entry ({why})"))
    history.head_seq = int(head.get("seq") or 0)
    history.signed = True


def _audit(out: Verification, digests: dict[str, AuditDigest], number: int, item: dict[str, Any],
           satellite_id: str) -> None:  # fmt: skip
    bucket = str(item.get("bucket", ""))
    history = out.buckets.setdefault(bucket, BucketHistory())
    if history.audit_signed:
        out.problems.append(Problem(number, f"bucket {bucket!r}: audit line after the audit's signed head"))
    broken = digests.setdefault(bucket, AuditDigest()).check(item)
    if broken:
        out.problems.append(Problem(number, f"bucket {bucket!r}: {broken}"))
    try:
        proven, why = judge_line(item, satellite_id)
    except Exception as exc:  # a malformed line or a challenge the satellite did not sign
        out.problems.append(Problem(number, f"bucket {bucket!r}: not an audit record: {exc}"))
        return
    tally = history.audited.setdefault(str(item["country"]), [0, 0])
    tally[0] += proven
    tally[1] += 1
    if not proven:
        history.unproven.append(f"line {number}: piece {item['segment']}/{item['piece']} on {str(item['node'])[:12]} "
                                f"({item['country']}): {why}")  # fmt: skip


def _audit_head(out: Verification, digests: dict[str, AuditDigest], number: int, item: dict[str, Any],
                satellite_id: str) -> None:  # fmt: skip
    signed = _signed_head(out, number, item, satellite_id, "audit head")
    if signed is None:
        return
    bucket, head = signed
    digest = digests.get(bucket) or AuditDigest()
    if head.get("count") != digest.count or head.get("digest") != digest.hexdigest():
        out.problems.append(Problem(number, f"bucket {bucket!r}: the audit lines are not those the satellite signed "
                                            "(lines removed after it, or the last one changed)"))  # fmt: skip
    out.buckets.setdefault(bucket, BucketHistory()).audit_signed = True


def report_text(v: Verification) -> str:
    """What ``geoshard verify-residency`` prints."""
    lines = [f"satellite {v.satellite_id}"]
    for bucket in sorted(v.buckets):
        b = v.buckets[bucket]
        events = ", ".join(f"{k} {n}" for k, n in sorted(b.events.items())) or "none"
        if b.entries or b.signed:
            lines.append(f"bucket {bucket}: {b.entries} entries through seq {b.head_seq} ({events})")
        else:
            lines.append(f"bucket {bucket}:")
        if b.entries or b.signed:
            lines.append(f"  countries that ever held a piece: {', '.join(sorted(b.countries)) or '(none)'}")
            if b.inline:
                lines.append(f"  of which held inline in the satellite's database ({INLINE_HOLDER}): "
                             f"{', '.join(sorted(b.inline))}")  # fmt: skip
        if b.audited:
            proven = sum(t[0] for t in b.audited.values())
            total = sum(t[1] for t in b.audited.values())
            per = ", ".join(f"{c} {t[0]}/{t[1]}" for c, t in sorted(b.audited.items()))
            lines.append(f"  pieces proven held by their nodes (node-signed audits): {proven} of {total} ({per})")
            lines.extend(f"  UNPROVEN {u}" for u in b.unproven[:50])
    for p in v.problems:
        lines.append(f"FAILED {p}")
    lines.append("VERIFIED" if v.ok else "NOT VERIFIED")
    return "\n".join(lines)
