"""The admin API's view of settlement: periods, batches with their transactions and failures,
the payer's balances on chain, and planning a period by hand (``/v1/settlement/...``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from satellite.errors import InvalidArgument
from satellite.payouts import Batch, ChainError, Payee, PeriodSummary

from .api import ADMIN_SERVICES, _body, _error, _iso

__all__ = ["SETTLEMENT_ROUTES", "batch_json", "period_json"]


def period_json(p: PeriodSummary) -> dict[str, Any]:
    return {
        "period": p.period,
        "planned_at": _iso(p.planned_at),
        "payees": p.payee_count,
        "total": str(p.total),  # token base units, as text: they overflow JSON's safe integers
        "paid": str(p.paid),
        "rolled_over": p.rolled_over,
        "batched": p.batched,
        "batches": dict(p.batches),
    }


def batch_json(b: Batch, *, payees: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": b.id,
        "period": b.period,
        "seq": b.seq,
        "state": str(b.state),
        "payees": len(b.payees),
        "total": str(b.total),
        "chain_batch": "0x" + b.chain_batch.hex(),
        "nonce": b.signed.nonce if b.signed else None,
        "tx_hash": b.signed.tx_hash if b.signed else None,
        "gas_limit": b.signed.gas_limit if b.signed else None,
        "block_number": b.block_number,
        "gas_used": b.gas_used,
        "attempts": b.attempts,
        "last_error": b.last_error or None,
        "retry_at": _iso(b.retry_at),
        "created_at": _iso(b.created_at),
        "signed_at": _iso(b.signed_at),
        "sent_at": _iso(b.sent_at),
        "confirmed_at": _iso(b.confirmed_at),
    }
    if payees:
        out["payouts"] = [{"node_id": p.node_id, "wallet": p.wallet, "amount": str(p.amount)} for p in b.payees]
    return out


def _payouts(request: web.Request) -> Any:
    svc = request.app[ADMIN_SERVICES].payouts
    if svc is None:
        raise web.HTTPNotFound(reason="Not Found")
    return svc


async def list_periods(request: web.Request) -> web.Response:
    return web.json_response({"periods": [period_json(p) for p in await _payouts(request).service.periods()]})


async def list_batches(request: web.Request) -> web.Response:
    period = request.query.get("period")
    batches = await _payouts(request).service.batches(period)
    return web.json_response({"batches": [batch_json(b, payees=period is not None) for b in batches]})


def _amount(value: Any, where: str) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidArgument(f"{where}: amount must be an integer of token base units (a number or decimal text)")


async def plan_period(request: web.Request) -> web.Response:
    """Hand a period to settlement, as accounting does; a period planned before is left alone."""
    svc = _payouts(request)
    data = await _body(request, {"period", "payees"}, {"period", "payees"})
    if not isinstance(data["payees"], list):
        raise InvalidArgument("payees must be a list of {node_id, wallet, amount}")
    payees = []
    for i, p in enumerate(data["payees"]):
        if not isinstance(p, dict) or set(p) != {"node_id", "wallet", "amount"}:
            raise InvalidArgument(f"payees[{i}] must be an object with node_id, wallet and amount")
        payees.append(Payee(str(p["node_id"]), str(p["wallet"]), _amount(p["amount"], f"payees[{i}]")))
    existed = await svc.service.store.has_period(data["period"])
    await svc.service.plan_period(data["period"], payees)
    (summary,) = [p for p in await svc.service.periods() if p.period == data["period"]]
    return web.json_response({**period_json(summary), "created": not existed}, status=200 if existed else 201)


async def chain_status(request: web.Request) -> web.Response:
    """The payer and its balances on the settlement chain (opening the chain if needed)."""
    svc = _payouts(request)
    try:
        status = await svc.chain_status()
    except ChainError as exc:
        return _error(503, "ChainUnavailable", str(exc))
    return web.json_response(status)


async def wallet_balance(request: web.Request) -> web.Response:
    """What a wallet holds of the payout token, on chain: what its node was paid."""
    from satellite.payouts.wallets import checksum_address

    svc = _payouts(request)
    try:
        wallet = checksum_address(request.match_info["wallet"])
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    try:
        balance = await svc.balance_of(wallet)
    except ChainError as exc:
        return _error(503, "ChainUnavailable", str(exc))
    return web.json_response({"wallet": wallet, "token_balance": str(balance)})


SETTLEMENT_ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/v1/settlement/periods", list_periods),
    ("POST", "/v1/settlement/periods", plan_period),
    ("GET", "/v1/settlement/batches", list_batches),
    ("GET", "/v1/settlement/chain", chain_status),
    ("GET", "/v1/settlement/wallets/{wallet}", wallet_balance),
]
