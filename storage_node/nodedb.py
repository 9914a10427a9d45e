"""The node's small SQLite database: orders it accepted and piece expirations.

*Orders* serve two purposes. For uploads, a serial seen once is refused forever after (as
long as the order could still be valid): the row is committed before the first body byte
is accepted, so a restart cannot be used to replay an order. For downloads, the row counts
the bytes served under the serial, bounded by the order's ``max_bytes``; unsettled download
rows, each with the satellite-signed order, are what the node will submit to the satellite
to be paid for egress (:meth:`OrderArchive.unsettled`, :meth:`OrderArchive.mark_settled`).
Rows are pruned once the order expired and nothing is owed on them.

*Expirations* index the pieces that have a TTL so the expiry chore finds them without
walking the disk.

*Bandwidth* adds up the bytes moved per UTC day and order action (what the dashboard shows
as this period's ingress and egress by kind). Transfers count in memory and a chore
flushes them (:meth:`BandwidthUsage.flush`), so the hot path gains no SQLite write; a
crash loses at most one flush interval of these figures, never an order (payment comes
from the orders above, not from this table).

Each call is one short transaction on the event loop's thread, in WAL mode with
``synchronous=NORMAL`` (see ``docs/node-protocol.md``, *Durability notes*, for what that keeps).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from common.messages import Action, OrderLimit, Signed, now
from storage_node.errors import OrderLimitExceeded, SerialAlreadyUsed

__all__ = ["BandwidthUsage", "NodeDB", "OrderArchive", "PieceExpirations", "SettlableOrder", "utc_day"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    serial TEXT PRIMARY KEY,
    satellite_id TEXT NOT NULL,
    piece_id TEXT NOT NULL,
    action TEXT NOT NULL,
    max_bytes INTEGER NOT NULL,
    bytes INTEGER NOT NULL DEFAULT 0,
    expires INTEGER NOT NULL,
    order_json TEXT NOT NULL,
    settled_at INTEGER
);
CREATE INDEX IF NOT EXISTS orders_expires ON orders (expires);
CREATE TABLE IF NOT EXISTS piece_expirations (
    piece_id TEXT PRIMARY KEY,
    expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS piece_expirations_expires ON piece_expirations (expires);
CREATE TABLE IF NOT EXISTS bandwidth_usage (
    day INTEGER NOT NULL,
    action TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    PRIMARY KEY (day, action)
);
"""

_PAID_ACTIONS = (Action.GET.value, Action.REPAIR_GET.value, Action.AUDIT.value)


@dataclass(frozen=True)
class SettlableOrder:
    """A download order with the bytes served under it, ready to submit for payment."""

    serial: str
    order: Signed[OrderLimit]
    bytes: int


