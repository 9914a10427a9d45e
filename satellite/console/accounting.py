"""The console's economy document: accounting periods, operators, tenants, reserve and settlement.

Everything here is read from the satellite's own services — the accounting repository (closed
periods, paystubs, statements, the reserve ledger, credits and incidents) and the settlement
store (batches and their transactions) — the same data the admin routes ``/v1/payouts/*`` and
``/v1/settlement/*`` serve, gathered into one answer for the page. A satellite without
accounting says so (``available: false``) and carries no numbers.

*Operators* are told apart by payout wallet (a node without one counts as its own operator):
revenue per operator is a period's customer revenue over the operators paid gross that period.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from satellite.admin.settlement_api import batch_json, period_json

__all__ = ["economics", "operators"]

PERIODS_SHOWN = 24
MOVEMENTS_SHOWN = 50


def operators(stubs: list[Any]) -> dict[str, list[Any]]:
    """Paystubs with a gross amount, grouped by operator (wallet, else node id)."""
    out: dict[str, list[Any]] = defaultdict(list)
    for p in stubs:
        if p.gross > 0:
            out[p.wallet or p.node_id].append(p)
    return out


def _off(message: str) -> dict[str, Any]:
    return {"available": False, "message": message, "currency": None, "current": None, "periods": [],
            "revenue_per_operator": [], "statements": [], "reserve": None, "credits": [], "incidents": [],
            "settlement": None}  # fmt: skip


async def economics(accounting: Any, settlement: Any, tenancy: Any) -> dict[str, Any]:
    """Revenue, payouts, reserve and margin per period; statements; reserve; settlement batches."""
    if accounting is None:
        return _off("Accounting is not running on this satellite, so there is no revenue, payout or reserve to show.")
    acc = accounting
    money = acc.prices.money
    rows = (await acc.repo.periods())[:PERIODS_SHOWN]
    names = {t.id: t.name for t in await tenancy.list_tenants()}
    periods, per_operator = [], []
    for row in rows:
        ops = operators(await acc.repo.paystubs(period=row.period))
        n = len(ops)
        each = row.revenue // n if n else None
        periods.append({**acc.period_json(row), "payouts": money(row.gross), "payouts_units": str(row.gross),
                        "operators": n})  # fmt: skip
        per_operator.append({
            "period": row.period,
            "operators": n,
            "revenue": money(row.revenue),
            "revenue_per_operator": None if each is None else money(each),
            "revenue_per_operator_units": None if each is None else str(each),
            "by_operator": sorted(
                ({"operator": op, "nodes": len(ps), "byte_hours": sum(p.byte_hours for p in ps),
                  "gross": money(sum(p.gross for p in ps)), "gross_units": str(sum(p.gross for p in ps)),
                  "to_pay": money(sum(p.to_pay for p in ps))} for op, ps in ops.items()),
                key=lambda o: -int(o["gross_units"]),
            ),
        })
    statements = []
    if rows:
        for st in await acc.repo.statements(rows[0].period):
            statements.append({
                "tenant_id": st.tenant_id, "tenant": names.get(st.tenant_id, st.tenant_id), "period": st.period,
                "byte_hours": st.byte_hours, "egress": st.egress, "class_a": st.class_a, "class_b": st.class_b,
                "revenue": money(st.revenue), "credits": money(st.credits), "total": money(st.total),
                "total_units": str(st.total), "reserve_share": money(st.reserve_share),
            })  # fmt: skip
    reserve = await acc.reserve_json(MOVEMENTS_SHOWN)
    current = acc.closer.current()
    return {
        "available": True,
        "message": None,
        "currency": acc.config.currency,
        "current": {"period": current.id, "start": current.start, "end": current.end},
        "periods": periods,
        "revenue_per_operator": per_operator,
        "statements": statements,
        "reserve": reserve,
        "credits": [acc.reserve_entry_json(e) for e in await acc.repo.credit_entries()][:MOVEMENTS_SHOWN],
        "incidents": [acc.incident_json(i) for i in await acc.repo.incidents(None, MOVEMENTS_SHOWN)],
        "settlement": await _settlement(settlement),
    }


async def _settlement(payouts: Any) -> dict[str, Any]:
    if payouts is None:
        return {"available": False, "message": "Settlement on chain is not configured on this satellite.",
                "periods": [], "batches": []}  # fmt: skip
    return {
        "available": True,
        "message": None,
        "periods": [period_json(p) for p in await payouts.service.periods()],
        "batches": [batch_json(b) for b in await payouts.service.batches(None)][:MOVEMENTS_SHOWN],
    }
