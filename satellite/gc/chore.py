"""The retain-list chore: per node, a bloom filter of the pieces it should keep.

Deleting an object only deletes rows; its pieces stay on the nodes. So do pieces of
uploads that never committed (a gateway that uploads to more nodes than it needs, a
client that gave up), and pieces a repair or a graceful exit moved elsewhere. Instead of
telling nodes about each deletion (a message per piece, lost whenever a node is offline),
the satellite periodically sends every node a signed :class:`~common.messages.RetainList`:
a bloom filter of the piece ids it should keep, and a time ``created_before``. The node
trashes every piece that is *not* in the filter and was stored *before* that time, and
deletes the trash after a grace period (``storage_node/pieces/chores.py``). A bloom filter
has no false negatives, so a referenced piece is never trashed; its false positives (the
configured rate, 10% by default) only let a little garbage live until the next list.

**Choosing ``created_before``: the race with uploads.** A segment's pieces reach the
nodes before the satellite hears of them: begin-segment (time ``t0``) signs the orders and
a segment token that expires at ``t0 + segment_token_ttl``; the gateway uploads each piece
(the node stamps it ``created = t1 ≥ t0``); then commit (``t2``) writes the piece rows —
and is refused once the token has expired, so ``t2 < t0 + ttl``. The filter is built from
rows read at or after ``T``, the start of the node's turn. A piece missing from the filter
although it will be committed has ``t2 > T``, hence ``t0 > T − ttl`` and ``t1 > T − ttl``.
So ``created_before = T − ttl`` can never condemn such a piece. Repair and graceful exit
write pieces the same way (upload under a fresh order, then a metadata swap), so the margin
is ``max(segment_token_ttl, order_ttl)``: a swap must happen within ``order_ttl`` of
signing its upload order. The node stamps ``created`` with *its* clock, so the margin also
covers how far a node's clock may lag (``gc_clock_skew``; check-ins from a clock more
than 15 minutes off are refused). A piece uploaded and then abandoned is collected by the
first list built ``ttl`` after its upload.

The chore does one node per :meth:`RetainSender.run_once` (STYLE habit 4): the node whose
last list is oldest, once that is more than ``interval`` ago. It reads the node's piece
ids in batches of ``batch_size`` keyed on the pieces table's primary key, never the whole
table at once; a failed read sends nothing (a partial filter would condemn live pieces).
Only online nodes that are not disqualified get lists; an exited node gets an empty one,
which frees its disk of everything we placed there. What was sent, when, and how big is
recorded per node (``gc_retain_lists``). The node's answer carries, signed, the piece ids its
earlier passes trashed (:mod:`common.trash_report`); those the residency ledger removed from
metadata get ``gc`` entries there (``satellite/db/residency_ledger.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from common.bloom import BloomFilter
from common.errors import MessageError
from common.identity import Identity
from common.messages import RetainList, Signed
from common.trash_report import TrashReport
from satellite.config import SatelliteConfig

__all__ = ["GCConfig", "GCNode", "GCStore", "RetainRecord", "RetainReport", "RetainSender", "gc_config"]

log = logging.getLogger(__name__)

RETAIN_PATH = "/v1/retain"


@dataclass(frozen=True)
class GCConfig:
    interval: float  # seconds between two lists to one node
    false_positive_rate: float
    batch_size: int
    margin: int  # seconds subtracted from the start of a node's turn: see the module doc
    timeout: float
    online_window: float  # a node not heard from for this long gets no list

    def __post_init__(self) -> None:
        if not 0.0 < self.false_positive_rate < 1.0:
            raise ValueError("gc false_positive_rate must be between 0 and 1 (exclusive)")
        if self.batch_size <= 0 or self.interval <= 0 or self.margin < 0:
            raise ValueError("gc batch_size and interval must be positive and margin not negative")


@dataclass(frozen=True)
class GCNode:
    id: str
    address: str


@dataclass(frozen=True)
class RetainRecord:
    """One attempt to send a node its list, as stored."""

    node_id: str
    attempted_at: dt.datetime
    sent: bool
    created_before: dt.datetime
    piece_count: int
    filter_bytes: int
    error: str = ""


class GCStore(Protocol):
    async def due_nodes(self, attempted_before: dt.datetime, online_since: dt.datetime, limit: int) -> list[GCNode]:
        """Online, not disqualified nodes whose last attempt is older than given (never: first)."""
        ...

    async def piece_count(self, node_id: str) -> int: ...

    async def piece_ids(
        self, node_id: str, after: tuple[int, int] | None, limit: int
    ) -> Sequence[tuple[int, int, str]]:
        """``(segment_id, number, piece_id)`` of the node's pieces after ``after``, in key order."""
        ...

    async def record(self, record: RetainRecord) -> None: ...

    async def record_trashed(self, node_id: str, piece_ids: Sequence[str]) -> int:
        """The node says it trashed ``piece_ids``: the residency ledger's ``gc`` entries; how many."""
        ...


@dataclass(frozen=True)
class RetainReport:
    """What one step did (``None`` from :meth:`RetainSender.run_once` means nothing was due)."""

    node_id: str
    piece_count: int
    filter_bytes: int
    created_before: int
    sent: bool
    error: str = ""


