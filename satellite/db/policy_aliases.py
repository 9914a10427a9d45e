"""Other names of residency policies, for S3 clients that send an AWS region as LocationConstraint.

Many clients (the AWS CLI with a configured region, Terraform, SDKs that default to
``us-east-1``) put a real AWS region name in ``CreateBucketConfiguration``. An admin can
give a policy such names (``geoshard admin policy aliases eu eu-west-1 eu-central-1``); a
bucket created with an alias gets the policy. Aliases are case-insensitive like policy
names, unique, and never the name of another policy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from satellite.db.engine import Database
from satellite.db.models import PlacementPolicyRow, policy_named
from satellite.db.surface_models import PolicyAlias
from satellite.errors import InvalidArgument, NoSuchPolicy
from satellite.nodeselection.policy import policy_key

__all__ = ["PolicyAliasRepository", "policy_by_name_or_alias", "policy_names"]

_ALIAS = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


async def policy_by_name_or_alias(s: AsyncSession, name: str) -> PlacementPolicyRow | None:
    """The policy called ``name``, or the one with that alias."""
    row = (await s.execute(select(PlacementPolicyRow).where(policy_named(name)))).scalar()
    if row is not None:
        return row
    q = select(PlacementPolicyRow).join(PolicyAlias, PolicyAlias.policy_id == PlacementPolicyRow.id)
    return (await s.execute(q.where(PolicyAlias.alias == policy_key(name)))).scalar()


async def policy_names(s: AsyncSession) -> list[str]:
    """Every name a LocationConstraint may give: policies and their aliases, sorted."""
    names = (await s.execute(select(PlacementPolicyRow.name))).scalars()
    aliases = (await s.execute(select(PolicyAlias.alias))).scalars()
    return sorted({*names, *aliases})


class PolicyAliasRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def aliases(self, policy: str) -> list[str]:
        async with self.db.read() as s:
            row = await self._policy(s, policy)
            q = select(PolicyAlias.alias).where(PolicyAlias.policy_id == row.id).order_by(PolicyAlias.alias)
            return list((await s.execute(q)).scalars())

    async def set_aliases(self, policy: str, aliases: Sequence[str]) -> list[str]:
        """Replace the policy's aliases with ``aliases`` (empty clears them); the new list."""
        wanted = sorted({policy_key(a.strip()) for a in aliases})
        for a in wanted:
            if not _ALIAS.match(a):
                raise InvalidArgument(f"alias {a!r} is not a region-like name (a-z, 0-9 and '-', up to 63)")
        async with self.db.transaction() as s:
            row = await self._policy(s, policy)
            for a in wanted:
                other = (await s.execute(select(PlacementPolicyRow.name).where(policy_named(a)))).scalar()
                if other is not None:
                    raise InvalidArgument(f"alias {a!r} is the name of policy {other!r}")
                owner = (
                    await s.execute(
                        select(PlacementPolicyRow.name)
                        .join(PolicyAlias, PolicyAlias.policy_id == PlacementPolicyRow.id)
                        .where(PolicyAlias.alias == a, PlacementPolicyRow.id != row.id)
                    )
                ).scalar()
                if owner is not None:
                    raise InvalidArgument(f"alias {a!r} already names policy {owner!r}; remove it there first")
            await s.execute(delete(PolicyAlias).where(PolicyAlias.policy_id == row.id))
            s.add_all([PolicyAlias(alias=a, policy_id=row.id) for a in wanted])
        return wanted

    @staticmethod
    async def _policy(s: AsyncSession, name: str) -> PlacementPolicyRow:
        row = (await s.execute(select(PlacementPolicyRow).where(policy_named(name)))).scalar()
        if row is None:
            raise NoSuchPolicy(f"no placement policy named {name!r} ('geoshard admin policy list' shows them)")
        return row
