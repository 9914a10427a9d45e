"""Background chores over the blob store: retain lists, TTL expiry and emptying the trash.

Each chore does one pass per :meth:`run_once` call and returns what it did, so tests step
it deterministically; ``run`` merely repeats passes at the configured interval.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from common.bloom import BloomFilter
from common.messages import RetainList
from common.retain import retains
from storage_node.nodedb import NodeDB
from storage_node.pieces.retain_progress import ProgressWriter, RetainProgress
from storage_node.pieces.store import PieceStore
from storage_node.pieces.trash_report import TrashedLog

__all__ = ["ExpiryChore", "RetainChore", "RetainOutcome", "TrashChore"]

log = logging.getLogger(__name__)


class ExpiryChore:
    """Deletes pieces whose TTL (``piece_expires`` of their upload order) has passed."""

    def __init__(self, store: PieceStore, db: NodeDB, interval: float) -> None:
        self.store, self.db, self.interval = store, db, interval

    def run_once(self, at: int | None = None) -> int:
        deleted = 0
        while batch := self.db.expirations.expired(at):
            for piece_id in batch:
                if self.store.delete(piece_id):
                    deleted += 1
                self.db.expirations.remove(piece_id)
        self.db.orders.prune(at)
        if deleted:
            log.info("deleted %d expired pieces", deleted)
        return deleted

    async def run(self) -> None:
        while True:
            self.run_once()
            await asyncio.sleep(self.interval)


class TrashChore:
    """Deletes pieces that have been in the trash longer than the grace period."""

    def __init__(self, store: PieceStore, grace: float, interval: float) -> None:
        self.store, self.grace, self.interval = store, grace, interval
        self.freed_bytes = 0  # trash bytes deleted so far (metrics)

    async def run_once(self) -> int:
        before = self.store.usage().trash
        removed = await asyncio.to_thread(self.store.empty_trash, time.time() - self.grace)
        if removed:
            # A retain list may trash more meanwhile: count only what went, never a negative.
            self.freed_bytes += max(0, before - self.store.usage().trash)
        if removed:
            log.info("emptied %d pieces from the trash", removed)
        return removed

    async def run(self) -> None:
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval)


@dataclass(frozen=True)
class RetainOutcome:
    kept: int
    trashed: int


class RetainChore:
    """Applies the latest retain list: pieces absent from its bloom filter go to the trash.

    Only pieces created before the list's ``created_before`` are considered: a piece
    uploaded while the satellite was building the filter is not in it, and must live.
    Lists arrive over HTTP and are queued; only the newest waiting list is applied,
    since it supersedes older ones. A pass reports its progress (``storage_node.pieces.retain_progress``).
    """

    def __init__(self, store: PieceStore) -> None:
        self.store = store
        self._pending: RetainList | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.last: RetainOutcome | None = None
        self.progress: RetainProgress | None = None  # the current or last pass (also on disk)
        self.trashed_total = 0  # pieces moved to the trash by every pass of this process (metrics)
        self.trashed = TrashedLog(store.root)  # what the next answer to a retain list reports

    def submit(self, retain: RetainList) -> None:
        self._pending = retain
        self._idle.clear()
        self._wake.set()

    def _apply(self, retain: RetainList) -> RetainOutcome:
        bloom = BloomFilter(retain.bloom, retain.hash_count)
        self.progress = RetainProgress(
            retain.created_before, retain.piece_count, self.store.usage().piece_count, time.time()
        )
        writer = ProgressWriter(self.store.root, self.progress)
        # Lazily: the pass is the long part, and its progress is pieces checked. Moving the
        # piece just read out of its directory does not disturb the directory scan.
        trashed: list[str] = []
        try:
            for piece_id, header in self.store.walk():
                if header.created >= retain.created_before or retains(bloom, piece_id):
                    writer.step(kept=True)
                elif self.store.trash(piece_id):
                    trashed.append(piece_id)
                    writer.step(trashed=True)
                    if len(trashed) >= 10_000:  # bounded memory on a node with much garbage
                        self.trashed.add(trashed)
                        trashed = []
                else:  # the piece went meanwhile (deleted, expired): neither kept nor trashed
                    writer.step(trashed=False)
        finally:
            self.trashed.add(trashed)
        writer.finish()
        self.trashed_total += self.progress.trashed
        return RetainOutcome(self.progress.kept, self.progress.trashed)

    async def run_once(self) -> RetainOutcome | None:
        retain, self._pending = self._pending, None
        if retain is None:
            self._idle.set()
            return None
        outcome = await asyncio.to_thread(self._apply, retain)
        self.last = outcome
        log.info(
            "retain list (created before %d, %d pieces): kept %d, moved %d to trash",
            retain.created_before, retain.piece_count, outcome.kept, outcome.trashed,
        )
        if self._pending is None:
            self._idle.set()
        return outcome

    async def wait_idle(self) -> None:
        """Return once every submitted list has been applied."""
        await self._idle.wait()

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.run_once()
