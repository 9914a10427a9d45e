"""The cached node stakes (implements ``satellite.payouts.staking.StakeStore``): which nodes to
register with the staking contract, whose stake to re-read, and whom to slash."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from satellite.db.engine import Database
from satellite.db.models import Node
from satellite.db.payout_models import NodeStake
from satellite.payouts.staking import StakeRecord

__all__ = ["StakeRepository"]


def _record(r: NodeStake) -> StakeRecord:
    return StakeRecord(
        r.node_id,
        r.wallet,
        int(r.amount),
        r.registered,
        r.slashed_at,
        r.slash_tx,
        bonded=int(r.bonded or 0),
        unbonding_until=r.unbonding_until,
        checked_at=r.checked_at,
    )


class StakeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def to_register(self, limit: int) -> list[tuple[str, str]]:
        """(node id, wallet) of nodes in good standing whose wallet the contract does not bind yet."""
        q = (
            select(Node.id, Node.wallet)
            .outerjoin(NodeStake, NodeStake.node_id == Node.id)
            .where(
                Node.disqualified_at.is_(None),
                Node.exit_finished_at.is_(None),
                Node.wallet != "",
                (NodeStake.node_id.is_(None)) | (NodeStake.wallet != Node.wallet),
            )
            .order_by(Node.created_at, Node.id)
            .limit(limit)
        )
        async with self.db.read() as s:
            return [(str(i), str(w)) for i, w in (await s.execute(q)).all()]

    async def mark_registered(self, node_id: str, wallet: str, now: dt.datetime, *, registered: bool = True) -> None:
        """Remember ``wallet`` as handled (``registered=False``: unusable, never registered)."""
        async with self.db.transaction() as s:
            row = await s.get(NodeStake, node_id)
            if row is None:
                s.add(NodeStake(node_id=node_id, wallet=wallet, amount="0", registered=registered, checked_at=now))
            else:
                row.wallet, row.registered = wallet, registered

    async def due_refresh(self, checked_before: dt.datetime, limit: int) -> list[StakeRecord]:
        q = (
            select(NodeStake)
            .where(NodeStake.registered.is_(True), NodeStake.checked_at < checked_before)
            .order_by(NodeStake.checked_at)
            .limit(limit)
        )
        async with self.db.read() as s:
            return [_record(r) for r in (await s.execute(q)).scalars()]

    async def record_stake(
        self,
        node_id: str,
        amount: int,
        now: dt.datetime,
        *,
        bonded: int | None = None,
        unbonding_until: dt.datetime | None = None,
    ) -> bool:
        """Store the stake read from chain; ``True`` if the active amount changed (placement must re-read)."""
        async with self.db.transaction() as s:
            row = await s.get(NodeStake, node_id)
            if row is None:
                return False
            changed = int(row.amount) != amount
            row.amount, row.checked_at = str(amount), now
            row.bonded = str(amount if bonded is None else bonded)
            row.unbonding_until = unbonding_until
            return changed

    async def to_slash(self, limit: int) -> list[StakeRecord]:
        q = (
            select(NodeStake)
            .join(Node, Node.id == NodeStake.node_id)
            .where(Node.disqualified_at.is_not(None), NodeStake.registered.is_(True), NodeStake.slashed_at.is_(None))
            .limit(limit)
        )
        async with self.db.read() as s:
            return [_record(r) for r in (await s.execute(q)).scalars()]

    async def mark_slashed(self, node_id: str, tx_hash: str | None, now: dt.datetime) -> None:
        async with self.db.transaction() as s:
            await s.execute(
                update(NodeStake)
                .where(NodeStake.node_id == node_id)
                .values(slashed_at=now, slash_tx=tx_hash, amount="0", bonded="0", checked_at=now)
            )

    async def get(self, node_id: str) -> StakeRecord | None:
        async with self.db.read() as s:
            row = await s.get(NodeStake, node_id)
            return None if row is None else _record(row)
