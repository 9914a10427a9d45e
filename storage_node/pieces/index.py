"""The node's index of the pieces it stores: what lets its scrub notice a piece that is *gone*.

Walking ``blobs/`` finds every file that is there and verifies it; a file that vanished (a
bad sector under the directory, an operator's stray ``rm``, a restored backup that is
older than the node) leaves nothing to walk. So the node also keeps, in ``node.db``, one row
per piece it holds: added once a piece is durable (after the link and the directory fsync),
removed *before* a piece is trashed or deleted. A row whose file is gone is therefore a
real loss, never a deletion in progress; the scrub reports it as ``missing``.

A crash can leave only the harmless disagreement: a file without its row (killed between
the fsync and the insert, or between the removal and the move). The scrub adds a row for
every file it verifies, which also fills the index on a node that predates it.
"""

from __future__ import annotations

import sqlite3
import threading
import time

__all__ = ["PieceIndex"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stored_pieces (
    piece_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    stored_at INTEGER NOT NULL
);
"""


class PieceIndex:
    """Rows of ``stored_pieces`` on the node's SQLite connection (used from chore threads too)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()
        with self._lock:
            self.conn.executescript(_SCHEMA)

    def add(self, piece_id: str, size: int) -> None:
        with self._lock:
            self.conn.execute(
                "INSERT OR IGNORE INTO stored_pieces (piece_id, size, stored_at) VALUES (?, ?, ?)",
                (piece_id, size, int(time.time())),
            )

    def discard(self, piece_id: str) -> None:
        with self._lock:
            self.conn.execute("DELETE FROM stored_pieces WHERE piece_id = ?", (piece_id,))

    def contains(self, piece_id: str) -> bool:
        with self._lock:
            row = self.conn.execute("SELECT 1 FROM stored_pieces WHERE piece_id = ?", (piece_id,)).fetchone()
        return row is not None

    def page(self, after: str, limit: int) -> list[str]:
        """Piece ids greater than ``after``, in order: the scrub walks the index as it walks the disk."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT piece_id FROM stored_pieces WHERE piece_id > ? ORDER BY piece_id LIMIT ?", (after, limit)
            ).fetchall()
        return [r[0] for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self.conn.execute("SELECT count(*) FROM stored_pieces").fetchone()[0])
