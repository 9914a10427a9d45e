"""A satellite database, real storage-node peers and real erasure-coded pieces, for audit
tests on SQLite and PostgreSQL.

:func:`audit_world` starts ``nodes`` storage-node peers in the test's event loop (each
trusting one satellite identity), registers them in the node table, and
:meth:`AuditWorld.add_segments` encodes random segments, uploads every piece to its node
with a satellite-signed order and records segments and pieces (with the Merkle roots the
nodes computed) the way a commit does. The audit chore then audits what is really on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.identity import Identity
from erasure import RedundancyScheme
from erasure.segment import encode_segment
from satellite.audit import AuditChore, AuditVerifier
from satellite.config import SatelliteConfig
from satellite.db import Database
from satellite.db.audits import AuditRepository
from satellite.db.models import Bucket, Node, ObjectRow, PieceRow, PlacementPolicyRow, SegmentRow, Tenant
from satellite.reputation import ReputationConfig
from tests.node_fixtures import NodeHarness, running_node

__all__ = ["AuditWorld", "StoredPiece", "audit_world"]


@dataclass(frozen=True)
class StoredPiece:
    segment_id: int
    number: int
    node_id: str
    piece_id: str
    size: int


@dataclass
class AuditWorld:
    db: Database
    satellite: Identity
    nodes: list[NodeHarness]
    config: SatelliteConfig
    repo: AuditRepository
    pieces: list[StoredPiece] = field(default_factory=list)
    _object_seq: int = 0

    def chore(self, *, rng: random.Random | None = None, **overrides: Any) -> AuditChore:
        c = self.config
        opts: dict[str, Any] = dict(
            leaves=c.audit_leaves, reservoir_size=c.audit_reservoir_size, scan_batch=c.audit_scan_batch,
            concurrency=c.audit_concurrency, batch=c.audit_batch, max_misses=c.audit_max_misses,
            interval=c.audit_interval,
        )  # fmt: skip
        timeout = overrides.pop("timeout", c.audit_timeout)
        opts.update(overrides)
        return AuditChore(self.repo, AuditVerifier(self.satellite, timeout=timeout), rng=rng, **opts)

    def node(self, node_id: str) -> NodeHarness:
        return next(n for n in self.nodes if n.node_id == node_id)

    async def add_node_row(self, node_id: str, address: str, index: int) -> None:
        now = dt.datetime.now(dt.UTC)
        async with self.db.transaction() as s:
            s.add(Node(id=node_id, address=address, last_ip=f"127.0.{index}.1", last_net=f"127.0.{index}",
                       country="DE", region="eu", capacity=10**9, free=10**9, used=0, created_at=now,
                       last_contact_at=now))  # fmt: skip

    async def add_segments(
        self, count: int, *, size: int = 48 * 1024, scheme: str = "2/3/4/4", nodes: list[NodeHarness] | None = None
    ) -> list[StoredPiece]:
        """``count`` segments, each with one piece on each of the first ``total`` of ``nodes``."""
        rs = RedundancyScheme.parse(scheme)
        holders = (nodes or self.nodes)[: rs.total]
        now = dt.datetime.now(dt.UTC)
        async with self.db.transaction() as s:
            bucket = await s.get(Bucket, 1)
            if bucket is None:
                s.add(PlacementPolicyRow(id=1, name="audit", k=rs.k, repair=rs.repair, success=rs.success,
                                         total=rs.total, created_at=now))  # fmt: skip
                s.add(Tenant(id="t" * 8, name="audit", created_at=now))
                await s.flush()
                s.add(Bucket(id=1, name="audit", tenant_id="t" * 8, policy_id=1, created_at=now))
        added: list[StoredPiece] = []
        for _ in range(count):
            enc = encode_segment(os.urandom(size), rs, os.urandom(32), os.urandom(16), share_size=1024)
            pieces = []
            for number, node in enumerate(holders):
                pid = secrets.token_hex(32)
                data = bytes(enc.pieces[number])
                status, receipt = await node.put(pid, data, leaf_size=enc.layout.share_size)
                assert status == 200, receipt
                pieces.append((number, node.node_id, pid, len(data), enc.roots[number]))
            self._object_seq += 1
            async with self.db.transaction() as s:
                obj = ObjectRow(bucket_id=1, key=f"k{self._object_seq}", version=1, size=size, etag="e",
                                segment_count=1, created_at=now)  # fmt: skip
                s.add(obj)
                await s.flush()
                seg = SegmentRow(object_id=obj.id, plain_size=size, encrypted_size=enc.layout.cipher_size,
                                 layout=enc.layout.to_dict(), wrapped_key=b"k", nonce=b"n", k=rs.k,
                                 repair_threshold=rs.repair, success_threshold=rs.success, total=rs.total,
                                 piece_size=enc.layout.piece_size, created_at=now)  # fmt: skip
                s.add(seg)
                await s.flush()
                for number, node_id, pid, psize, root in pieces:
                    s.add(PieceRow(segment_id=seg.id, number=number, node_id=node_id, piece_id=pid,
                                   merkle_root=root, size=psize))  # fmt: skip
                    added.append(StoredPiece(seg.id, number, node_id, pid, psize))
        self.pieces.extend(added)
        return added

    def delete_from_disk(self, piece: StoredPiece) -> None:
        """What a failing disk or a cheating operator does: the file is simply gone."""
        self.node(piece.node_id).peer.store.path(piece.piece_id).unlink()


@contextlib.asynccontextmanager
async def audit_world(db: Database, tmp_path: Path, *, nodes: int = 4, **config: Any) -> AsyncIterator[AuditWorld]:
    satellite = Identity.generate()
    cfg = SatelliteConfig.for_tests(str(tmp_path / "satellite"), **config)
    async with contextlib.AsyncExitStack() as stack:
        harnesses = []
        for i in range(nodes):
            h = await stack.enter_async_context(running_node(tmp_path / f"node{i}", satellite))
            harnesses.append(h)
        world = AuditWorld(db, satellite, harnesses, cfg, AuditRepository(db, ReputationConfig.from_satellite(cfg)))
        for i, h in enumerate(harnesses):
            await world.add_node_row(h.node_id, h.url, i)
        yield world
