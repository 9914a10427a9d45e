"""Progress of a retain pass, kept in a small file so every view of the node can show it.

A retain list for a node with millions of pieces takes a while to apply: every piece's header
is read and each absent from the bloom filter is moved to the trash. While it runs, the chore
rewrites ``retain-progress.json`` in the data directory (temp file and rename, at most twice a
second) and once more when it ends, so ``geoshard node status`` — another process — draws a bar
from it, the dashboard's ``GET /api/retain`` returns it, and the last pass's outcome survives a
restart. ``total`` is the piece count the store knew when the pass began; uploads during the
pass can add pieces, so ``progress`` is clamped to 1 until the pass says it is done.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["FILE_NAME", "ProgressWriter", "RetainProgress", "read_progress"]

FILE_NAME = "retain-progress.json"
WRITE_EVERY = 0.5  # seconds between rewrites of the file during a pass


@dataclass
class RetainProgress:
    created_before: int  # the list covers pieces created before this (unix seconds)
    listed: int  # pieces the satellite says the list retains
    total: int  # pieces on disk when the pass began
    started_at: float
    checked: int = 0
    kept: int = 0
    trashed: int = 0
    finished_at: float | None = None

    @property
    def state(self) -> str:
        return "done" if self.finished_at is not None else "running"

    @property
    def progress(self) -> float:
        if self.finished_at is not None:
            return 1.0
        return min(1.0, self.checked / self.total) if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state, "progress": round(self.progress, 4)}

    def save(self, root: Path) -> None:
        path = root / FILE_NAME
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json()))
        os.replace(tmp, path)


class ProgressWriter:
    """Counts a pass and rewrites its file no more than every :data:`WRITE_EVERY` seconds."""

    def __init__(self, root: Path, progress: RetainProgress) -> None:
        self.root, self.progress = root, progress
        self._last = 0.0
        self.write()

    def write(self) -> None:
        self._last = time.monotonic()
        try:
            self.progress.save(self.root)
        except OSError:  # a full disk must not stop the pass that frees it
            pass

    def step(self, *, kept: bool = False, trashed: bool = False) -> None:
        p = self.progress
        p.checked += 1
        p.kept += kept
        p.trashed += trashed
        if time.monotonic() - self._last >= WRITE_EVERY:
            self.write()

    def finish(self) -> None:
        self.progress.finished_at = time.time()
        self.write()


def read_progress(root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The current or last pass as JSON, or None when no retain list was ever applied here."""
    try:
        data: dict[str, Any] = json.loads((Path(root) / FILE_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data
