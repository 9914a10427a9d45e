"""The node table: check-ins, placement snapshots, admin overrides."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from satellite.db.durability_models import NodeLossStanding
from satellite.db.engine import Database
from satellite.db.models import Node
from satellite.db.payout_models import NodeStake
from satellite.errors import NotFound
from satellite.nodeselection import NodeCandidate
from satellite.overlay.service import CheckInRecord, NodeInfo, geoip_excluded

__all__ = ["NodeRepository", "node_candidate"]


def node_candidate(n: Node, loss_suspended: bool = False, stake: str | None = None) -> NodeCandidate:
    """A node row as placement, repair and the compliance report see it (effective location).
    ``loss_suspended``: suspended for the pieces it reported lost (``node_loss_standing``),
    which an audit's recovery does not lift; ``stake``: its stake as the stake chore last read
    it from chain."""
    return NodeCandidate(
        id=n.id,
        address=n.address,
        country=n.effective_country,
        region=n.effective_region,
        net=n.last_net,
        free_bytes=n.free,
        vetted=n.vetted_at is not None,
        last_contact=n.last_contact_at.timestamp(),
        disqualified=n.disqualified_at is not None,
        suspended=n.suspended_at is not None or loss_suspended,
        contained=n.contained_at is not None,
        exiting=n.exit_initiated_at is not None and n.exit_finished_at is None,
        geoip_excluded=geoip_excluded(n.country, n.geoip_country, n.country_override is not None),
        stake=int(stake or 0),
    )


class NodeRepository:
    """Implements ``satellite.overlay.service.NodeStore`` (and the admin's node operations)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record_checkin(self, r: CheckInRecord) -> None:
        values = {
            "address": r.address,
            "last_ip": r.ip,
            "last_net": r.net,
            "country": r.country,
            "region": r.region,
            "capacity": r.capacity,
            "used": r.used,
            "free": r.free,
            "version": r.version,
            "wallet": r.wallet,
            "geoip_country": r.geoip_country,
            "last_contact_at": r.at,
        }
        # Update first (the common case), insert when new; a lost insert race becomes an update.
        for _ in range(2):
            async with self.db.transaction() as s:
                res = await s.execute(update(Node).where(Node.id == r.node_id).values(**values))
                if res.rowcount:
                    return
            try:
                async with self.db.transaction() as s:
                    s.add(Node(id=r.node_id, created_at=r.at, **values))
                return
            except IntegrityError:
                continue

    async def candidates(self) -> list[NodeCandidate]:
        # With each node, its loss standing and its stake as the stake chore last read it from
        # chain (no I/O here).
        query = (
            select(Node, NodeLossStanding.suspended_at, NodeStake.amount)
            .outerjoin(NodeLossStanding, NodeLossStanding.node_id == Node.id)
            .outerjoin(NodeStake, NodeStake.node_id == Node.id)
            .where(Node.exit_finished_at.is_(None))
        )
        async with self.db.read() as s:
            rows = (await s.execute(query)).all()
        return [node_candidate(n, loss_at is not None, stake) for n, loss_at, stake in rows]

    async def nodes(self, ids: list[str]) -> dict[str, NodeInfo]:
        if not ids:
            return {}
        async with self.db.read() as s:
            rows = (await s.execute(select(Node).where(Node.id.in_(set(ids))))).scalars().all()
        return {
            n.id: NodeInfo(
                id=n.id,
                address=n.address,
                country=n.effective_country,
                region=n.effective_region,
                last_contact=n.last_contact_at,
                disqualified=n.disqualified_at is not None,
            )
            for n in rows
        }

    async def get(self, node_id: str) -> Node:
        async with self.db.read() as s:
            node = await s.get(Node, node_id)
        if node is None:
            raise NotFound(f"no node {node_id}")
        return node

    async def list(self) -> list[Node]:
        async with self.db.read() as s:
            return list((await s.execute(select(Node).order_by(Node.id))).scalars().all())

    async def _set(self, node_id: str, **values: object) -> None:
        async with self.db.transaction() as s:
            res = await s.execute(update(Node).where(Node.id == node_id).values(**values))
            if not res.rowcount:
                raise NotFound(f"no node {node_id}")

    async def set_location_override(self, node_id: str, country: str | None, region: str | None) -> None:
        """Pin a node's country/region (``None`` clears the override: the claim applies again)."""
        await self._set(node_id, country_override=country, region_override=region)

    async def disqualify(self, node_id: str, reason: str) -> None:
        await self._set(node_id, disqualified_at=dt.datetime.now(dt.UTC), disqualification_reason=reason)

    async def reinstate(self, node_id: str) -> None:
        """Clear disqualification and every suspension, the self-reported-loss one included:
        the operator replaced the failing disk and the admin trusts the node again."""
        await self._set(node_id, disqualified_at=None, disqualification_reason=None, suspended_at=None)
        async with self.db.transaction() as s:
            await s.execute(
                update(NodeLossStanding)
                .where(NodeLossStanding.node_id == node_id)
                .values(suspended_at=None, suspension_reason=None)
            )
