"""The audit chore: draw pieces by bytes, challenge their nodes, record what they answer.

A *pass* reads the pieces table in keyset-paged batches into a weighted reservoir
(:mod:`satellite.audit.selection`), then audits the reservoir's pieces in groups: up to
``concurrency`` nodes at once, each asked for up to ``batch`` of its pieces in one request
(``AuditVerifier.audit_batch``) and never in two requests at once. Each call of :meth:`AuditChore.step` does one unit
of work — retry the contained challenges, read one batch, or audit one group — and says
which (STYLE habit 4), so tests step it instead of sleeping; :meth:`run` steps it forever,
resting ``interval`` seconds between passes.

**Pace.** Passes run back to back, so without a cap the audit rate is whatever the CPU
allows: on an idle devnet the chore audited as fast as the machine would let it, ten and more
audits a second, and faster still whenever other work stopped competing. ``max_rate``
(audits per second, 0 = no cap) makes coverage a setting instead of a side effect: after a
group of ``g`` audits :meth:`run` waits until ``g / max_rate`` seconds have passed since the
previous group was due, so a burst never exceeds the rate and an idle stretch earns no
credit.

**Batches.** One request per node per group, however many of its pieces the group holds:
the group's audits cost one challenge signature, one HTTP exchange and one proof check per
node, and one read and one write of the database in all. Coverage is unchanged: the same
pieces are drawn, each audited with its own leaf indexes and judged on its own, and
``max_rate`` paces audits, not requests. A batch that timed out keeps its first piece's
challenge as the node's pending audit (below) and leaves its other pieces to later passes,
as a contained node's pieces are; so a timeout counts once, not once per piece. So do a
refused connection (one *offline*) and a refused batch (one *unknown*): one failed exchange
is one observation of the node, whatever the batch's size.

**Containment.** A node that accepts the connection but does not answer in time may be
hiding a missing piece behind a slow disk, so a timeout is neither forgiven nor punished at
once: the challenge (same piece, same leaf indexes) is stored as the node's pending audit
and retried at the start of every pass. While it is pending the node gets no new pieces
and no other audits. An answer settles it (success or failure); ``max_misses`` timeouts of
the same challenge count as one failure. If the piece was deleted or repaired away
meanwhile, the pending audit is dropped unjudged.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from common.audit_batch import MAX_PIECES
from satellite.audit.selection import PieceRef, WeightedReservoir
from satellite.audit.verifier import AuditReport, AuditTarget, AuditVerifier, pick_leaves
from satellite.reputation import Decision, Outcome, ReputationState

__all__ = [
    "AuditChore",
    "AuditChoreState",
    "AuditDone",
    "AuditRecord",
    "AuditStore",
    "Containment",
    "PendingTarget",
    "StepKind",
]

log = logging.getLogger(__name__)

# Outcomes of a batch's exchange as a whole, counted once per batch (see _audit_group).
_EXCHANGE_OUTCOMES = frozenset({Outcome.CONTAINED, Outcome.OFFLINE, Outcome.UNKNOWN})


class Containment(StrEnum):
    """What an audit does to the node's pending (contained) challenge."""

    KEEP = "keep"  # leave it as it is (or absent)
    CONTAIN = "contain"  # a new timeout: store the challenge to retry
    MISS = "miss"  # the retried challenge timed out again
    RELEASE = "release"  # answered: delete it


@dataclass(frozen=True)
class PendingTarget:
    target: AuditTarget
    leaf_indexes: tuple[int, ...]
    misses: int


@dataclass(frozen=True)
class AuditRecord:
    """One outcome to store, with what it does to the node's containment."""

    target: AuditTarget
    outcome: Outcome
    reason: str
    containment: Containment = Containment.KEEP
    leaf_indexes: tuple[int, ...] = ()


class AuditStore(Protocol):
    """What the chore needs from the database (``satellite.db.audits.AuditRepository``)."""

    async def scan(self, after: tuple[int, int] | None, limit: int) -> list[PieceRef]: ...
    async def targets(self, refs: Sequence[PieceRef]) -> list[AuditTarget | None]: ...
    async def pending(self) -> list[PendingTarget]: ...
    async def still_stored(self, t: AuditTarget) -> bool: ...
    async def release(self, node_id: str) -> None: ...
    async def record_many(
        self, records: Sequence[AuditRecord], *, at: dt.datetime | None = ...
    ) -> list[tuple[ReputationState, Decision]]: ...