class NodeDB:
    """Opens ``node.db`` in the data directory and hands out its repositories."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        self.orders = OrderArchive(self.conn)
        self.expirations = PieceExpirations(self.conn)
        self.bandwidth = BandwidthUsage(self.conn)

    def close(self) -> None:
        self.bandwidth.flush()
        self.conn.close()


class OrderArchive:
    """Serials used for uploads, and bytes served per download serial."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _insert(self, signed: Signed[OrderLimit], nbytes: int) -> bool:
        o = signed.message
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO orders"
            " (serial, satellite_id, piece_id, action, max_bytes, bytes, expires, order_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (o.serial, o.satellite_id, o.piece_id, o.action.value, o.max_bytes, nbytes, o.expires,
             signed.dumps()),
        )
        return cur.rowcount == 1

    def use_upload_serial(self, signed: Signed[OrderLimit], size: int) -> None:
        """Record an upload's serial before any byte is accepted; refuse a serial seen before."""
        if not self._insert(signed, size):
            raise SerialAlreadyUsed(
                f"order serial {signed.message.serial} was already used; ask the satellite for a new order"
            )

    def reserve_download(self, signed: Signed[OrderLimit], nbytes: int) -> None:
        """Count ``nbytes`` against the serial's ``max_bytes`` before serving them.

        One upsert does the check and the count atomically (a single statement needs no
        explicit transaction): a download is one SQLite round, not five. Only when it
        changes nothing does a second query find out why, to say so.
        """
        o = signed.message
        if nbytes > o.max_bytes:
            raise OrderLimitExceeded(
                f"order {o.serial} allows {o.max_bytes} bytes; {nbytes} requested"
            )
        row = self.conn.execute(
            "INSERT INTO orders"
            " (serial, satellite_id, piece_id, action, max_bytes, bytes, expires, order_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (serial) DO UPDATE SET bytes = bytes + excluded.bytes"
            " WHERE piece_id = excluded.piece_id AND action = excluded.action"
            " AND bytes + excluded.bytes <= excluded.max_bytes"
            " RETURNING bytes",
            (o.serial, o.satellite_id, o.piece_id, o.action.value, o.max_bytes, nbytes, o.expires,
             signed.dumps()),
        ).fetchone()
        if row is not None:
            return
        used, piece_id, action = self.conn.execute(
            "SELECT bytes, piece_id, action FROM orders WHERE serial = ?", (o.serial,)
        ).fetchone()
        if piece_id != o.piece_id or action != o.action.value:
            raise SerialAlreadyUsed(f"order serial {o.serial} was already used for another transfer")
        raise OrderLimitExceeded(
            f"order {o.serial} allows {o.max_bytes} bytes; {used} already served, {nbytes} more requested"
        )

    def refund_download(self, serial: str, nbytes: int) -> None:
        """Give back bytes reserved but not sent (the client went away early)."""
        if nbytes > 0:
            self.conn.execute(
                "UPDATE orders SET bytes = MAX(0, bytes - ?) WHERE serial = ?", (nbytes, serial)
            )

    def served(self, serial: str) -> int:
        row = self.conn.execute("SELECT bytes FROM orders WHERE serial = ?", (serial,)).fetchone()
        return int(row[0]) if row else 0

    def is_used(self, serial: str) -> bool:
        return self.conn.execute("SELECT 1 FROM orders WHERE serial = ?", (serial,)).fetchone() is not None

    def unsettled(self, limit: int = 1000, expired_before: int | None = None) -> list[SettlableOrder]:
        """Download orders with bytes served that the satellite has not settled yet (only those
        that expired before ``expired_before``, if given: no more bytes can be served under them)."""
        until = "" if expired_before is None else " AND expires < ?"
        rows = self.conn.execute(
            "SELECT serial, order_json, bytes FROM orders WHERE settled_at IS NULL AND bytes > 0"
            f" AND action IN ({','.join('?' * len(_PAID_ACTIONS))}){until} ORDER BY expires LIMIT ?",
            (*_PAID_ACTIONS, *(() if expired_before is None else (expired_before,)), limit),
        ).fetchall()
        return [SettlableOrder(s, Signed.loads(j, OrderLimit), b) for s, j, b in rows]

    def mark_settled(self, serials: list[str]) -> None:
        t = now()
        self.conn.executemany("UPDATE orders SET settled_at = ? WHERE serial = ?", [(t, s) for s in serials])

    def prune(self, at: int | None = None, keep_unsettled_for: int = 30 * 86400) -> int:
        """Forget expired orders: they can no longer be replayed. Unpaid downloads are kept
        for ``keep_unsettled_for`` seconds after expiry so they can still be settled."""
        t = now() if at is None else at
        cur = self.conn.execute(
            "DELETE FROM orders WHERE expires < ? AND (settled_at IS NOT NULL OR bytes = 0"
            f" OR action NOT IN ({','.join('?' * len(_PAID_ACTIONS))}) OR expires < ?)",
            (t, *_PAID_ACTIONS, t - keep_unsettled_for),
        )
        return cur.rowcount


class PieceExpirations:
    """Pieces with a TTL, so expiry never needs to walk the disk."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def set(self, piece_id: str, expires: int) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO piece_expirations (piece_id, expires) VALUES (?, ?)", (piece_id, expires)
        )

    def expired(self, at: int | None = None, limit: int = 1000) -> list[str]:
        t = now() if at is None else at
        rows = self.conn.execute(
            "SELECT piece_id FROM piece_expirations WHERE expires <= ? ORDER BY expires LIMIT ?", (t, limit)
        ).fetchall()
        return [r[0] for r in rows]

    def remove(self, piece_id: str) -> None:
        self.conn.execute("DELETE FROM piece_expirations WHERE piece_id = ?", (piece_id,))


def utc_day(t: float) -> int:
    """Days since the epoch, UTC: the bucket bandwidth is added up in."""
    return int(t // 86400)


class BandwidthUsage:
    """Bytes moved per UTC day and order action, counted in memory and flushed by a chore."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._pending: dict[tuple[int, str], int] = {}

    def add(self, action: str, nbytes: int, at: float | None = None) -> None:
        if nbytes > 0:
            key = (utc_day(now() if at is None else at), action)
            self._pending[key] = self._pending.get(key, 0) + nbytes

    def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if pending:
            self.conn.executemany(
                "INSERT INTO bandwidth_usage (day, action, bytes) VALUES (?, ?, ?)"
                " ON CONFLICT (day, action) DO UPDATE SET bytes = bytes + excluded.bytes",
                [(d, a, n) for (d, a), n in pending.items()],
            )

    def totals(self, since_day: int) -> dict[str, int]:
        """Bytes per action from ``since_day`` on, unflushed counts included."""
        out: dict[str, int] = {}
        for action, nbytes in self.conn.execute(
            "SELECT action, SUM(bytes) FROM bandwidth_usage WHERE day >= ? GROUP BY action", (since_day,)
        ):
            out[action] = int(nbytes)
        for (day, action), nbytes in self._pending.items():
            if day >= since_day:
                out[action] = out.get(action, 0) + nbytes
        return out
