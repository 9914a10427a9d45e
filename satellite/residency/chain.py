"""The ledger's chain rule, pure: what an entry's hash covers, and the signed head of an export.

Kept apart from the database so that the auditor's verifier (:mod:`satellite.residency.evidence`)
and the satellite that writes the ledger (``satellite/db/residency_ledger.py``) share one
definition of an entry's bytes and nothing else.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = [
    "EVENTS", "GENESIS", "HASHED_FIELDS", "HEAD_CONTEXT", "INLINE_HOLDER", "INLINE_PIECE", "canonical", "entry_hash",
]  # fmt: skip

GENESIS = "0" * 64  # the ``prev`` of a bucket's first entry
HASHED_FIELDS = (
    "seq", "at", "bucket", "event", "action", "key", "segment", "piece", "node", "country", "region", "prev",
)  # fmt: skip
HEAD_CONTEXT = b"geoshard residency head v1\n"  # domain separation for the head's signature
EVENTS = ("upload", "copy", "repair", "migration", "graceful_exit", "deletion", "gc")
# An inline segment's holder: the satellite's database, as a pseudo-node, piece -1 (the whole segment).
INLINE_HOLDER = "satellite-db"
INLINE_PIECE = -1


def canonical(value: Any) -> bytes:
    """The one encoding that is hashed and signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 (hex) over the canonical JSON of the entry's hashed fields (``prev`` included)."""
    return hashlib.sha256(canonical({k: entry[k] for k in HASHED_FIELDS})).hexdigest()
