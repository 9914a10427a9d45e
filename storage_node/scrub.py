"""The scrub chore: the node re-reads every piece it stores and proves it against the root it signed.

Audits sample a few leaves of a few pieces, and readers verify only the pieces they happen
to read, so a flipped byte in a cold piece can sit unseen until the day it is needed. The
scrub closes that gap from the node's side: it walks ``blobs/`` in piece-id order, reads
each piece file whole, hashes every leaf, rebuilds the Merkle tree and compares it with the
tree and the root stored in the header (the root the node signed in its receipt, the one
the satellite audits against). A piece whose header, tree or bytes disagree — or whose
file is shorter than its header says — is **lost**: the node records it, deletes it, and
reports it at once to the satellite in a node-signed
:class:`~common.messages.PieceLossReport`, so repair starts before any reader or audit trips
on it. Reports that cannot be delivered stay in the node's database and are sent again.

**Pace.** A pass should take one ``scrub_period``: the chore verifies at ``stored bytes /
period`` bytes per second (recomputed before each piece, never below ``min_rate``, so a node
that was empty when its pass began does not crawl), never faster than ``scrub_max_rate`` (the I/O throttle that
keeps uploads and downloads at speed; a node with more data than ``max_rate × period``
takes longer and says so). It reads in ``CHUNK``-byte reads in a worker thread and sleeps
between them on the event loop, so a multi-GiB piece does not burst and no thread is held. After a pass it waits
for the rest of the period. ``scrub_period = 0`` turns scrubbing off.

**Resumable.** The cursor (the last piece id verified), the pass's start and its counts are
written to the node's SQLite database after every piece, so a restarted node continues
where it stopped instead of starting over (or skipping the rest of the pass).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

import aiohttp
from aiohttp import web

from common.identity import Identity
from common.messages import PieceLossReport, Signed, is_piece_id, now
from erasure.merkle import HASH_SIZE, MerkleTree, leaf_hash
from storage_node.errors import CorruptPiece
from storage_node.pieces.format import FIXED_SIZE, PieceHeader, level_offsets
from storage_node.pieces.store import PieceStore

__all__ = [
    "LOSSES_PATH",
    "ScrubChore",
    "ScrubConfig",
    "ScrubRecords",
    "ScrubState",
    "ScrubStep",
    "verify_piece_file",
    "verify_steps",
]

log = logging.getLogger(__name__)

LOSSES_PATH = "/api/v1/nodes/losses"
CHUNK = 1 << 20  # bytes per read while verifying
_SUFFIX = ".gsp"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scrub_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scrub_losses (
    piece_id TEXT PRIMARY KEY,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    found_at INTEGER NOT NULL,
    reported_at INTEGER
);
"""


@dataclass(frozen=True)
class ScrubConfig:
    period: float = 14 * 86400.0  # one full pass per period; 0 = off
    max_rate: float = 4 * 2**20  # bytes per second, at most
    min_rate: float = 256 * 2**10  # and at least: a small node finishes early and waits
    report_retry: float = 30.0  # seconds between attempts to deliver undelivered reports

    @classmethod
    def from_node(cls, config: Any) -> ScrubConfig:
        return cls(period=config.scrub_period, max_rate=config.scrub_max_rate)


@dataclass
class ScrubState:
    """What the chore has done; persisted after each piece, shown by ``geoshard node status``."""

    cursor: str = ""  # last piece id verified in the current pass ("" = pass not begun)
    pass_started: float = 0.0
    pass_verified: int = 0
    pass_bytes: int = 0
    pass_losses: int = 0
    passes: int = 0  # completed
    last_pass_finished: float = 0.0
    last_pass_seconds: float = 0.0
    last_pass_verified: int = 0
    last_pass_losses: int = 0
    total_verified: int = 0
    total_bytes: int = 0
    total_losses: int = 0
    losses_unreported: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ScrubRecords:
    """The scrub's tables in the node's database (``node.db``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(_SCHEMA)

    def load(self) -> ScrubState:
        row = self.conn.execute("SELECT state_json FROM scrub_state WHERE id = 1").fetchone()
        if row is None:
            return ScrubState()
        known = {f.name for f in fields(ScrubState)}
        return ScrubState(**{k: v for k, v in json.loads(row[0]).items() if k in known})

    def save(self, state: ScrubState) -> None:
        self.conn.execute(
            "INSERT INTO scrub_state (id, state_json) VALUES (1, ?) "
            "ON CONFLICT (id) DO UPDATE SET state_json = excluded.state_json",
            (json.dumps(state.to_json()),),
        )

    def add_loss(self, piece_id: str, reason: str, detail: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO scrub_losses (piece_id, reason, detail, found_at) VALUES (?, ?, ?, ?)",
            (piece_id, reason, detail[:500], now()),
        )

    def unreported(self, limit: int = PieceLossReport.MAX_PIECES) -> list[tuple[str, str, str]]:
        rows = self.conn.execute(
            "SELECT piece_id, reason, detail FROM scrub_losses WHERE reported_at IS NULL ORDER BY found_at LIMIT ?",
            (limit,),
        ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def recent_losses(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest losses found, for the dashboard: piece, why, when, and when reported."""
        rows = self.conn.execute(
            "SELECT piece_id, reason, detail, found_at, reported_at FROM scrub_losses "
            "ORDER BY found_at DESC, piece_id LIMIT ?",
            (limit,),
        ).fetchall()
        return [{"piece_id": p, "reason": r, "detail": d, "found_at": f, "reported_at": t} for p, r, d, f, t in rows]

    def mark_reported(self, piece_ids: list[str]) -> None:
        t = now()
        self.conn.executemany("UPDATE scrub_losses SET reported_at = ? WHERE piece_id = ?", [(t, p) for p in piece_ids])