class RetainSender:
    """Builds, signs and sends retain lists, one node per step."""

    def __init__(self, store: GCStore, identity: Identity, config: GCConfig) -> None:
        self.store = store
        self.identity = identity
        self.config = config
        self._session: aiohttp.ClientSession | None = None
        self.last: RetainReport | None = None

    async def build(self, node_id: str, created_before: int) -> tuple[Signed[RetainList], int]:
        """The signed list for ``node_id`` from its rows as they are now; and the piece count."""
        expected = await self.store.piece_count(node_id)
        # Size for a little growth while we read, so late rows do not raise the false-positive rate.
        bloom = BloomFilter.for_capacity(math.ceil(expected * 1.05) + 16, self.config.false_positive_rate)
        count, after = 0, None
        while batch := await self.store.piece_ids(node_id, after, self.config.batch_size):
            ids = [pid for _, _, pid in batch]
            await asyncio.to_thread(_add_all, bloom, ids)
            count += len(ids)
            after = batch[-1][0], batch[-1][1]
            if len(batch) < self.config.batch_size:
                break
        msg = RetainList(
            satellite_id=self.identity.id,
            node_id=node_id,
            created_before=created_before,
            hash_count=bloom.hash_count,
            bloom=bytes(bloom.bits),
            piece_count=count,
        )
        return Signed.sign(self.identity, msg), count

    async def run_once(self, now: float | None = None) -> RetainReport | None:
        """Send the most overdue node its list; ``now`` (unix seconds) lets a test move the clock."""
        t = time.time() if now is None else now
        at = dt.datetime.fromtimestamp(t, dt.UTC)
        due = await self.store.due_nodes(
            at - dt.timedelta(seconds=self.config.interval),
            at - dt.timedelta(seconds=self.config.online_window),
            1,
        )
        if not due:
            return None
        node = due[0]
        created_before = math.floor(t) - self.config.margin
        count = size = 0
        trashed: object = None
        try:
            signed, count = await self.build(node.id, created_before)
            size = len(signed.message.bloom)
            trashed = await self._send(node, signed)
        except Exception as exc:  # any failure: nothing (or nothing complete) reached the node
            error = f"{type(exc).__name__}: {exc}"[:255]
            log.warning("retain list for node %s not sent: %s", node.id[:16], error)
            report = RetainReport(node.id, count, size, created_before, False, error)
        else:
            log.info("retain list sent to node %s: %d pieces, %d bytes", node.id[:16], count, size)
            report = RetainReport(node.id, count, size, created_before, True)
        await self.store.record(
            RetainRecord(
                node_id=node.id,
                attempted_at=at,
                sent=report.sent,
                created_before=dt.datetime.fromtimestamp(created_before, dt.UTC),
                piece_count=count,
                filter_bytes=size,
                error=report.error,
            )
        )
        if report.sent:
            await self._trashed(node, trashed)
        self.last = report
        return report

    async def run_cycle(self, now: float | None = None) -> list[RetainReport]:
        """Steps until no node is due: every online node gets one list (tests, admin runs)."""
        reports = []
        while (r := await self.run_once(now)) is not None:
            reports.append(r)
        return reports

    async def _send(self, node: GCNode, signed: Signed[RetainList]) -> object:
        """Deliver the list; the node's signed trash report, if its answer has one."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout))
        url = node.address.rstrip("/") + RETAIN_PATH
        async with self._session.post(url, data=signed.dumps(), headers={"Content-Type": "application/json"}) as r:
            if r.status != 202:
                raise RuntimeError(f"node answered HTTP {r.status}: {(await r.text())[:200]}")
            try:
                answer = await r.json(content_type=None)
            except ValueError:  # delivered all the same; a node that says nothing more reports nothing
                answer = None
        return answer.get("trashed") if isinstance(answer, dict) else None

    async def _trashed(self, node: GCNode, signed: object) -> None:
        """Record what the node says its earlier passes trashed, if it signed it for us; a report
        that does not verify is logged and ignored (the list was still delivered)."""
        if signed is None:
            return
        try:
            report = Signed.from_json(signed, TrashReport).verify(node.id)
            if report.node_id != node.id or report.satellite_id != self.identity.id:
                raise MessageError("the report is addressed to another node or satellite")
        except MessageError as exc:  # SignatureError included
            log.warning("node %s sent a trash report that does not verify: %s", node.id[:16], exc)
            return
        try:
            recorded = await self.store.record_trashed(node.id, report.piece_ids)
        except Exception:  # the database: the list went out; these ids miss their gc entries
            log.exception("node %s's trash report not recorded", node.id[:16])
            return
        log.info("node %s trashed %d pieces, %d of them in the residency ledger", node.id[:16],
                 len(report.piece_ids), recorded)  # fmt: skip

    async def run(self) -> None:
        idle = min(self.config.interval, 60.0)
        while True:
            try:
                report = await self.run_once()
            except Exception:  # the database was unreachable: try again later, do not die
                log.exception("garbage collection step failed")
                report = None
            if report is None:
                await asyncio.sleep(idle)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _add_all(bloom: BloomFilter, piece_ids: list[str]) -> None:
    # The raw 32 bytes of each id, as ``common.retain`` defines and the node tests them.
    for pid in piece_ids:
        bloom.add(bytes.fromhex(pid))


def gc_config(config: SatelliteConfig) -> GCConfig:
    """The chore's settings from the satellite's config (the margin: see the module doc)."""
    return GCConfig(
        interval=config.gc_interval,
        false_positive_rate=config.gc_false_positive_rate,
        batch_size=config.gc_batch_size,
        margin=max(config.segment_token_ttl, config.order_ttl) + config.gc_clock_skew,
        timeout=config.gc_timeout,
        online_window=float(config.online_window),
    )
