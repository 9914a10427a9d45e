"""``geoshard admin settlement …``: what settlement did — periods, batches, transactions, failures."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from .client import AdminClient, AdminClientError

__all__ = ["register_settlement"]

_PERIOD_COLS = [
    ("period", "PERIOD"),
    ("payees", "PAYEES"),
    ("total", "TOTAL"),
    ("paid", "PAID"),
    ("rolled_over", "ROLLED OVER"),
    ("batches", "BATCHES"),
    ("planned_at", "PLANNED"),
]
_BATCH_COLS = [
    ("period", "PERIOD"),
    ("seq", "#"),
    ("state", "STATE"),
    ("payees", "PAYEES"),
    ("total", "TOTAL"),
    ("nonce", "NONCE"),
    ("tx_hash", "TX"),
    ("block_number", "BLOCK"),
    ("attempts", "SIGNED"),
    ("last_error", "LAST ERROR"),
]


def payouts_periods(c: AdminClient, a: argparse.Namespace) -> Any:
    from .cli import _table

    r = c.call("GET", "/v1/settlement/periods")
    return r, _table(r["periods"], _PERIOD_COLS)


def payouts_batches(c: AdminClient, a: argparse.Namespace) -> Any:
    from .cli import _table

    r = c.call("GET", "/v1/settlement/batches", query={"period": a.period} if a.period else None)
    rows = [{**b, "last_error": (b["last_error"] or "")[:60] or None} for b in r["batches"]]
    text = _table(rows, _BATCH_COLS)
    if a.period:
        payouts = [{**p, "batch": b["seq"], "state": b["state"]} for b in r["batches"] for p in b["payouts"]]
        cols = [("batch", "BATCH"), ("node_id", "NODE"), ("wallet", "WALLET"), ("amount", "AMOUNT"), ("state", "STATE")]
        text += "\n\n" + _table(payouts, cols)
    return r, text


def payouts_chain(c: AdminClient, a: argparse.Namespace) -> Any:
    from .cli import _fields

    r = c.call("GET", "/v1/settlement/chain")
    return r, _fields(r)


def payouts_balance(c: AdminClient, a: argparse.Namespace) -> Any:
    r = c.call("GET", c.path("v1", "settlement", "wallets", a.wallet))
    return r, f"{r['wallet']}  {r['token_balance']}"


def payouts_plan(c: AdminClient, a: argparse.Namespace) -> Any:
    from .cli import _fields

    payees: list[dict[str, Any]] = []
    if a.file:
        with open(a.file) as f:
            payees = json.load(f)
    for spec in a.payee or []:
        parts = spec.split(":")
        if len(parts) != 3:
            raise AdminClientError(0, "Usage", f"--payee {spec!r}: expected NODE_ID:WALLET:AMOUNT")
        payees.append({"node_id": parts[0], "wallet": parts[1], "amount": parts[2]})
    r = c.call("POST", "/v1/settlement/periods", {"period": a.period, "payees": payees})
    head = "planned period" if r.pop("created") else "already planned; left as it was"
    return r, head + "\n" + _fields(r)


def register_settlement(groups: Any, leaf: Callable[..., argparse.ArgumentParser]) -> None:
    help_ = "settlement on chain: batches, transactions, the payer"
    g = groups.add_parser("settlement", help=help_).add_subparsers(metavar="ACTION", required=True)
    leaf(g, "periods", payouts_periods, "periods handed to settlement: totals paid and rolled over")
    p = leaf(g, "batches", payouts_batches, "batches: state, nonce, transaction hash, failures")
    p.add_argument("--period", help="only this period, with every payout")
    leaf(g, "chain", payouts_chain, "the settlement chain, contracts and the payer's balances")
    leaf(g, "balance", payouts_balance, "a wallet's balance of the payout token, on chain").add_argument("wallet")
    p = leaf(g, "plan", payouts_plan, "hand a period's payees to settlement by hand (once per period)")
    p.add_argument("period")
    p.add_argument("--payee", action="append", metavar="NODE:WALLET:AMOUNT", help="amount in token base units")
    p.add_argument("--file", help="a JSON list of {node_id, wallet, amount}")
