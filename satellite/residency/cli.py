"""``geoshard verify-residency FILE --satellite-id KEY``: an auditor's check of residency evidence.

Needs only the file and the satellite's public key (its id, 64 hex characters, obtained from
the operator out of band: ``geoshard admin residency-info`` or the satellite's config). Exit
status 0 when every chain and signature verifies, 1 otherwise (each failure names its line).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .evidence import report_text, verify_evidence

__all__ = ["register"]


def _verify(a: argparse.Namespace) -> int:
    try:
        with open(a.file, encoding="utf-8") as f:
            result = verify_evidence(f, a.satellite_id.strip().lower())
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except UnicodeDecodeError as exc:
        print(f"error: {a.file} is not UTF-8 text: {exc}", file=sys.stderr)
        return 1
    print(report_text(result))
    return 0 if result.ok else 1


def register(sub: Any) -> None:
    p = sub.add_parser("verify-residency", help="verify a residency evidence file against the satellite's key")
    p.add_argument("file", help="a file written by 'geoshard admin residency-history --export'")
    p.add_argument("--satellite-id", required=True, metavar="KEY",
                   help="the satellite's public key (its id, 64 hex characters)")  # fmt: skip
    p.set_defaults(func=_verify)
