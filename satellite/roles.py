"""What one satellite process serves: the public API, the admin API, and which background chores.

``geoshard satellite run --role ROLE[,ROLE...]`` picks them, so that several processes on one
database (PostgreSQL) split the satellite as the design has it, e.g. an ``api`` container
scaled out behind a load balancer and one ``workers`` container. The names:

========================  ==========================================================================
``all`` (default)         everything below, in one process
``api``                   the public API (nodes, gateways); stateless, run as many as you like
``admin``                 the admin API and console on the admin port (stateless as well)
``workers``               ``admin`` and every chore
``audit``                 the audit chore (leased: one process at a time)
``repair``                ``repair-checker`` and ``repair-workers``
``repair-checker``        finds segments to repair (leased)
``repair-workers``        repairs queued segments; claims are exclusive, so any number may run
``gc``                    retain lists to nodes (leased)
``graceful-exit``         hands exiting nodes' pieces on (leased)
``lifecycle``             applies buckets' lifecycle rules: expiry, stale upload aborts (leased)
``accounting``            tallies, period closes, order settlement (leased)
``settlement``            payouts and stake refreshes on chain (leased)
========================  ==========================================================================

Every chore except the repair workers holds a lease in the database while it runs
(``satellite.leases``), so starting ``workers`` twice gives a warm standby, never a double run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["CHORES", "ROLE_NAMES", "SCALABLE_CHORES", "Role"]

# In the order they start; "settlement" covers settlement's two services (payouts, stakes).
CHORES = ("audit", "repair-checker", "repair-workers", "gc", "graceful-exit", "lifecycle", "accounting", "settlement")
SCALABLE_CHORES = frozenset({"repair-workers"})  # safe in several processes at once: not leased
_ALIASES = {"repair": ("repair-checker", "repair-workers")}
ROLE_NAMES = ("all", "api", "admin", "workers", "audit", "repair", *CHORES[1:])


@dataclass(frozen=True)
class Role:
    api: bool = False
    admin: bool = False
    chores: frozenset[str] = frozenset()

    # Set below, after the class exists.
    ALL: ClassVar[Role]
    API: ClassVar[Role]
    WORKERS: ClassVar[Role]

    @classmethod
    def parse(cls, text: str) -> Role:
        """``"api"``, ``"workers"``, ``"audit,gc"`` ...; ValueError naming the valid names otherwise."""
        api = admin = False
        chores: set[str] = set()
        words = [w.strip().lower() for w in text.split(",") if w.strip()]
        if not words:
            raise ValueError(f"empty role; choose from {', '.join(ROLE_NAMES)}")
        for w in words:
            if w == "all":
                api = admin = True
                chores.update(CHORES)
            elif w == "api":
                api = True
            elif w == "admin":
                admin = True
            elif w == "workers":
                admin = True
                chores.update(CHORES)
            elif w in _ALIASES:
                chores.update(_ALIASES[w])
            elif w in CHORES:
                chores.add(w)
            else:
                raise ValueError(f"unknown role {w!r}; choose from {', '.join(ROLE_NAMES)}")
        return cls(api=api, admin=admin, chores=frozenset(chores))

    @property
    def runs_background(self) -> bool:
        """The admin API or any chore (what a pure API worker process never runs)."""
        return self.admin or bool(self.chores)

    def __str__(self) -> str:
        every = self.chores == frozenset(CHORES)
        if self.api and self.admin and every:
            return "all"
        parts = ["api"] if self.api else []
        if self.admin and every:
            return ",".join([*parts, "workers"])
        if self.admin:
            parts.append("admin")
        return ",".join(parts + [c for c in CHORES if c in self.chores])


Role.ALL = Role(api=True, admin=True, chores=frozenset(CHORES))
Role.API = Role(api=True)
Role.WORKERS = Role(admin=True, chores=frozenset(CHORES))