def verify_steps(path: str | os.PathLike[str]) -> Generator[int, None, str]:
    """Check a piece file, yielding the bytes read after each read (so a caller can pace the
    reads between steps); returns the problem, empty when the piece is sound. Raises
    ``FileNotFoundError`` if the file vanished (trashed or expired meanwhile)."""
    with open(path, "rb", buffering=0) as f:
        fixed = f.read(FIXED_SIZE)
        try:
            header = PieceHeader.decode_fixed(fixed, str(path))
        except CorruptPiece as e:
            return f"header: {e}"
        leaves = header.leaf_count
        tree_len = header.header_len - FIXED_SIZE
        stored_tree = f.read(tree_len)
        yield len(fixed) + len(stored_tree)
        if len(stored_tree) != tree_len:
            return "file is shorter than its header's Merkle tree"
        on_disk = os.fstat(f.fileno()).st_size - header.header_len
        if on_disk != header.size:
            return f"file holds {on_disk} piece bytes, its header says {header.size}"
        hashes: list[bytes] = []
        ls = header.leaf_size
        per_read = max(1, CHUNK // ls) * ls
        remaining = header.size
        while remaining:
            chunk = f.read(min(per_read, remaining))
            if not chunk:
                return "file ended before the piece's last byte"
            remaining -= len(chunk)
            mv = memoryview(chunk)
            hashes.extend(leaf_hash(mv[i : i + ls]) for i in range(0, len(mv), ls))
            yield len(chunk)
    if len(hashes) != leaves:
        return f"{len(hashes)} leaves read, header says {leaves}"
    tree = MerkleTree(hashes)
    if tree.root != header.root:
        bad = _first_bad_leaf(hashes, stored_tree)
        where = f" (first bad leaf {bad})" if bad is not None else ""
        return f"piece bytes do not match the signed Merkle root{where}"
    for level, at in zip(tree.levels, level_offsets(leaves), strict=True):
        start = at - FIXED_SIZE
        if b"".join(level) != stored_tree[start : start + len(level) * HASH_SIZE]:
            return "the Merkle tree stored in the header is damaged (audits would fail)"
    return ""


def verify_piece_file(path: str | os.PathLike[str]) -> tuple[int, str]:
    """:func:`verify_steps` run to its end at once: ``(bytes read, problem)``."""
    steps = verify_steps(path)
    read = 0
    while True:
        try:
            read += next(steps)
        except StopIteration as done:
            return read, done.value


def _first_bad_leaf(hashes: list[bytes], stored_tree: bytes) -> int | None:
    for i, h in enumerate(hashes):
        if stored_tree[i * HASH_SIZE : (i + 1) * HASH_SIZE] != h:
            return i
    return None


class ScrubStep(StrEnum):
    BUSY = "busy"  # a piece was verified; the pass goes on
    DONE = "done"  # the pass just ended
    IDLE = "idle"  # nothing to do until the next pass is due
    OFF = "off"  # scrubbing is disabled


class ScrubChore:
    """Verifies one piece per :meth:`run_once` (STYLE habit 4); :meth:`run` paces the calls."""

    def __init__(
        self,
        identity: Identity,
        satellite_id: str,
        satellite_url: str,
        store: PieceStore,
        records: ScrubRecords,
        config: ScrubConfig,
    ) -> None:
        self.identity = identity
        self.satellite_id = satellite_id
        self.satellite_url = satellite_url.rstrip("/")
        self.store = store
        self.records = records
        self.config = config
        self.state = records.load()
        self.state.losses_unreported = len(records.unreported())
        self.rate = config.max_rate  # bytes/s of the current pass (set when it begins)
        self._shard: tuple[str, list[str]] | None = None  # cached sorted listing of one shard
        self._session: aiohttp.ClientSession | None = None
        self._last_report_try = 0.0
        self._requested = False  # request_pass(): begin the next pass now
        self._wake = asyncio.Event()
        if self.in_pass:  # resumed after a restart: keep the pass's pace
            self._set_rate()

    # --- the walk -------------------------------------------------------------------------

    def _next_piece(self, after: str) -> str | None:
        """The smallest stored piece id greater than ``after`` (shard by shard, sorted)."""
        shard = after[:2] if after else "00"
        for i in range(int(shard, 16), 256):
            name = f"{i:02x}"
            if self._shard is None or self._shard[0] != name:
                try:
                    listing = sorted(
                        e.name[: -len(_SUFFIX)]
                        for e in os.scandir(self.store.blobs / name)
                        if e.name.endswith(_SUFFIX) and is_piece_id(e.name[: -len(_SUFFIX)])
                    )
                except FileNotFoundError:
                    listing = []
                self._shard = (name, listing)
            for piece_id in self._shard[1]:
                if piece_id > after:
                    return piece_id
        return None

    def _set_rate(self, warn: bool = True) -> None:
        """The pace that verifies what is stored now in one period, within [min_rate, max_rate]."""
        stored = self.store.usage().pieces
        needed = stored / self.config.period if self.config.period > 0 else self.config.max_rate
        self.rate = max(1.0, min(self.config.max_rate, max(self.config.min_rate, needed)))
        if warn and needed > self.config.max_rate:
            log.warning(
                "scrub: %d bytes stored need %.0f B/s to be verified every %gs, the limit is %.0f B/s: "
                "this pass will take %.0fs", stored, needed, self.config.period, self.config.max_rate,
                stored / self.config.max_rate,
            )  # fmt: skip

    def _begin_pass(self, t: float) -> None:
        self._set_rate()
        s = self.state
        s.cursor, s.pass_started, s.pass_verified, s.pass_bytes, s.pass_losses = "", t, 0, 0, 0
        self._shard = None

    @property
    def in_pass(self) -> bool:
        return self.state.pass_started > 0 and self.state.pass_started > self.state.last_pass_finished

    def due(self, t: float) -> bool:
        """Whether a pass is running or the next one is due."""
        s = self.state
        return self.in_pass or self._requested or not s.pass_started or t >= s.pass_started + self.config.period

    async def run_once(self, t: float | None = None) -> ScrubStep:
        """Verify the next piece of the pass (starting one if due); report what it finds."""
        if self.config.period <= 0:
            return ScrubStep.OFF
        t = time.time() if t is None else t
        s = self.state
        if not self.in_pass:
            if s.pass_started and t < s.pass_started + self.config.period and not self._requested:
                return ScrubStep.IDLE
            self._requested = False
            self._begin_pass(t)
        piece_id = await asyncio.to_thread(self._next_piece, s.cursor)  # directory listings
        if piece_id is None:
            await self._missing()
            s.passes += 1
            s.last_pass_finished = max(time.time(), s.pass_started + 1e-6)
            s.last_pass_seconds = s.last_pass_finished - s.pass_started
            s.last_pass_verified, s.last_pass_losses = s.pass_verified, s.pass_losses
            s.cursor = ""
            self.records.save(s)
            log.info("scrub pass %d done: %d pieces (%d bytes) verified, %d lost, %.1fs",
                     s.passes, s.pass_verified, s.pass_bytes, s.pass_losses, s.last_pass_seconds)  # fmt: skip
            return ScrubStep.DONE
        self._set_rate(warn=False)  # data arrives during a pass: keep the pace up with it
        await self._verify(piece_id)
        s.cursor = piece_id
        self.records.save(s)
        return ScrubStep.BUSY

    async def run_pass(self) -> ScrubState:
        """Finish the current pass (or run a whole one) without pacing; tests and benches step with this."""
        while await self.run_once() is ScrubStep.BUSY:
            pass
        await self.flush_reports()
        return self.state

    async def _verify(self, piece_id: str) -> None:
        """Verify one piece, a read at a time off the event loop; between reads the chore
        sleeps on the loop (never in a worker thread) to hold ``rate``."""
        steps = verify_steps(self.store.path(piece_id))

        def advance() -> tuple[int | None, str]:
            try:
                return next(steps), ""
            except StopIteration as done:
                return None, done.value

        nbytes, problem = 0, ""
        try:
            while True:
                n, problem = await asyncio.to_thread(advance)
                if n is None:
                    break
                nbytes += n
                if self.pace:
                    await asyncio.sleep(n / self.rate)
        except FileNotFoundError:
            return  # trashed or expired while we walked: not a loss
        finally:
            steps.close()
        s = self.state
        s.pass_bytes += nbytes
        s.total_bytes += nbytes
        if not problem:
            s.pass_verified += 1
            s.total_verified += 1
            # A file the index missed (a crash, or a node older than it); a sound piece's bytes read are its size.
            await asyncio.to_thread(self.store.index_existing, piece_id, nbytes)
            return
        log.error("scrub: piece %s is lost: %s; deleting it and telling the satellite", piece_id, problem)
        self.records.add_loss(piece_id, "corrupt", problem)
        await asyncio.to_thread(self.store.delete, piece_id)
        s.pass_losses += 1
        s.total_losses += 1
        await self.flush_reports(force=True)

    async def _missing(self) -> None:
        """End of a pass: every piece the index holds whose file is gone is lost (``missing``)."""
        if self.store.index is None:
            return
        gone = await asyncio.to_thread(self._vanished)
        if not gone:
            return
        log.error("scrub: %d piece file(s) are gone from %s; telling the satellite", len(gone), self.store.blobs)
        for piece_id in gone:
            self.records.add_loss(piece_id, "missing", "the piece file is gone from the node's disk")
            self.store.index.discard(piece_id)
        s = self.state
        s.pass_losses += len(gone)
        s.total_losses += len(gone)
        await self.flush_reports(force=True)

    def _vanished(self, page: int = 1000) -> list[str]:
        index, gone, after = self.store.index, [], ""
        assert index is not None
        while ids := index.page(after, page):
            after = ids[-1]
            for piece_id in ids:
                if self.store.path(piece_id).exists():
                    continue
                # Trash and delete drop the row before they move the file: a row still there,
                # with the file in neither place, is a loss and not a deletion in progress.
                if index.contains(piece_id) and not self.store.trash_path(piece_id).exists() \
                        and not self.store.path(piece_id).exists():
                    gone.append(piece_id)
        return gone

    pace = False  # whether reads sleep to hold ``rate`` (``run`` turns it on; steps in tests do not)

    # --- reports --------------------------------------------------------------------------

    async def flush_reports(self, force: bool = False) -> int:
        """Send every undelivered loss to the satellite; how many it accepted."""
        pending = self.records.unreported()
        self.state.losses_unreported = len(pending)
        if not pending or (not force and time.monotonic() - self._last_report_try < self.config.report_retry):
            return 0
        self._last_report_try = time.monotonic()
        sent = 0
        for reason in sorted({r for _, r, _ in pending}):
            batch = [(p, d) for p, r, d in pending if r == reason]
            msg = PieceLossReport(
                node_id=self.identity.id,
                satellite_id=self.satellite_id,
                piece_ids=tuple(p for p, _ in batch),
                reason=reason,
                detail="; ".join(sorted({d for _, d in batch}))[:500],
                timestamp=now(),
            )
            body = Signed.sign(self.identity, msg).dumps()
            try:
                if self._session is None or self._session.closed:
                    self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
                async with self._session.post(
                    self.satellite_url + LOSSES_PATH, data=body, headers={"Content-Type": "application/json"}
                ) as resp:
                    answer = await resp.json(content_type=None)
                    if resp.status != 200:
                        raise RuntimeError(f"satellite answered {resp.status}: {answer.get('message', answer)}")
            except Exception as e:  # kept in the database and sent again later
                log.warning("scrub: could not report %d lost piece(s) to the satellite: %s", len(batch), e)
                continue
            self.records.mark_reported([p for p, _ in batch])
            sent += len(batch)
            if answer.get("warning"):
                log.warning("satellite: %s", answer["warning"])
        self.state.losses_unreported = len(self.records.unreported())
        self.records.save(self.state)
        return sent

    # --- the loop -------------------------------------------------------------------------

    def request_pass(self) -> None:
        """Begin a pass now (when the current one, if any, ends), without waiting out the period."""
        self._requested = True
        self._wake.set()

    async def _idle(self) -> None:
        left = self.state.pass_started + self.config.period - time.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), min(60.0, max(0.05, left)))
        self._wake.clear()

    async def run(self) -> None:
        if self.config.period <= 0:
            log.info("scrub is off (scrub_period = 0)")
            await asyncio.Event().wait()
        self.pace = True
        while True:
            await self.flush_reports()
            if not self.due(time.time()):
                await self._idle()
                continue
            try:
                step = await self.run_once()
            except Exception:
                log.exception("scrub step failed")
                step = ScrubStep.IDLE
            if step is ScrubStep.IDLE:
                await self._idle()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the node's JSON API ----------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "enabled": self.config.period > 0,
            "period": self.config.period,
            "max_rate": self.config.max_rate,
            "rate": self.rate,
            **self.state.to_json(),
        }

    def routes(self) -> list[web.RouteDef]:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response(self.status())

        return [web.get("/v1/scrub", handler)]
