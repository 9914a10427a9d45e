"""The exit chore: copy each piece of an exiting node to a new compliant node.

**Transfer, not repair.** A piece can leave an exiting node two ways: the repairer rebuilds
it from ``k`` other pieces, or the satellite copies it. The node is still online and
willing, so copying moves one piece's bytes where a rebuild moves ``k`` times as many, and
it needs no decoding. The copy is also simpler to make safe: the satellite signs a
REPAIR_GET order for the exiting node and a REPAIR_PUT order for the new one, downloads the
whole piece with a Merkle range proof and verifies it against the root stored at commit
(the exiting node cannot hand over other bytes), uploads it, and checks that the new node's
signed receipt names the same root. Then one compare-and-swap update points the piece row
at the new node and its new piece id (derived from the segment's root piece id, as for any
placement) — only if the row still names the exiting node and the old id. If the segment
was deleted, repaired or moved meanwhile, nothing is changed and the copy is garbage that
the next retain list collects. The repair checker still counts an exiting node's pieces as
unhealthy (``satellite/repair/health.py``), so a segment that would be at its repair
threshold without them is rebuilt as well: the transfer never has to be fast for safety.

The new node is chosen by the same placement code as uploads (``select_nodes``) under the
bucket's *current* policy, excluding nodes and /24 networks that already hold a piece of
the segment and counting the countries they reach.

**Outcomes of one piece.** *Transferred*. *Failed*: the exiting node answered but refused
or served bytes that do not match the root (it lost or corrupted the piece): the piece is
dropped from the segment (the copy it holds is worthless; repair restores redundancy when
the segment reaches its threshold) and counts against the exit. *Node unreachable*: not
counted; retried on the next pass. *No target* (placement found no node) and *target
failed* (the new node refused or broke the receipt): not the exiting node's fault;
retried on a later pass with a fresh choice.

**Rules that end an exit** (checked at the start of each pass, DESIGN §5, Storj's rules):

* *exited* — no piece row names the node any more, and the exit began at least ``settle``
  seconds ago (the segment-token TTL plus the placement cache: a begin-segment that chose
  the node just before it asked to leave can still commit a piece on it until then);
* *failed, offline* — the node has not checked in for ``max_offline`` seconds;
* *failed, transfers* — at least ``min_failures`` pieces failed and they are more than
  ``max_failure_percent`` of the attempts that reached the node.

A finished exit (either way) sets ``nodes.exit_finished_at``: the node leaves placement's
snapshot and any pieces it still holds count as gone (repair). Each pass handles up to
``batch_size`` pieces per exiting node, ``concurrency`` at once, and reports what it did
(:class:`ExitPassReport`), so tests step it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from common.messages import Action
from common.piece_client import (
    BadReceipt,
    BadShare,
    NodeRefused,
    NodeUnavailable,
    PieceClient,
    PieceSource,
    PieceTarget,
    PieceTransferError,
)
from erasure import SegmentLayout
from satellite.config import SatelliteConfig
from satellite.nodeselection import NodeCandidate, PlacementError, SelectionConfig, select_nodes
from satellite.orders import OrderSigner, fresh_piece_id

from .service import EXITED, FAILED, ExitNode, ExitPiece, ExitStore

__all__ = ["ExitChore", "ExitConfig", "ExitPassReport", "TransferOutcome", "exit_config"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExitConfig:
    interval: float
    batch_size: int
    concurrency: int
    max_offline: float
    max_failure_percent: float
    min_failures: int
    settle: float  # seconds after the start before an exit may complete (see module doc)
    order_ttl: float  # a copy older than this is not swapped in (gc's margin relies on it)


class TransferOutcome(enum.StrEnum):
    TRANSFERRED = "transferred"
    FAILED = "failed"  # the exiting node's fault: counted
    UNREACHABLE = "unreachable"
    NO_TARGET = "no target"
    TARGET_FAILED = "target failed"
    STALE = "stale"  # the segment changed under us; the copy is garbage


@dataclass
class ExitPassReport:
    """Per node: transfer outcomes of this pass, and exits that finished."""

    outcomes: dict[str, Counter[str]] = field(default_factory=dict)
    finished: dict[str, str] = field(default_factory=dict)  # node id -> "exited" / "failed: why"

    @property
    def busy(self) -> bool:
        """Something moved: worth another pass at once (retries of unreachable nodes wait)."""
        moved = (TransferOutcome.TRANSFERRED, TransferOutcome.FAILED, TransferOutcome.STALE)
        return bool(self.finished) or any(c[o] for c in self.outcomes.values() for o in moved)


class ExitChore:
    def __init__(
        self,
        store: ExitStore,
        signer: OrderSigner,
        candidates: Callable[[], Awaitable[list[NodeCandidate]]],
        selection: SelectionConfig,
        config: ExitConfig,
        client: PieceClient | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.signer = signer
        self.candidates = candidates
        self.selection = selection
        self.config = config
        self._client = client
        self._owns_session = client is None
        self.rng = rng or random.SystemRandom()
        self._cursor: dict[str, tuple[int, int] | None] = {}

    @property
    def client(self) -> PieceClient:
        if self._client is None:
            self._client = PieceClient(PieceClient.new_session())
        return self._client

    async def run_once(self, now: float | None = None) -> ExitPassReport:
        t = time.time() if now is None else now
        at = dt.datetime.fromtimestamp(t, dt.UTC)
        report = ExitPassReport()
        for node in await self.store.exiting():
            verdict = await self._verdict(node, t)
            if verdict is not None:
                status, reason = verdict
                await self.store.finish(node.id, status, reason, at)
                self._cursor.pop(node.id, None)
                report.finished[node.id] = status if not reason else f"{status}: {reason}"
                log.info("graceful exit of node %s %s %s", node.id[:16], status, reason)
                continue
            report.outcomes[node.id] = await self._pass(node, at)
        return report

    async def _verdict(self, node: ExitNode, t: float) -> tuple[str, str] | None:
        cfg = self.config
        silent = t - node.last_contact.timestamp()
        if silent > cfg.max_offline:
            return FAILED, f"offline for {silent:.0f}s during the exit (limit {cfg.max_offline:.0f}s)"
        state = await self.store.state(node.id)
        attempts = state.pieces_transferred + state.pieces_failed
        if state.pieces_failed >= cfg.min_failures and state.pieces_failed * 100 > cfg.max_failure_percent * attempts:
            return FAILED, (
                f"{state.pieces_failed} of {attempts} transfers failed "
                f"(more than {cfg.max_failure_percent:g}%)"
            )
        started = (node.initiated_at or dt.datetime.fromtimestamp(t, dt.UTC)).timestamp()
        if state.pieces_remaining == 0 and t - started >= cfg.settle:
            return EXITED, ""
        return None

    async def _pass(self, node: ExitNode, at: dt.datetime) -> Counter[str]:
        pieces = await self.store.pieces(node.id, self._cursor.get(node.id), self.config.batch_size)
        # Walk the node's pieces round-robin, so pieces that keep failing to find a target
        # cannot hold back the rest; start over once the end is reached.
        full = len(pieces) == self.config.batch_size
        self._cursor[node.id] = (pieces[-1].segment_id, pieces[-1].number) if full else None
        outcomes: Counter[str] = Counter()
        if not pieces:
            return outcomes
        candidates = await self.candidates()
        by_id = {c.id: c for c in candidates}
        sem = asyncio.Semaphore(self.config.concurrency)
        transferred = nbytes = failed = 0

        async def one(piece: ExitPiece) -> None:
            nonlocal transferred, nbytes, failed
            async with sem:
                outcome = await self.transfer(node, piece, candidates, by_id)
            outcomes[outcome.value] += 1
            if outcome is TransferOutcome.TRANSFERRED:
                transferred += 1
                nbytes += piece.size
            elif outcome is TransferOutcome.FAILED:
                failed += 1

        async with asyncio.TaskGroup() as tg:
            for p in pieces:
                tg.create_task(one(p))
        if transferred or failed:
            await self.store.add_progress(node.id, transferred, nbytes, failed, at)
        return outcomes

    async def transfer(
        self, node: ExitNode, piece: ExitPiece, candidates: list[NodeCandidate], by_id: dict[str, NodeCandidate]
    ) -> TransferOutcome:
        """Copy one piece off ``node`` to a new node and swap the row; never raises for a node's fault."""
        others = [by_id[h] for h in piece.holders if h in by_id and h != node.id]
        try:
            (target,) = select_nodes(
                candidates,
                piece.policy,
                1,
                exclude_node_ids={node.id, *piece.holders},
                exclude_nets={c.net for c in others},
                existing_countries={c.country for c in others},
                now=time.time(),
                config=self.selection,
                rng=self.rng,  # type: ignore[arg-type]
            )
        except PlacementError as e:
            log.info("exit of %s: no node for piece %d of segment %d: %s", node.id[:16], piece.number,
                     piece.segment_id, e)  # fmt: skip
            return TransferOutcome.NO_TARGET
        layout = SegmentLayout.from_dict(piece.layout)
        get = self.signer.order_limit(node.id, piece.piece_id, Action.REPAIR_GET, piece.size)
        source = PieceSource(piece.number, node.id, node.address, get, piece.merkle_root)
        try:
            data = await self.client.download(source, layout, 0, layout.stripes)
        except NodeUnavailable:
            return TransferOutcome.UNREACHABLE
        except (NodeRefused, BadShare) as e:
            log.warning("exit of %s: piece %s failed: %s", node.id[:16], piece.piece_id[:12], e)
            await self.store.drop_piece(node.id, piece)
            return TransferOutcome.FAILED
        new_id = fresh_piece_id()
        put = self.signer.order_limit(target.id, new_id, Action.REPAIR_PUT, piece.size)
        try:
            await self.client.upload(PieceTarget(piece.number, target.id, target.address, put), data,
                                     layout.share_size, piece.merkle_root)  # fmt: skip
        except (NodeUnavailable, NodeRefused, BadReceipt, PieceTransferError) as e:
            log.info("exit of %s: target %s failed: %s", node.id[:16], target.id[:16], e)
            return TransferOutcome.TARGET_FAILED
        if time.time() - put.message.created >= self.config.order_ttl:
            # Garbage collection assumes a piece is recorded within order_ttl of its order.
            return TransferOutcome.TARGET_FAILED
        if not await self.store.swap_piece(node.id, piece, target.id, new_id):
            return TransferOutcome.STALE
        return TransferOutcome.TRANSFERRED

    async def run(self) -> None:
        while True:
            try:
                report = await self.run_once()
            except Exception:
                log.exception("graceful exit pass failed")
                report = ExitPassReport()
            if not report.busy:
                await asyncio.sleep(self.config.interval)

    async def close(self) -> None:
        if self._owns_session and self._client is not None:
            await self._client.session.close()
            self._client = None


def exit_config(config: SatelliteConfig) -> ExitConfig:
    """The chore's settings from the satellite's config (``settle``: see the module doc)."""
    return ExitConfig(
        interval=config.exit_interval,
        batch_size=config.exit_batch_size,
        concurrency=config.exit_concurrency,
        max_offline=float(config.exit_max_offline),
        max_failure_percent=config.exit_max_failure_percent,
        min_failures=config.exit_min_failures,
        settle=config.segment_token_ttl + config.node_cache_ttl,
        order_ttl=float(config.order_ttl),
    )