class StepKind(StrEnum):
    REVERIFIED = "reverified"  # retried the contained challenges (start of a pass)
    SCANNED = "scanned"  # read one batch of the pieces table
    AUDITED = "audited"  # audited one group of pieces
    IDLE = "idle"  # the pass is over (or there is nothing to audit): rest


@dataclass(frozen=True)
class AuditDone:
    target: AuditTarget
    outcome: Outcome  # as recorded (a third timeout is recorded as a failure)
    reason: str
    report: AuditReport
    decision: Decision
    state: ReputationState


@dataclass
class AuditChoreState:
    """What the chore has done, for the admin API and for tests."""

    passes: int = 0
    scanned: int = 0
    audited: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    last_step: StepKind = StepKind.IDLE
    last_error: str | None = None


class AuditChore:
    def __init__(
        self,
        store: AuditStore,
        verifier: AuditVerifier,
        *,
        leaves: int = 3,
        reservoir_size: int = 100,
        scan_batch: int = 5000,
        concurrency: int = 5,
        batch: int = 1,
        max_misses: int = 3,
        interval: float = 30.0,
        max_rate: float = 0.0,
        on_nodes_changed: Callable[[], None] = lambda: None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.leaves = leaves
        self.reservoir_size = reservoir_size
        self.scan_batch = scan_batch
        self.concurrency = max(1, concurrency)
        self.batch = max(1, min(batch, MAX_PIECES))
        self.max_misses = max_misses
        self.interval = interval
        self.max_rate = max_rate
        self.on_nodes_changed = on_nodes_changed
        self.rng = rng
        self.state = AuditChoreState()
        self.last: list[AuditDone] = []  # what the last step audited
        self._reservoir: WeightedReservoir | None = None
        self._cursor: tuple[int, int] | None = None
        self._queue: list[PieceRef] = []
        self._in_pass = False

    async def step(self) -> StepKind:
        self.last = []
        kind = await self._step()
        self.state.last_step = kind
        return kind

    async def _step(self) -> StepKind:
        if self._queue:
            await self._audit_group()
            return StepKind.AUDITED
        if self._reservoir is None and self._in_pass:  # the queue is drained: the pass is over
            self._in_pass = False
            return StepKind.IDLE
        if self._reservoir is None:  # a new pass: first settle the contained nodes
            self._in_pass = True
            self._reservoir = WeightedReservoir(self.reservoir_size, self.rng)
            self._cursor = None
            self.state.passes += 1
            pending = await self.store.pending()
            if pending:
                await self._gather([self._reverify(p) for p in pending])
                return StepKind.REVERIFIED
        batch = await self.store.scan(self._cursor, self.scan_batch)
        if batch:
            self._reservoir.extend(batch)
            self._cursor = (batch[-1].segment_id, batch[-1].number)
            self.state.scanned += len(batch)
            if len(batch) == self.scan_batch:
                return StepKind.SCANNED
        self._queue = self._reservoir.drain()
        self._reservoir = None
        if self._queue:
            return StepKind.SCANNED
        self._in_pass = False  # nothing to audit
        return StepKind.IDLE

    async def run_pass(self) -> list[AuditDone]:
        """Step until the current pass is over; everything it audited (for tests and tools)."""
        done: list[AuditDone] = []
        while await self.step() is not StepKind.IDLE:
            done.extend(self.last)
        return done

    async def _gather(self, coros: list) -> None:  # type: ignore[type-arg]
        for r in await asyncio.gather(*coros, return_exceptions=True):
            if isinstance(r, BaseException):
                self._failed(r)

    async def _audit_group(self) -> None:
        """Up to ``concurrency`` nodes at once, up to ``batch`` pieces each in one request; one
        read and one write of the database for the whole group."""
        group: dict[str, list[PieceRef]] = {}
        rest: list[PieceRef] = []
        for ref in self._queue:
            mine = group.get(ref.node_id)
            if mine is not None and len(mine) < self.batch:
                mine.append(ref)
            elif mine is None and len(group) < self.concurrency:
                group[ref.node_id] = [ref]
            else:
                rest.append(ref)
        self._queue = rest
        # None: deleted since the scan, or its node is contained / disqualified / gone.
        by_node: dict[str, list[AuditTarget]] = {}
        for t in await self.store.targets([r for refs in group.values() for r in refs]):
            if t is not None:
                by_node.setdefault(t.node_id, []).append(t)
        asked = [[pick_leaves(t.leaf_count, self.leaves) for t in ts] for ts in by_node.values()]
        answers = await asyncio.gather(
            *(self.verifier.audit_batch(ts, a) for ts, a in zip(by_node.values(), asked, strict=True)),
            return_exceptions=True,
        )
        done: list[tuple[AuditRecord, AuditReport]] = []
        for ts, reports in zip(by_node.values(), answers, strict=True):
            if isinstance(reports, BaseException):
                self._failed(reports)
                continue
            if (
                len(reports) > 1
                and reports[0].outcome in _EXCHANGE_OUTCOMES
                and all(r.outcome is reports[0].outcome for r in reports)
            ):
                # One exchange that failed as a whole (a timeout, no connection, a refusal) is one
                # observation of the node, not one per piece: a transient 503 to a batch of 16
                # must not weigh as 16 unknowns, nor one refused connection as 16 offline audits.
                # The other pieces stay unaudited and are drawn again.
                ts, reports = ts[:1], reports[:1]
            for t, report in zip(ts, reports, strict=True):
                how = Containment.CONTAIN if report.outcome is Outcome.CONTAINED else Containment.KEEP
                done.append((AuditRecord(t, report.outcome, report.reason, how, report.leaf_indexes), report))
        await self._record(done)

    def _failed(self, error: BaseException) -> None:
        self.state.last_error = f"{type(error).__name__}: {error}"
        log.error("audit failed to run: %s", self.state.last_error, exc_info=error)

    async def _reverify(self, p: PendingTarget) -> None:
        t = p.target
        if not await self.store.still_stored(t):
            await self.store.release(t.node_id)
            self.on_nodes_changed()
            return
        report = await self.verifier.audit(t, p.leaf_indexes)
        outcome, reason, how = report.outcome, report.reason, Containment.KEEP
        if outcome in (Outcome.SUCCESS, Outcome.FAILURE):
            how = Containment.RELEASE
        elif outcome is Outcome.CONTAINED:
            misses = p.misses + 1
            if misses >= self.max_misses:
                outcome, how = Outcome.FAILURE, Containment.RELEASE
                reason = f"the same challenge timed out {misses} times in a row (last: {report.reason})"
            else:
                how = Containment.MISS
                reason = f"contained: retried challenge timed out again ({misses} of {self.max_misses})"
        await self._record([(AuditRecord(t, outcome, reason, how, report.leaf_indexes), report)])

    async def _record(self, done: list[tuple[AuditRecord, AuditReport]]) -> None:
        if not done:
            return
        results = await self.store.record_many([rec for rec, _ in done])
        changed = False
        for (rec, report), (state, decision) in zip(done, results, strict=True):
            t = rec.target
            self.state.audited += 1
            self.state.outcomes[rec.outcome.value] += 1
            if decision.disqualified:
                log.warning("node %s disqualified: %s", t.node_id[:16], state.disqualification_reason)
            elif decision.suspended:
                log.warning("node %s suspended: %s", t.node_id[:16], state.suspension_reason)
            # Placement reads contained / vetted / suspended / disqualified.
            changed |= rec.containment in (Containment.CONTAIN, Containment.RELEASE) or decision != Decision()
            self.last.append(AuditDone(t, rec.outcome, rec.reason, report, decision, state))
        if changed:
            self.on_nodes_changed()

    def pace(self, audited: int, due: float, now: float) -> float:
        """When the next group is due, given that this one (``audited`` audits) was due at ``due``."""
        if self.max_rate <= 0 or audited <= 0:
            return now
        return max(due, now - audited / self.max_rate) + audited / self.max_rate

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            try:
                kind = await self.step()
            except Exception as e:  # a database hiccup must not end auditing for good
                self.state.last_error = f"{type(e).__name__}: {e}"
                log.exception("audit chore step failed")
                kind = StepKind.IDLE
            if kind is StepKind.IDLE:
                await asyncio.sleep(self.interval)
                due = loop.time()
            elif kind in (StepKind.AUDITED, StepKind.REVERIFIED):
                due = self.pace(len(self.last), due, loop.time())
                await asyncio.sleep(max(0.0, due - loop.time()))

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.verifier.close()
