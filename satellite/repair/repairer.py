"""The repairer: takes one queued segment, rebuilds its missing pieces on compliant nodes.

For a job it reloads the segment and judges it again with the checker's rule
(:mod:`satellite.repair.health`) — the queue row may be stale — then:

1. **Download** ``k`` whole pieces with ``REPAIR_GET`` orders signed by the satellite,
   healthy pieces first, then pieces on out-of-policy, exiting, disqualified and offline
   nodes (their bytes are as good if they still serve them). Every piece is proven against
   its stored Merkle root by the piece client; a piece that fails is recorded as a bad piece
   report, dropped from the segment, and the next source is asked.
2. **Rebuild** on ciphertext (:func:`erasure.rebuild_pieces`): the repairer never sees a
   key. Pieces are deterministic given the ciphertext, so every piece number the segment
   stores is rebuilt and compared with its stored root; any difference means the inputs
   or metadata are corrupt and the job fails loudly, changing nothing.
3. **Place** ``success − kept`` new pieces with the same placement code as uploads
   (:func:`satellite.nodeselection.select_nodes`), excluding every node that holds a piece of
   the segment and the /24s of the pieces kept, counting their countries towards the
   policy's minimum. Pieces kept are the healthy ones; all others (out of policy, on
   disqualified, exiting, offline or unknown nodes, or corrupt) are dropped from metadata
   and left to garbage collection. If fewer nodes are available than needed, the repair
   still goes ahead when the segment ends with at least ``min(success, repair + 1)``
   healthy pieces — never fewer than that, so a migration cannot thin a segment out.
4. **Upload** with ``REPAIR_PUT`` orders; the piece client verifies each node's signed
   receipt names the rebuilt root.
5. **Swap** metadata in one transaction, only if the segment's pieces are still those
   read in step 1 (:meth:`RepairQueue.swap`); the job row goes in the same transaction.

A crash anywhere before the swap leaves the segment as it was and the job claimed; the
claim times out and another worker (or this one after a restart) repairs it again. Pieces
uploaded by the crashed attempt are not in metadata, so nothing is counted twice.

A segment whose scheme differs from its bucket's current policy keeps its own scheme:
changing ``k`` would change the stripe and encryption block sizes, i.e. re-encrypt, and the
satellite holds no keys. Only the location of its pieces migrates (docs/durability.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from common.messages import Action
from common.piece_client import BadShare, PieceClient, PieceSource, PieceTarget, PieceTransferError, UploadedPiece
from erasure import SegmentLayout, piece_root, rebuild_pieces
from satellite.db.residency_ledger import LedgerEvent
from satellite.nodeselection import NodeCandidate, PlacementError, PlacementPolicy, SelectionConfig, select_nodes
from satellite.orders import OrderSigner, fresh_piece_id
from satellite.residency import MetadataLocation

from .checker import NodeSnapshot
from .health import EVENT_REASONS, PieceState, RepairReason, SegmentHealth, segment_health
from .inline import InlineMigrationError, InlineMigrator, InlineStore
from .queue import ClaimedJob, QueueEntry, RepairQueue, StoredPiece, StoredSegment
from .renewal import Renewals

__all__ = [
    "UPLOAD_ROUNDS",
    "RepairError",
    "RepairIntegrityError",
    "RepairOutcome",
    "RepairResult",
    "RepairShortage",
    "Repairer",
]

log = logging.getLogger(__name__)

Buffer = bytes | bytearray | memoryview

UPLOAD_ROUNDS = 3  # placements tried for a piece whose upload failed

# Download order after the healthy pieces: the likeliest to still serve their bytes first.
_SOURCE_ORDER = {
    PieceState.HEALTHY: 0,
    PieceState.OUT_OF_POLICY: 1,
    PieceState.EXITING: 2,
    PieceState.DISQUALIFIED: 3,
    PieceState.OFFLINE: 4,
}

# Which numbers a new piece takes first when every free number is used: worthless pieces',
# then those that still hold bytes somewhere, the likeliest to come back last.
_REPLACE_ORDER = {
    PieceState.UNKNOWN_NODE: 0,
    PieceState.DISQUALIFIED: 0,
    PieceState.OUT_OF_POLICY: 1,
    PieceState.EXITING: 2,
    PieceState.OFFLINE: 3,
}


class RepairError(Exception):
    """A repair attempt failed; the segment is unchanged and the job will be retried."""


class RepairIntegrityError(RepairError):
    """Rebuilt pieces disagree with stored Merkle roots: corrupt inputs or metadata."""


class RepairShortage(RepairError):
    """Not one new piece could be placed: too few eligible nodes (retried after ``short_retry``)."""


class RepairOutcome(StrEnum):
    REPAIRED = "repaired"
    NOT_NEEDED = "not_needed"  # healthy again (a node came back) by the time a worker looked
    GONE = "gone"  # the object was deleted or overwritten
    CHANGED = "changed"  # the pieces changed between download and swap: another writer won
    PARTIAL = "partial"  # improved, but fewer than success pieces for lack of nodes: requeued
    FAILED = "failed"


@dataclass
class RepairResult:
    segment_id: int
    outcome: RepairOutcome
    uploaded: list[int] = field(default_factory=list)  # piece numbers placed
    removed: list[int] = field(default_factory=list)  # piece numbers dropped from metadata
    corrupt: list[int] = field(default_factory=list)  # pieces that failed verification
    bytes_downloaded: int = 0
    bytes_uploaded: int = 0
    segment_bytes: int = 0  # encrypted size of the segment
    failures: list[str] = field(default_factory=list)  # transfers that failed
    error: str = ""
    eligible: int = 0  # nodes placement offered for new pieces in the first round
    short_reason: str = ""  # why placement offered fewer nodes than pieces were needed


@dataclass
class RepairerState:
    """What the repairer reports (STYLE habit 4)."""

    jobs: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    segment_bytes: int = 0
    last_error: str = ""
    short: int = 0  # attempts that could place no piece at all for lack of nodes


class Repairer:
    """One worker's view of the queue; several may run, in one process or in many."""

    def __init__(
        self,
        queue: RepairQueue,
        nodes: NodeSnapshot,
        signer: OrderSigner,
        client: PieceClient,
        *,
        selection: SelectionConfig,
        claim_timeout: float,
        job_timeout: float = 45 * 60.0,
        short_retry: float = 300.0,
        worker_id: str | None = None,
        rng: random.Random | None = None,
        before_swap: Callable[[StoredSegment, list[UploadedPiece]], Awaitable[None]] | None = None,
        metadata: MetadataLocation | None = None,
        renewals: Renewals | None = None,
    ) -> None:
        self.renewals = renewals or Renewals(queue.db)  # piece TTLs to renew: every piece is replaced
        self.queue = queue
        self.nodes = nodes
        self.signer = signer
        self.client = client
        self.selection = selection
        self.claim_timeout = claim_timeout
        self.job_timeout = job_timeout
        self.short_retry = short_retry
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"
        self.rng = rng or random.Random()
        # A test seam: called after the uploads, before the metadata swap (crash tests).
        self.before_swap = before_swap
        self.state = RepairerState()
        self.inline = InlineMigrator(
            InlineStore(queue.db), signer, client, selection, metadata or MetadataLocation(), self.rng
        )

    async def run_once(self, now: float | None = None) -> RepairResult | None:
        """Claim and repair one job; ``None`` when the queue has nothing to claim."""
        t = dt.datetime.fromtimestamp(time.time() if now is None else now, dt.UTC)
        job = await self.queue.claim(self.worker_id, t, self.claim_timeout)
        if job is None:
            return None
        result = await self.repair(job)
        self.state.jobs += 1
        self.state.by_outcome[result.outcome] = self.state.by_outcome.get(result.outcome, 0) + 1
        if result.outcome is RepairOutcome.REPAIRED:
            self.state.segment_bytes += result.segment_bytes
        return result

    async def repair(self, job: ClaimedJob) -> RepairResult:
        try:
            try:
                async with asyncio.timeout(self.job_timeout):
                    return await self._repair(job)
            except TimeoutError:
                raise RepairError(f"repair took longer than {self.job_timeout:g}s") from None
        except RepairError as exc:
            retry: dt.datetime | None = None
            if isinstance(exc, RepairIntegrityError):
                log.error("repair of segment %d: %s", job.segment_id, exc)
            elif isinstance(exc, RepairShortage):
                self.state.short += 1
                retry = self._short_retry_at()
                log.warning("repair of segment %d: capacity short: %s", job.segment_id, exc)
            else:
                log.warning("repair of segment %d failed: %s", job.segment_id, exc)
            self.state.last_error = str(exc)
            await self.queue.fail(job.segment_id, self.worker_id, str(exc), dt.datetime.now(dt.UTC), claimed_at=retry)
            return RepairResult(job.segment_id, RepairOutcome.FAILED, error=str(exc))
        except Exception as exc:
            log.exception("repair of segment %d crashed", job.segment_id)
            self.state.last_error = f"{type(exc).__name__}: {exc}"
            await self.queue.fail(job.segment_id, self.worker_id, self.state.last_error, dt.datetime.now(dt.UTC))
            return RepairResult(job.segment_id, RepairOutcome.FAILED, error=self.state.last_error)

    def _short_retry_at(self) -> dt.datetime:
        """The claim time that makes a short segment claimable again after ``short_retry``."""
        return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=max(0.0, self.claim_timeout - self.short_retry))

    async def _migrate_inline(self, job: ClaimedJob) -> RepairResult:
        """Move an inline segment out of the satellite's database into pieces (repair/inline.py)."""
        seg = await self.inline.store.load(job.segment_id)
        policy = (await self.queue.policies()).get(seg.policy_id) if seg is not None else None
        try:
            outcome, landed = await self.inline.migrate(
                job.segment_id, policy, await self.nodes.candidates(), self.worker_id
            )
        except PlacementError as exc:
            raise RepairShortage(f"inline segment: no placement ({exc})") from None
        except InlineMigrationError as exc:
            raise RepairError(str(exc)) from None
        if outcome != "migrated":
            await self.queue.finish(job.segment_id, self.worker_id)
        result_outcome = {
            "migrated": RepairOutcome.REPAIRED,
            "changed": RepairOutcome.CHANGED,
            "not_needed": RepairOutcome.NOT_NEEDED,
        }.get(outcome, RepairOutcome.GONE)
        result = RepairResult(job.segment_id, result_outcome, uploaded=sorted(p.piece_num for p in landed))
        result.bytes_uploaded = sum(p.size for p in landed)
        return result

    async def _repair(self, job: ClaimedJob) -> RepairResult:
        if job.reason == RepairReason.INLINE.value:
            return await self._migrate_inline(job)
        seg = await self.queue.load_segment(job.segment_id)
        if seg is None:
            await self.queue.finish(job.segment_id, self.worker_id)
            await self.queue.clear_shortfalls([job.segment_id])
            return RepairResult(job.segment_id, RepairOutcome.GONE)
        policies = await self.queue.policies()
        policy = policies[seg.policy_id]
        snapshot = await self.nodes.candidates()
        nodes = {n.id: n for n in snapshot}
        now = time.time()
        health = segment_health(
            [(p.number, p.node_id) for p in seg.pieces],
            nodes,
            policy,
            k=seg.k,
            repair_threshold=seg.repair_threshold,
            now=now,
            online_window=self.selection.online_window,
        )
        target = min(seg.success_threshold, seg.total)
        # A report or a short repair queued it: act while it is below success, even above
        # the repair threshold (the checker's rule alone would let it wait).
        event = job.reason in EVENT_REASONS and len(health.healthy) < target
        # Pieces whose TTL ends before their object expires: all are replaced, without a TTL.
        renew = seg.id in await self.renewals.needing([seg.id], now)
        if health.reason is None and not event and not renew:
            await self.queue.finish(job.segment_id, self.worker_id)
            await self.queue.clear_shortfalls([job.segment_id])
            return RepairResult(job.segment_id, RepairOutcome.NOT_NEEDED)
        result = RepairResult(job.segment_id, RepairOutcome.REPAIRED, segment_bytes=seg.encrypted_size)
        layout = SegmentLayout.from_dict(seg.layout)

        uploaded: list[UploadedPiece] = []
        keep = [] if renew else [p for p in seg.pieces if health.states[p.number] is PieceState.HEALTHY]
        # A renewal replaces every piece, so a node holding one may take a new one (under a fresh
        # piece id): the swap drops all the old ones, and a small network can still renew.
        holders = set() if renew else {p.node_id for p in seg.pieces}
        if len(keep) < target:  # else only pieces out of policy go: no data moves
            # No eligible node at all: say so before downloading k pieces for nothing.
            probe, why = self._place(policy, snapshot, [nodes[p.node_id] for p in keep], holders, 1, now)
            if not probe:
                result.short_reason = why
                await self._note_short(seg, policy, len(keep), target, result)
                raise RepairShortage(f"no eligible node for a new piece ({why}); {len(keep)} healthy of {target}")
            got = await self._download(seg, layout, health, nodes, result)
            keep = [p for p in keep if p.number not in result.corrupt]
            numbers = self._numbers(seg, health, keep, result.corrupt)[: target - len(keep)]
            rebuilt, roots = await asyncio.to_thread(self._rebuild, seg, layout, got, numbers)
            kept_nodes = [nodes[p.node_id] for p in keep]
            uploaded = await self._place_and_upload(
                seg, layout, policy, snapshot, kept_nodes, numbers, rebuilt, roots, result, now, holders
            )
            if not uploaded:
                if not result.short_reason:
                    raise RepairError(
                        f"every upload failed; {len(keep)} healthy of {target} wanted, segment left as it was"
                        + (f" ({'; '.join(result.failures[:4])})" if result.failures else "")
                    )
                await self._note_short(seg, policy, len(keep), target, result)
                raise RepairShortage(
                    f"no new piece could be placed ({result.short_reason or 'every upload failed'}); "
                    f"{len(keep)} healthy of {target} wanted, segment left as it was"
                    + (f" ({'; '.join(result.failures[:4])})" if result.failures else "")
                )
        achieved = len(keep) + len(uploaded)
        new_numbers = {u.piece_num for u in uploaded}
        taken = {p.number for p in keep}
        if achieved >= target:  # whole again: every unhealthy piece goes
            remove = set(health.states) - taken
        else:
            # Best effort: a piece that still holds data (offline, exiting, out of policy) is
            # only given up when its number carries a new piece; worthless ones go now.
            worthless = {PieceState.UNKNOWN_NODE, PieceState.DISQUALIFIED}
            remove = new_numbers | set(result.corrupt) | {n for n, st in health.states.items() if st in worthless}
            remove &= set(health.states)
        if self.before_swap is not None:
            await self.before_swap(seg, uploaded)
        result.removed = sorted(remove - new_numbers)
        ok = await self.queue.swap(
            seg.id,
            [p.key for p in seg.pieces],
            remove,
            [StoredPiece(u.piece_num, u.node_id, u.piece_id, u.root, u.size) for u in uploaded],
            worker=self.worker_id,
            # The ledger says why pieces moved: a migration when pieces were out of policy.
            event=LedgerEvent.MIGRATION if health.out_of_policy else LedgerEvent.REPAIR,
            renewed=renew and achieved >= target,
        )
        result.uploaded = sorted(new_numbers)
        if not ok:
            result.outcome = RepairOutcome.CHANGED
        elif achieved >= target:
            await self.queue.clear_shortfalls([seg.id])
        else:
            result.outcome = RepairOutcome.PARTIAL
            if result.short_reason:  # else uploads failed: a retry, not a shortage
                await self._note_short(seg, policy, achieved, target, result)
            t = dt.datetime.now(dt.UTC)
            entry = QueueEntry(seg.id, achieved, achieved - seg.k, RepairReason.SHORT.value)
            await self.queue.requeue(entry, t, claimed_at=self._short_retry_at())
        return result

    async def _note_short(
        self, seg: StoredSegment, policy: PlacementPolicy, healthy: int, target: int, result: RepairResult
    ) -> None:
        """Record (and log) that ``seg`` stays ``target − healthy`` pieces short for lack of nodes."""
        log.warning(
            "repair capacity short: segment %d of policy %r has %d of %d healthy pieces; %d eligible node(s) "
            "took new pieces, %d more needed: %s",
            seg.id, policy.name, healthy, target, result.eligible, target - healthy, result.short_reason,
        )  # fmt: skip
        await self.queue.record_shortfall(
            seg, healthy, target, result.eligible, result.short_reason, dt.datetime.now(dt.UTC)
        )

    @staticmethod
    def _numbers(
        seg: StoredSegment, health: SegmentHealth, keep: list[StoredPiece], corrupt: Sequence[int]
    ) -> list[int]:
        """Piece numbers for new pieces, best first: free numbers, then those of worthless
        pieces (corrupt, unknown or disqualified node), and only then those of pieces that
        still hold data somewhere (out of policy, exiting, offline)."""
        taken = {p.number for p in keep}

        def rank(num: int) -> tuple[int, int]:
            if num in corrupt:
                return (1, num)
            state = health.states.get(num)
            return (0 if state is None else 1 + _REPLACE_ORDER.get(state, 0), num)

        return sorted((num for num in range(seg.total) if num not in taken), key=rank)

    # --- steps ---------------------------------------------------------------------------

    async def _download(
        self,
        seg: StoredSegment,
        layout: SegmentLayout,
        health: SegmentHealth,
        nodes: dict[str, NodeCandidate],
        result: RepairResult,
    ) -> dict[int, Buffer]:
        """``k`` verified whole pieces, keeping ``k`` downloads in flight until enough land."""
        order = sorted(
            (p for p in seg.pieces if p.node_id in nodes),
            key=lambda p: (_SOURCE_ORDER.get(health.states[p.number], 9), p.number),
        )
        waiting = list(order)
        running: dict[asyncio.Task[bytes], StoredPiece] = {}
        got: dict[int, Buffer] = {}
        failures: list[str] = []

        def start_next() -> None:
            p = waiting.pop(0)
            order_limit = self.signer.order_limit(p.node_id, p.piece_id, Action.REPAIR_GET, layout.piece_size)
            src = PieceSource(p.number, p.node_id, nodes[p.node_id].address, order_limit, p.root)
            running[asyncio.ensure_future(self.client.download(src, layout, 0, layout.stripes))] = p

        try:
            while len(got) < seg.k:
                while waiting and len(running) + len(got) < seg.k:
                    start_next()
                if not running:
                    raise RepairError(
                        f"only {len(got)} of the {seg.k} pieces needed could be read"
                        + (f": {'; '.join(failures[:4])}" if failures else "")
                    )
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    p = running.pop(task)
                    exc = task.exception()
                    if exc is None:
                        got[p.number] = task.result()
                        result.bytes_downloaded += layout.piece_size
                    elif isinstance(exc, PieceTransferError):
                        failures.append(str(exc))
                        result.failures.append(str(exc))
                        if isinstance(exc, BadShare):
                            result.corrupt.append(p.number)
                            await self.queue.report_bad_piece(p.node_id, p.piece_id, seg.id, p.number, exc.detail)
                    else:
                        raise exc
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
        return dict(sorted(got.items())[: seg.k])

    @staticmethod
    def _rebuild(
        seg: StoredSegment, layout: SegmentLayout, got: dict[int, Buffer], numbers: Sequence[int]
    ) -> tuple[dict[int, Buffer], dict[int, bytes]]:
        """Pieces ``numbers`` and their roots. Every stored number is rebuilt too, and checked
        against its stored root: the rebuild is only trusted if the whole segment agrees."""
        stored = {p.number: p.root for p in seg.pieces}
        wanted = sorted(set(numbers) | set(stored))
        rebuilt = rebuild_pieces(layout, got, wanted)
        roots = {num: piece_root(rebuilt[num], layout.share_size) for num in wanted}
        wrong = [num for num in sorted(stored) if roots[num] != stored[num]]
        if wrong:
            raise RepairIntegrityError(
                f"segment {seg.id}: pieces {wrong} rebuilt from {sorted(got)} differ from their stored "
                "Merkle roots (corrupt pieces or metadata); nothing changed"
            )
        return {num: rebuilt[num] for num in numbers}, {num: roots[num] for num in numbers}

    async def _place_and_upload(
        self,
        seg: StoredSegment,
        layout: SegmentLayout,
        policy: PlacementPolicy,
        snapshot: list[NodeCandidate],
        kept: list[NodeCandidate],
        numbers: list[int],
        rebuilt: dict[int, Buffer],
        roots: dict[int, bytes],
        result: RepairResult,
        now: float,
        holders: set[str],
    ) -> list[UploadedPiece]:
        """Upload pieces ``numbers`` to as many new nodes as placement allows (best effort:
        one eligible node gets one piece); pieces whose upload fails go to other nodes, for
        up to :data:`UPLOAD_ROUNDS` rounds. A node that refuses (e.g. it still holds the
        same piece from a cancelled upload or a crashed repair: same node, number and root
        piece id give the same piece id) is not asked again."""
        by_id = {n.id: n for n in snapshot}
        tried = set(holders)  # nodes not to ask (those holding a piece of the segment, but for a renewal)
        landed: list[UploadedPiece] = []
        todo = list(numbers)
        for round_ in range(UPLOAD_ROUNDS):
            placed = kept + [by_id[u.node_id] for u in landed]
            chosen, why = self._place(policy, snapshot, placed, tried, len(todo), now)
            if round_ == 0:
                result.eligible = len(chosen)
            if len(chosen) < len(todo):
                result.short_reason = why
            if not chosen:
                break
            tried |= {n.id for n in chosen}
            landed += await self._upload(seg, layout, chosen, todo, rebuilt, roots, result)
            done = {u.piece_num for u in landed}
            todo = [num for num in todo if num not in done]
            if not todo:
                break
        return landed

    def _place(
        self,
        policy: PlacementPolicy,
        snapshot: list[NodeCandidate],
        placed: list[NodeCandidate],
        exclude: set[str],
        need: int,
        now: float,
    ) -> tuple[list[NodeCandidate], str]:
        """``need`` new nodes, or as many as placement allows (maybe none), and why not more."""
        last: PlacementError | None = None
        for count in range(need, 0, -1):
            try:
                chosen = select_nodes(
                    snapshot,
                    policy,
                    count,
                    exclude_node_ids=exclude,
                    exclude_nets={n.net for n in placed},
                    existing_countries={n.country for n in placed},
                    now=now,
                    config=self.selection,
                    rng=self.rng,
                )
                return chosen, (f"no placement for {need} new pieces: {last}" if last else "")
            except PlacementError as exc:
                last = exc
        return [], f"no placement for {need} new pieces: {last}"

    async def _upload(
        self,
        seg: StoredSegment,
        layout: SegmentLayout,
        chosen: list[NodeCandidate],
        numbers: list[int],
        rebuilt: dict[int, Buffer],
        roots: dict[int, bytes],
        result: RepairResult,
    ) -> list[UploadedPiece]:
        async def one(num: int, node: NodeCandidate) -> UploadedPiece:
            piece_id = fresh_piece_id()
            order = self.signer.order_limit(node.id, piece_id, Action.REPAIR_PUT, layout.piece_size)
            target = PieceTarget(num, node.id, node.address, order)
            return await self.client.upload(target, rebuilt[num], layout.share_size, roots[num])

        outcomes = await asyncio.gather(
            *(one(num, node) for num, node in zip(numbers, chosen, strict=False)), return_exceptions=True
        )
        landed: list[UploadedPiece] = []
        for out in outcomes:
            if isinstance(out, UploadedPiece):
                landed.append(out)
                result.bytes_uploaded += out.size
            elif isinstance(out, PieceTransferError):
                log.warning("repair of segment %d: upload failed: %s", seg.id, out)
                result.failures.append(str(out))
            else:
                raise out
        return landed
