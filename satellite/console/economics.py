"""The network as operators and investors judge it, computed from node rows: pure, no I/O.

*Utilization* is used over offered capacity of the nodes still in the network (not
disqualified, not exited); the online share is shown beside it, since an offline node's
capacity cannot take pieces. *Churn* per period counts nodes that joined (first check-in),
were disqualified, or finished a graceful exit, and the nodes active at the period's end.
Revenue, payouts, the reserve fund and tenants' statements come from the satellite's
accounting (``satellite.console.accounting``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

__all__ = ["PERIODS", "churn", "network_overview", "period_of"]

PERIODS = ("day", "week", "month")


def period_of(t: dt.datetime, period: str) -> str:
    t = t.astimezone(dt.UTC)
    if period == "day":
        return t.strftime("%Y-%m-%d")
    if period == "week":
        y, w, _ = t.isocalendar()
        return f"{y}-W{w:02d}"
    return t.strftime("%Y-%m")


def _left(n: Any) -> dt.datetime | None:
    times = [t for t in (n.disqualified_at, n.exit_finished_at) if t is not None]
    return min(times) if times else None


def churn(nodes: Iterable[Any], period: str = "month", limit: int = 12) -> list[dict[str, Any]]:
    """Per period, newest last: joined, disqualified, exited, and active at the end of it."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    nodes = list(nodes)
    joined: Counter[str] = Counter(period_of(n.created_at, period) for n in nodes)
    dq: Counter[str] = Counter(period_of(n.disqualified_at, period) for n in nodes if n.disqualified_at)
    ex: Counter[str] = Counter(period_of(n.exit_finished_at, period) for n in nodes if n.exit_finished_at)
    out = []
    active = 0
    for p in sorted(set(joined) | set(dq) | set(ex)):
        left = sum(1 for n in nodes if (t := _left(n)) is not None and period_of(t, period) == p)
        active += joined[p] - left
        start = active - joined[p] + left
        out.append({"period": p, "joined": joined[p], "disqualified": dq[p], "exited": ex[p], "active_end": active,
                    "churn_rate": round(left / start, 4) if start else None})
    return out[-limit:]


def network_overview(nodes: Iterable[Any], *, now: float, online_window: float) -> dict[str, Any]:
    """Counts by state, capacity and utilization, and the same per country."""
    nodes = list(nodes)
    member = [n for n in nodes if n.disqualified_at is None and n.exit_finished_at is None]
    online = [n for n in member if now - n.last_contact_at.timestamp() <= online_window]
    offered = sum(n.capacity for n in member)
    used = sum(n.used for n in member)
    countries: dict[str, dict[str, int]] = {}
    for n in member:
        c = countries.setdefault((n.country_override or n.country or "??").upper(),
                                 {"nodes": 0, "online": 0, "capacity": 0, "used": 0})
        c["nodes"] += 1
        c["online"] += n in online
        c["capacity"] += n.capacity
        c["used"] += n.used
    return {
        "nodes": {
            "total": len(nodes),
            "members": len(member),
            "online": len(online),
            "vetted": sum(1 for n in member if n.vetted_at is not None),
            "suspended": sum(1 for n in member if n.suspended_at is not None),
            "disqualified": sum(1 for n in nodes if n.disqualified_at is not None),
            "exiting": sum(1 for n in member if n.exit_initiated_at is not None),
            "exited": sum(1 for n in nodes if n.exit_finished_at is not None),
        },
        "capacity": {
            "offered": offered,
            "used": used,
            "free": sum(n.free for n in member),
            "utilization": round(used / offered, 6) if offered else None,
            "online_offered": sum(n.capacity for n in online),
        },
        "by_country": [{"country": k, **v} for k, v in sorted(countries.items())],
    }
