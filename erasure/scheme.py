"""Redundancy schemes: how many pieces a segment is cut into, and how many matter.

Storj's four thresholds, in order:

* ``k`` — pieces *required* to rebuild a segment (any ``k`` of them will do);
* ``repair`` — when fewer healthy pieces than this remain, the repairer rebuilds the rest;
* ``success`` — an upload is committed once this many pieces have landed (the slowest
  uploads beyond it are cancelled: long-tail cancellation);
* ``total`` (``n``) — pieces encoded, and nodes an upload is started on.

They must satisfy ``1 ≤ k ≤ repair ≤ success ≤ total ≤ 256``: 256 is the limit of the
Reed–Solomon codes over GF(2⁸) that zfec implements. A scheme is written ``k/repair/success/
total`` (``4/6/8/10``, Storj's ``29/35/80/110``) in configs and on the command line, and
stored as a small JSON object in segment metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import SchemeError

__all__ = ["MAX_PIECES", "RedundancyScheme"]

MAX_PIECES = 256
_FIELDS = ("k", "repair", "success", "total")


@dataclass(frozen=True, slots=True)
class RedundancyScheme:
    k: int
    repair: int
    success: int
    total: int

    def __post_init__(self) -> None:
        for name in _FIELDS:
            value = getattr(self, name)
            # bool is an int subclass; True/False as a threshold is always a mistake.
            if not isinstance(value, int) or isinstance(value, bool):
                raise SchemeError(f"redundancy scheme field {name!r} must be an integer, got {value!r}")
        k, repair, success, total = self.k, self.repair, self.success, self.total
        if not 1 <= k <= repair <= success <= total <= MAX_PIECES:
            raise SchemeError(
                f"invalid redundancy scheme {k}/{repair}/{success}/{total}: need "
                f"1 ≤ k ≤ repair ≤ success ≤ total ≤ {MAX_PIECES}"
            )

    @property
    def n(self) -> int:
        """The total number of pieces (the erasure code's ``n``)."""
        return self.total

    @property
    def expansion(self) -> float:
        """Stored bytes per segment byte: ``total / k``."""
        return self.total / self.k

    @classmethod
    def parse(cls, text: str) -> RedundancyScheme:
        """``"4/6/8/10"`` → ``RedundancyScheme(4, 6, 8, 10)``."""
        parts = text.strip().split("/")
        if len(parts) != 4:
            raise SchemeError(f"redundancy scheme {text!r} must be written k/repair/success/total")
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise SchemeError(f"redundancy scheme {text!r} has a non-integer field") from None
        return cls(*values)

    def to_dict(self) -> dict[str, int]:
        return {"k": self.k, "repair": self.repair, "success": self.success, "total": self.total}

    @classmethod
    def from_dict(cls, data: Any) -> RedundancyScheme:
        if not isinstance(data, dict) or set(data) != set(_FIELDS):
            raise SchemeError(f"redundancy scheme must be an object with exactly {list(_FIELDS)}")
        return cls(**{name: data[name] for name in _FIELDS})

    def __str__(self) -> str:
        return f"{self.k}/{self.repair}/{self.success}/{self.total}"
