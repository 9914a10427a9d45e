"""``geoshard admin payouts …`` and ``geoshard admin tenant statement``: the economy from a shell.

Periods with their totals and margin, one period's paystubs, closing a period by hand, the
reserve fund's balance and movements, credits (listing them and giving one with a reason),
data-loss incidents, and a tenant's statement as a table, JSON or CSV.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from .client import AdminClient

__all__ = ["register_payouts", "register_statement"]

P = AdminClient.path
Leaf = Callable[..., argparse.ArgumentParser]


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    from .cli import _table as table

    return table(rows, columns)


def _fields(data: dict[str, Any], skip: Sequence[str] = ()) -> str:
    from .cli import _fields as fields

    return fields(data, skip)


_PERIOD_COLS = [("period", "PERIOD"), ("settlement", "SETTLEMENT"), ("nodes", "NODES"), ("payees", "PAYEES"),
                ("revenue", "REVENUE"), ("gross", "OPERATORS"), ("to_pay", "TO PAY"), ("held", "HELD"),
                ("reserve_in", "RESERVE IN"), ("reserve_out", "RESERVE OUT"), ("margin", "MARGIN")]  # fmt: skip
_STUB_COLS = [("short", "NODE"), ("byte_hours", "BYTE-HOURS"), ("egress_get", "EGRESS"), ("gross", "GROSS"),
              ("held", "HELD"), ("returned", "RETURNED"), ("to_pay", "TO PAY"), ("carried_out", "CARRIED"),
              ("note", "NOTE")]  # fmt: skip
_MOVE_COLS = [("id", "ID"), ("at", "AT"), ("period", "PERIOD"), ("kind", "KIND"), ("amount", "AMOUNT"),
              ("tenant_id", "TENANT"), ("reason", "REASON")]  # fmt: skip
_INCIDENT_COLS = [("id", "ID"), ("found_at", "FOUND"), ("tenant_id", "TENANT"), ("bucket", "BUCKET"), ("key", "KEY"),
                  ("bytes", "BYTES"), ("healthy", "HEALTHY"), ("k", "K"), ("credit", "CREDIT")]  # fmt: skip


def periods(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", "/v1/payouts/periods")
    cur = r["current"]
    return r, f"current period {cur['period']} (open)\n" + _table(r["periods"], _PERIOD_COLS)


def period(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", P("v1", "payouts", "periods", a.period))
    stubs = [{**p, "short": p["node_id"][:12], "egress_get": p["egress"]["get"]} for p in r["paystubs"]]
    return r, _fields(r, skip=("paystubs",)) + "\n\n" + _table(stubs, _STUB_COLS)


def close(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("POST", P("v1", "payouts", "periods", a.period, "close"))
    return r, "closed period\n" + _fields(r)


def reserve(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", "/v1/payouts/reserve", query={"limit": str(a.limit)})
    return r, f"reserve fund balance {r['balance']} {r['currency']}\n" + _table(r["movements"], _MOVE_COLS)


def credits(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", "/v1/payouts/credits", query={"tenant": a.tenant} if a.tenant else None)
    return r, _table(r["credits"], _MOVE_COLS)


def credit(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("POST", "/v1/payouts/credits", {"tenant": a.tenant, "amount": a.amount, "reason": a.reason})
    return r, "credited\n" + _fields(r)


def incidents(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", "/v1/payouts/incidents", query={"tenant": a.tenant} if a.tenant else None)
    return r, _table(r["incidents"], _INCIDENT_COLS)


def node(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", P("v1", "payouts", "nodes", a.node))
    cur = r["current_period"]
    stubs = [{**p, "short": p["period"], "egress_get": p["egress"]["get"]} for p in r["paystubs"]]
    text = (
        f"node {r['node_id']}\nthis period {cur['period']}: gross {cur['gross']} {r['currency']} so far, "
        f"held total {r['held_total']}, paid {r['paid_total']}, awaiting settlement {r['pending_total']}\n"
    )
    return r, text + _table(stubs, [("short", "PERIOD"), *_STUB_COLS[1:]])


def statement(c: AdminClient, a: argparse.Namespace) -> Any:
    query = {"period": a.period} if a.period else {}
    if a.csv:
        text = c.call("GET", P("v1", "tenants", a.tenant, "statement"), query={**query, "format": "csv"}, raw=True)
        return {"csv": text}, text.rstrip("\n")
    r = c.call("GET", P("v1", "tenants", a.tenant, "statement"), query=query or None)
    u, cur = r["usage"], r["currency"]
    rates = r["rates"]
    lines = [
        f"statement of {r['tenant']['name']} for {r['period']}"
        + (" (estimate: the period is open)" if r["estimate"] else ""),
        f"storage    {u['byte_hours']} byte-hours at {rates['storage_per_tb_month']} {cur}/TB-month   "
        f"{r['storage_charge']}",
        f"egress     {u['egress']} bytes at {r['rates']['egress_per_tb']} {cur}/TB   {r['egress_charge']}",
        f"requests   {u['class_a']} class A, {u['class_b']} class B   {r['request_charge']}",
        f"credits    -{r['credits']}",
        f"total      {r['total']} {cur}",
    ]  # fmt: skip
    return r, "\n".join(lines)


def register_payouts(groups: Any, leaf: Leaf) -> None:
    g = groups.add_parser("payouts", help="operator payouts, the reserve fund, credits").add_subparsers(
        metavar="ACTION", required=True
    )
    leaf(g, "periods", periods, "closed periods: revenue, operator payouts, reserve in/out, margin")
    leaf(g, "period", period, "one closed period and every node's paystub").add_argument("period")
    leaf(g, "close", close, "close an ended period now (normally the satellite does)").add_argument("period")
    leaf(g, "node", node, "a node's earnings: estimate, paystubs, held total").add_argument("node")
    leaf(g, "reserve", reserve, "the reserve fund's balance and movements").add_argument(
        "--limit", type=int, default=50
    )
    leaf(g, "credits", credits, "credits given to tenants").add_argument("--tenant", help="id or name")
    p = leaf(g, "credit", credit, "credit a tenant from the reserve fund, with a reason")
    p.add_argument("tenant", help="id or name")
    p.add_argument("amount", help="in the network's currency, e.g. 12.50")
    p.add_argument("--reason", required=True)
    leaf(g, "incidents", incidents, "data-loss incidents and their credits").add_argument("--tenant", help="id or name")


def register_statement(tenant_group: Any, leaf: Leaf) -> None:
    p = leaf(tenant_group, "statement", statement, "a tenant's statement for a period (default: the current one)")
    p.add_argument("tenant", help="id or name")
    p.add_argument("--period", help="YYYY-MM (or a devnet's YYYYMMDDTHHMMSS)")
    p.add_argument("--csv", action="store_true", help="print CSV, one line per charge")
