"""The pieces retain passes moved to the trash that the satellite has not yet been told of.

A retain pass appends each piece id it trashes to ``retain-trashed.txt`` in the data
directory (one write per pass, so a restart keeps them); the node's answer to the next
retain list takes up to :attr:`common.trash_report.TrashReport.MAX_PIECES` of them, signed
(``storage_node/piecestore/endpoint.py``), and they leave the file. Only pieces actually
trashed are written: a pass that keeps everything costs nothing here. An answer that is lost
on the way loses its ids (the satellite's ledger then lacks those ``gc`` entries, the
``remove`` of their deletion is there regardless).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

__all__ = ["FILE_NAME", "TrashedLog"]

FILE_NAME = "retain-trashed.txt"


class TrashedLog:
    def __init__(self, root: Path) -> None:
        self.path = Path(root) / FILE_NAME
        self._lock = threading.Lock()  # passes run in a thread, answers on the event loop

    def add(self, piece_ids: Iterable[str]) -> None:
        ids = list(piece_ids)
        if not ids:
            return
        with self._lock, open(self.path, "a", encoding="ascii") as f:
            f.write("".join(f"{pid}\n" for pid in ids))

    def take(self, limit: int) -> list[str]:
        """Up to ``limit`` unreported ids, oldest first; they are removed from the file."""
        with self._lock:
            try:
                ids = self.path.read_text(encoding="ascii").split()
            except FileNotFoundError:
                return []
            taken, rest = ids[:limit], ids[limit:]
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(f"{pid}\n" for pid in rest), encoding="ascii")
            os.replace(tmp, self.path)
            return taken
