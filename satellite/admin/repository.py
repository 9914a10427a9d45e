"""The admin's reads and the one write no other service needs (a bucket's policy).

Everything else the admin changes goes through the services that own it (tenancy, the node
registry); this module only adds the questions an operator asks across tenants: who uses
a policy, all buckets, a node by a short id prefix, and every piece of a bucket for the
compliance report, streamed in segment order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, null, or_, select, update

from satellite.db.engine import Database
from satellite.db.models import (
    Bucket,
    Node,
    ObjectRow,
    PieceRow,
    PlacementPolicyRow,
    RepairJob,
    SegmentRow,
    Tenant,
    Upload,
    policy_named,
)
from satellite.db.nodes import node_candidate
from satellite.errors import InvalidArgument, NoSuchBucket, NoSuchPolicy, NoSuchTenant, NotFound
from satellite.nodeselection import NodeCandidate

from .report import SegmentPieces

__all__ = ["AdminRepository", "BucketRow", "TenantRef", "node_candidate"]

MIN_PREFIX = 6  # shorter node id prefixes match too much to be safe for disqualify


@dataclass(frozen=True, slots=True)
class TenantRef:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class BucketRow:
    id: int
    name: str
    tenant_id: str
    tenant_name: str
    policy: str
    created_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tenant_id": self.tenant_id,
            "tenant": self.tenant_name,
            "policy": self.policy,
            "created_at": self.created_at.astimezone(dt.UTC).isoformat(),
        }


class AdminRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def policy_users(self, name: str) -> tuple[list[str], list[str]]:
        """The buckets using policy ``name`` and the tenants having it as default (names)."""
        async with self.db.read() as s:
            pid = (await s.execute(select(PlacementPolicyRow.id).where(policy_named(name)))).scalar()
            if pid is None:
                raise NoSuchPolicy(f"no placement policy named {name!r}")
            buckets = (
                await s.execute(select(Bucket.name).where(Bucket.policy_id == pid).order_by(Bucket.name))
            ).scalars()
            tenants = (
                await s.execute(select(Tenant.name).where(Tenant.default_policy_id == pid).order_by(Tenant.name))
            ).scalars()
            return list(buckets), list(tenants)

    async def find_tenant(self, ref: str) -> TenantRef:
        """A tenant by id or by name: admins type names, scripts keep ids."""
        async with self.db.read() as s:
            row = (
                await s.execute(select(Tenant.id, Tenant.name).where(or_(Tenant.id == ref, Tenant.name == ref)))
            ).first()
        if row is None:
            raise NoSuchTenant(f"no tenant with id or name {ref!r} (see 'geoshard admin tenant list')")
        return TenantRef(row[0], row[1])

    def _buckets(self):  # type: ignore[no-untyped-def]
        return (
            select(Bucket, Tenant.name, PlacementPolicyRow.name)
            .join(Tenant, Tenant.id == Bucket.tenant_id)
            .join(PlacementPolicyRow, PlacementPolicyRow.id == Bucket.policy_id)
        )

    async def list_buckets(self, tenant_id: str | None = None) -> list[BucketRow]:
        query = self._buckets().order_by(Bucket.name)
        if tenant_id is not None:
            query = query.where(Bucket.tenant_id == tenant_id)
        async with self.db.read() as s:
            rows = (await s.execute(query)).all()
        return [BucketRow(b.id, b.name, b.tenant_id, t, p, b.created_at) for b, t, p in rows]

    async def get_bucket(self, name: str) -> BucketRow:
        async with self.db.read() as s:
            row = (await s.execute(self._buckets().where(Bucket.name == name))).first()
        if row is None:
            raise NoSuchBucket(f"no bucket {name!r}")
        b, t, p = row
        return BucketRow(b.id, b.name, b.tenant_id, t, p, b.created_at)

    async def set_bucket_policy(self, bucket: str, policy: str) -> None:
        async with self.db.transaction() as s:
            pid = (await s.execute(select(PlacementPolicyRow.id).where(policy_named(policy)))).scalar()
            if pid is None:
                raise NoSuchPolicy(f"no placement policy named {policy!r}")
            res = await s.execute(update(Bucket).where(Bucket.name == bucket).values(policy_id=pid))
            if not res.rowcount:
                raise NoSuchBucket(f"no bucket {bucket!r}")

    async def list_nodes(self) -> list[Node]:
        async with self.db.read() as s:
            return list((await s.execute(select(Node).order_by(Node.id))).scalars())

    async def node_stakes(self) -> dict[str, str]:
        """Each node's cached active stake (the stake policy's view; ``satellite.payouts.staking``)."""
        from satellite.db.payout_models import NodeStake

        async with self.db.read() as s:
            return {i: a for i, a in (await s.execute(select(NodeStake.node_id, NodeStake.amount))).all()}

    async def find_node(self, ref: str) -> Node:
        """A node by full id or by a unique prefix of at least :data:`MIN_PREFIX` characters."""
        ref = ref.strip().lower()
        async with self.db.read() as s:
            node = await s.get(Node, ref)
            if node is not None:
                return node
            if len(ref) < MIN_PREFIX:
                raise NotFound(f"no node {ref!r} (give the full id or at least {MIN_PREFIX} characters)")
            rows = list(
                (await s.execute(select(Node).where(Node.id.startswith(ref, autoescape=True)).limit(3))).scalars()
            )
        if not rows:
            raise NotFound(f"no node whose id starts with {ref!r}")
        if len(rows) > 1:
            raise InvalidArgument(f"node id prefix {ref!r} matches several nodes; give more characters")
        return rows[0]

    async def node_candidates(self, ids: set[str]) -> dict[str, NodeCandidate]:
        if not ids:
            return {}
        out: dict[str, NodeCandidate] = {}
        ordered = sorted(ids)
        async with self.db.read() as s:
            for i in range(0, len(ordered), 500):  # keep IN lists well under driver limits
                rows = (await s.execute(select(Node).where(Node.id.in_(ordered[i : i + 500])))).scalars()
                out.update((n.id, node_candidate(n)) for n in rows)
        return out

    async def bucket_stats(self, bucket_id: int) -> dict[str, int]:
        async with self.db.read() as s:
            # Objects as ListObjects counts them; versions: every stored version and delete marker.
            rows = select(func.count()).select_from(ObjectRow).where(ObjectRow.bucket_id == bucket_id)
            versions = (await s.execute(rows)).scalar_one()
            objects = (await s.execute(rows.where(ObjectRow.is_latest.is_(True),
                                                  ObjectRow.delete_marker.is_(False)))).scalar_one()  # fmt: skip
            uploads = (
                await s.execute(select(func.count()).select_from(Upload).where(Upload.bucket_id == bucket_id))
            ).scalar_one()
        return {"objects": int(objects), "versions": int(versions), "pending_uploads": int(uploads)}

    async def segments(self, bucket_id: int) -> AsyncIterator[SegmentPieces]:
        """Every segment of the bucket's objects and pending uploads, with its pieces' nodes."""
        seg = SegmentRow
        inline = case((seg.k == 0, seg.encrypted_size), else_=0)
        objects = (
            select(seg.id, ObjectRow.key, ObjectRow.version, seg.part_number, seg.index, seg.k, seg.repair_threshold,
                   inline, PieceRow.node_id)
            .join(ObjectRow, ObjectRow.id == seg.object_id)
            .outerjoin(PieceRow, PieceRow.segment_id == seg.id)
            .where(ObjectRow.bucket_id == bucket_id)
            .order_by(seg.id)
        )  # fmt: skip
        uploads = (
            select(seg.id, Upload.key, null(), seg.part_number, seg.index, seg.k, seg.repair_threshold, inline,
                   PieceRow.node_id)
            .join(Upload, Upload.id == seg.upload_id)
            .outerjoin(PieceRow, PieceRow.segment_id == seg.id)
            .where(Upload.bucket_id == bucket_id)
            .order_by(seg.id)
        )  # fmt: skip
        async with self.db.read() as s:
            for query in (objects, uploads):
                current: tuple[Any, ...] | None = None
                nodes: list[str] = []
                async for sid, key, version, part, index, k, repair, size, node_id in await s.stream(query):
                    if current is None or current[0] != sid:
                        if current is not None:
                            yield _segment(current, nodes)
                        current, nodes = (sid, key, version, part, index, k, repair, size), []
                    if node_id is not None:
                        nodes.append(node_id)
                if current is not None:
                    yield _segment(current, nodes)

    async def queued_segments(self, bucket_id: int) -> frozenset[int]:
        """Segment ids of the bucket's objects and uploads that have a repair job queued."""
        seg = SegmentRow
        query = (
            select(RepairJob.segment_id)
            .join(seg, seg.id == RepairJob.segment_id)
            .outerjoin(ObjectRow, ObjectRow.id == seg.object_id)
            .outerjoin(Upload, Upload.id == seg.upload_id)
            .where(func.coalesce(ObjectRow.bucket_id, Upload.bucket_id) == bucket_id)
        )
        async with self.db.read() as s:
            return frozenset((await s.execute(query)).scalars())


def _segment(row: tuple[Any, ...], nodes: list[str]) -> SegmentPieces:
    sid, key, version, part, index, k, repair, size = row
    return SegmentPieces(key, version, part, index, k, repair, nodes, segment_id=sid, inline_bytes=int(size or 0))
