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
from satellite.nodeselection import NodeCandidate, PlacementError, PlacementPolicy, SelectionConfig, select_nodes
from satellite.orders import OrderSigner, fresh_piece_id

from .checker import NodeSnapshot
from .health import PieceState, SegmentHealth, segment_health
from .queue import ClaimedJob, RepairQueue, StoredPiece, StoredSegment

__all__ = ["UPLOAD_ROUNDS", "RepairError", "RepairIntegrityError", "RepairOutcome", "RepairResult", "Repairer"]

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


class RepairError(Exception):
    """A repair attempt failed; the segment is unchanged and the job will be retried."""


class RepairIntegrityError(RepairError):
    """Rebuilt pieces disagree with stored Merkle roots: corrupt inputs or metadata."""


class RepairOutcome(StrEnum):
    REPAIRED = "repaired"
    NOT_NEEDED = "not_needed"  # healthy again (a node came back) by the time a worker looked
    GONE = "gone"  # the object was deleted or overwritten
    CHANGED = "changed"  # the pieces changed between download and swap: another writer won
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


@dataclass
class RepairerState:
    """What the repairer reports (STYLE habit 4)."""

    jobs: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    segment_bytes: int = 0
    last_error: str = ""


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
        worker_id: str | None = None,
        rng: random.Random | None = None,
        before_swap: Callable[[StoredSegment, list[UploadedPiece]], Awaitable[None]] | None = None,
    ) -> None:
        self.queue = queue
        self.nodes = nodes
        self.signer = signer
        self.client = client
        self.selection = selection
        self.claim_timeout = claim_timeout
        self.job_timeout = job_timeout
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"
        self.rng = rng or random.Random()
        # A test seam: called after the uploads, before the metadata swap (crash tests).
        self.before_swap = before_swap
        self.state = RepairerState()

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
            if isinstance(exc, RepairIntegrityError):
                log.error("repair of segment %d: %s", job.segment_id, exc)
            else:
                log.warning("repair of segment %d failed: %s", job.segment_id, exc)
            self.state.last_error = str(exc)
            await self.queue.fail(job.segment_id, self.worker_id, str(exc), dt.datetime.now(dt.UTC))
            return RepairResult(job.segment_id, RepairOutcome.FAILED, error=str(exc))
        except Exception as exc:
            log.exception("repair of segment %d crashed", job.segment_id)
            self.state.last_error = f"{type(exc).__name__}: {exc}"
            await self.queue.fail(job.segment_id, self.worker_id, self.state.last_error, dt.datetime.now(dt.UTC))
            return RepairResult(job.segment_id, RepairOutcome.FAILED, error=self.state.last_error)

    async def _repair(self, job: ClaimedJob) -> RepairResult:
        seg = await self.queue.load_segment(job.segment_id)
        if seg is None:
            await self.queue.finish(job.segment_id, self.worker_id)
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
        if health.reason is None:
            await self.queue.finish(job.segment_id, self.worker_id)
            return RepairResult(job.segment_id, RepairOutcome.NOT_NEEDED)
        result = RepairResult(job.segment_id, RepairOutcome.REPAIRED, segment_bytes=seg.encrypted_size)
        layout = SegmentLayout.from_dict(seg.layout)

        target = min(seg.success_threshold, seg.total)
        minimum = min(target, seg.repair_threshold + 1)
        uploaded: list[UploadedPiece] = []
        keep = [p for p in seg.pieces if health.states[p.number] is PieceState.HEALTHY]
        if len(keep) < target:  # else only pieces out of policy go: no data moves
            got = await self._download(seg, layout, health, nodes, result)
            keep = [p for p in keep if p.number not in result.corrupt]
            taken = {p.number for p in keep}
            numbers = [num for num in range(seg.total) if num not in taken][: target - len(keep)]
            rebuilt, roots = await asyncio.to_thread(self._rebuild, seg, layout, got, numbers)
            kept_nodes = [nodes[p.node_id] for p in keep]
            uploaded = await self._place_and_upload(
                seg, layout, policy, snapshot, kept_nodes, numbers, minimum - len(keep), rebuilt, roots, result, now
            )
        taken = {p.number for p in keep}
        if len(keep) + len(uploaded) < minimum:
            raise RepairError(
                f"only {len(keep) + len(uploaded)} healthy pieces would remain, need at least {minimum}; "
                "segment left as it was" + (f" ({'; '.join(result.failures[:4])})" if result.failures else "")
            )
        if self.before_swap is not None:
            await self.before_swap(seg, uploaded)
        new_numbers = {u.piece_num for u in uploaded}
        result.removed = sorted((set(health.states) - taken) - new_numbers)
        ok = await self.queue.swap(
            seg.id,
            [p.key for p in seg.pieces],
            set(health.states) - taken,
            [StoredPiece(u.piece_num, u.node_id, u.piece_id, u.root, u.size) for u in uploaded],
            worker=self.worker_id,
        )
        if not ok:
            result.outcome = RepairOutcome.CHANGED
        result.uploaded = sorted(new_numbers)
        return result

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
        at_least: int,
        rebuilt: dict[int, Buffer],
        roots: dict[int, bytes],
        result: RepairResult,
        now: float,
    ) -> list[UploadedPiece]:
        """Upload pieces ``numbers`` to new nodes; pieces whose upload fails go to other nodes,
        for up to :data:`UPLOAD_ROUNDS` rounds. A node that refuses (e.g. it still holds the
        same piece from a cancelled upload or a crashed repair: same node, number and root
        piece id give the same piece id) is not asked again."""
        by_id = {n.id: n for n in snapshot}
        tried = {p.node_id for p in seg.pieces}
        landed: list[UploadedPiece] = []
        todo = list(numbers)
        for _ in range(UPLOAD_ROUNDS):
            placed = kept + [by_id[u.node_id] for u in landed]
            try:
                chosen = self._place(policy, snapshot, placed, tried, len(todo), max(1, at_least - len(landed)), now)
            except RepairError:
                if landed:
                    break
                raise
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
        at_least: int,
        now: float,
    ) -> list[NodeCandidate]:
        """``need`` new nodes, or as many as placement allows down to ``at_least``."""
        last: PlacementError | None = None
        for count in range(need, at_least - 1, -1):
            try:
                return select_nodes(
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
            except PlacementError as exc:
                last = exc
        raise RepairError(f"no placement for {need} new pieces: {last}")

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
