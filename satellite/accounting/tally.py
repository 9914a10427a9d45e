"""The tally: how many bytes each node in good standing holds, by the satellite's own metadata.

A tally is taken at one instant ``t`` and covers the interval since the previous tally
(``[previous t, t)``): every node gets ``bytes × interval`` byte-hours, weighed later into
whichever periods the interval overlaps. It never asks a node what it stores; it reads the
pieces table, one batch of segment ids per step, with one grouped query per batch
(``SUM(size) … GROUP BY node_id`` over nodes not disqualified, suspended or exited) and
one upsert per batch. The batch and the cursor are written in the same transaction, so a
satellite killed in the middle resumes the same tally at the same cursor, counting nothing
twice. :meth:`TallyChore.run_once` is one unit of work and says what it did.
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass

from satellite.db.accounting import AccountingRepository, TallyRun

__all__ = ["TallyChore", "TallyStep"]

log = logging.getLogger(__name__)


class TallyStep(enum.StrEnum):
    BUSY = "busy"  # a batch was counted; the tally goes on
    DONE = "done"  # a tally was finished by this step
    IDLE = "idle"  # the last tally is recent enough: nothing to do


@dataclass
class TallyState:
    tallies: int = 0
    last_tally_at: int | None = None
    last_tally_seconds: float = 0.0


class TallyChore:
    def __init__(self, repo: AccountingRepository, *, interval: float, batch: int) -> None:
        self.repo = repo
        self.interval = interval
        self.batch = batch
        self.state = TallyState()
        self._run: TallyRun | None = None
        self._started = 0.0
        self.next_due: float | None = None  # when the next tally is due, as far as the last step saw

    async def run_once(self, now: float | None = None) -> TallyStep:
        """One batch of the current tally, or begin one if the last is ``interval`` old."""
        t = int(time.time() if now is None else now)
        if self._run is None:
            self._run = await self.repo.running_tally()  # resume one a crashed process left
            if self._run is None:
                last = await self.repo.last_tally_end()
                if last is not None and t - last < self.interval:
                    self.next_due = last + self.interval
                    return TallyStep.IDLE
                self._run = await self.repo.begin_tally(t, int(self.interval))
                if self._run is None:  # another satellite finished one meanwhile
                    self.next_due = None
                    return TallyStep.IDLE
            self._started = time.monotonic()
        run = self._run
        if run.cursor < run.last_segment_id:
            self._run = await self.repo.tally_step(run, self.batch)
            if self._run.cursor < self._run.last_segment_id:
                return TallyStep.BUSY
        await self.repo.finish_tally(self._run)
        self.state.tallies += 1
        self.state.last_tally_at = self._run.interval_end
        self.next_due = self._run.interval_end + self.interval
        self.state.last_tally_seconds = time.monotonic() - self._started
        log.info(
            "tally %d done: %d segments in %.2fs, interval %ds",
            self._run.id,
            self._run.last_segment_id,
            self.state.last_tally_seconds,
            self._run.interval_end - self._run.interval_start,
        )
        self._run = None
        return TallyStep.DONE

    async def tally(self, now: float | None = None) -> None:
        """Finish the current tally or take a whole new one (tests and the bench step with this)."""
        while await self.run_once(now) is TallyStep.BUSY:
            pass
