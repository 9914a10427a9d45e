"""A test satellite for pipeline tests: real storage nodes on loopback, orders signed by a
test :class:`Identity`, and the bookkeeping a satellite does between upload and download.

It plays the satellite's part of the data path only (begin-segment, GET orders, bad-piece
reports) so the pipeline can be tested end to end against real node servers before, and
independently of, the satellite's API.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from common.identity import Identity
from common.messages import Action, OrderLimit, Signed, new_serial, now
from erasure import RedundancyScheme, derive_bucket_key
from gateway.pipeline import (
    BegunSegment,
    PieceClient,
    PieceClientConfig,
    PieceSource,
    PieceTarget,
    SegmentSource,
    SegmentUpload,
)
from tests.node_fixtures import NodeHarness, running_node

__all__ = ["BlackHole", "Endpoint", "TestNetwork", "network"]


@dataclass(frozen=True)
class Endpoint:
    """A node as the satellite knows it: id and address (a real node, or a black hole)."""

    node_id: str
    address: str


class BlackHole:
    """A TCP port that accepts connections and never reads or answers: a stalled node."""

    def __init__(self) -> None:
        self.identity = Identity.generate()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.accepted: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.accepted.append(conn)
            except OSError:
                continue

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.identity.id, f"http://127.0.0.1:{self.sock.getsockname()[1]}")

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        for c in self.accepted:
            c.close()
        self.sock.close()


@dataclass
class TestNetwork:
    """Real nodes plus the satellite's signing key and its record of stored pieces."""

    satellite: Identity
    nodes: list[NodeHarness]
    scheme: RedundancyScheme
    client: PieceClient
    master_key: bytes = field(default_factory=lambda: os.urandom(32))
    extra: list[Endpoint] = field(default_factory=list)
    reports: list[tuple[str, str, int, str]] = field(default_factory=list)
    begun: int = 0
    # Which endpoints the next begin-segment places on (default: every node, in order).
    placement: Callable[[int], Sequence[Endpoint]] | None = None

    __test__ = False  # not a pytest test class

    @property
    def bucket_key(self) -> bytes:
        return derive_bucket_key(self.master_key, "tenant", "bucket")

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint(n.node_id, n.url) for n in self.nodes] + list(self.extra)

    def order(self, node_id: str, piece_id: str, action: Action, max_bytes: int) -> Signed[OrderLimit]:
        t = now()
        return Signed.sign(
            self.satellite,
            OrderLimit(new_serial(), self.satellite.id, node_id, piece_id, action, max_bytes, t + 300, t),
        )

    # SegmentPlacer
    async def begin_segment(self, index: int, max_piece_size: int) -> BegunSegment:
        self.begun += 1
        chosen = list(self.placement(index) if self.placement else self.endpoints())[: self.scheme.total]
        targets = [
            PieceTarget(num, ep.node_id, ep.address, self.order(ep.node_id, os.urandom(32).hex(), Action.PUT,
                                                                 max_piece_size))
            for num, ep in enumerate(chosen)
        ]
        return BegunSegment(token=f"token-{index}", scheme=self.scheme, targets=targets)

    # BadPieceReporter
    async def report_bad_piece(self, source: PieceSource, segment: SegmentSource, reason: str) -> None:
        self.reports.append((source.node_id, source.piece_id, source.piece_num, reason))

    def sources(self, segments: Sequence[SegmentUpload]) -> list[SegmentSource]:
        """What get-object would return for committed ``segments``: GET orders for each piece."""
        out, offset = [], 0
        addresses = {ep.node_id: ep.address for ep in self.endpoints()}
        for seg in segments:
            pieces = [
                PieceSource(p.piece_num, p.node_id, addresses[p.node_id],
                            self.order(p.node_id, p.piece_id, Action.GET, p.size), p.root)
                for p in seg.pieces
            ]
            out.append(SegmentSource(seg.index, offset, seg.plain_size, seg.segment_id, seg.wrapped_key,
                                     seg.inline_data, seg.layout, pieces))
            offset += seg.plain_size
        return out

    def node(self, node_id: str) -> NodeHarness:
        return next(n for n in self.nodes if n.node_id == node_id)

    def piece_path(self, node_id: str, piece_id: str) -> Path:
        return self.node(node_id).peer.store.path(piece_id)


@contextlib.asynccontextmanager
async def network(
    tmp_path: Path, count: int = 6, scheme: str = "2/3/4/6", config: PieceClientConfig | None = None
) -> AsyncIterator[TestNetwork]:
    """``count`` real nodes on loopback trusting one test satellite identity."""
    satellite = Identity.generate()
    async with contextlib.AsyncExitStack() as stack:
        nodes = [
            await stack.enter_async_context(running_node(tmp_path / f"node{i}", satellite))
            for i in range(count)
        ]
        cfg = config or PieceClientConfig(base_timeout=5.0, connect_timeout=2.0)
        session: aiohttp.ClientSession = await stack.enter_async_context(PieceClient.new_session(cfg))
        yield TestNetwork(satellite, nodes, RedundancyScheme.parse(scheme), PieceClient(session, cfg))
