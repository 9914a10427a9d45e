"""Admin routes of the economy: periods and paystubs, the reserve fund, credits, statements.

Thin handlers over :class:`satellite.accounting.AccountingService` (``AdminServices.accounting``);
amounts are answered in the network's currency and, exactly, in token base units
(``*_units``). A tenant's statement is JSON, or CSV with ``?format=csv``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from satellite.db.accounting import PeriodAlreadyClosed
from satellite.errors import InvalidArgument, NotFound

__all__ = ["PAYOUT_ROUTES", "PeriodConflict"]


class PeriodConflict(Exception):
    """A period closed twice, or closed before it is over: 409, nothing changes."""


def _services(request: web.Request) -> Any:
    from .api import ADMIN_SERVICES

    svc = request.app[ADMIN_SERVICES]
    if svc.accounting is None:
        raise NotFound("accounting is not running on this satellite")
    return svc


def _limit(request: web.Request, default: int = 100) -> int:
    try:
        value = int(request.query.get("limit", default))
    except ValueError:
        raise InvalidArgument("limit must be an integer") from None
    if not 1 <= value <= 10_000:
        raise InvalidArgument("limit must be 1-10000")
    return value


async def list_periods(request: web.Request) -> web.Response:
    acc = _services(request).accounting
    rows = await acc.repo.periods()
    current = acc.closer.current()
    return web.json_response(
        {
            "currency": acc.config.currency,
            "current": {"period": current.id, "start": current.start, "end": current.end},
            "periods": [acc.period_json(r) for r in rows],
        }
    )


async def show_period(request: web.Request) -> web.Response:
    acc = _services(request).accounting
    period = acc.period(request.match_info["period"])
    row = await acc.repo.period(period.id)
    if row is None:
        raise NotFound(f"period {period.id} is not closed yet (periods close after they end and a tally covers them)")
    stubs = await acc.repo.paystubs(period=period.id)
    return web.json_response({**acc.period_json(row), "paystubs": [acc.paystub_json(p, p.period) for p in stubs]})


async def close_period(request: web.Request) -> web.Response:
    from satellite.accounting.periods import PeriodNotOver

    acc = _services(request).accounting
    period = acc.period(request.match_info["period"])
    try:
        await acc.closer.close(period)
    except (PeriodAlreadyClosed, PeriodNotOver) as e:
        raise PeriodConflict(str(e)) from None
    row = await acc.repo.period(period.id)
    return web.json_response(acc.period_json(row), status=201)


async def node_paystubs(request: web.Request) -> web.Response:
    svc = _services(request)
    node = await svc.repo.find_node(request.match_info["node"])
    return web.json_response(await svc.accounting.earnings(node.id))


async def reserve(request: web.Request) -> web.Response:
    return web.json_response(await _services(request).accounting.reserve_json(_limit(request)))


async def list_credits(request: web.Request) -> web.Response:
    svc = _services(request)
    tenant = request.query.get("tenant")
    tenant_id = (await svc.repo.find_tenant(tenant)).id if tenant else None
    acc = svc.accounting
    return web.json_response({"credits": [acc.reserve_entry_json(e) for e in await acc.repo.credit_entries(tenant_id)]})


async def create_credit(request: web.Request) -> web.Response:
    from .api import _body

    svc = _services(request)
    data = await _body(request, {"tenant", "amount", "reason"}, {"tenant", "amount", "reason"})
    if not isinstance(data["tenant"], str):
        raise InvalidArgument("tenant must be a string (id or name)")
    ref = await svc.repo.find_tenant(data["tenant"])
    entry = await svc.accounting.compensation.credit_by_hand(ref.id, data["amount"], data["reason"])
    return web.json_response({**svc.accounting.reserve_entry_json(entry), "tenant": ref.name}, status=201)


async def list_incidents(request: web.Request) -> web.Response:
    svc = _services(request)
    tenant = request.query.get("tenant")
    tenant_id = (await svc.repo.find_tenant(tenant)).id if tenant else None
    acc = svc.accounting
    rows = await acc.repo.incidents(tenant_id, _limit(request, 200))
    return web.json_response({"incidents": [acc.incident_json(i) for i in rows]})


async def tenant_statement(request: web.Request) -> web.Response:
    svc = _services(request)
    ref = await svc.repo.find_tenant(request.match_info["tenant"])
    fmt = request.query.get("format", "json")
    if fmt not in ("json", "csv"):
        raise InvalidArgument(f"format must be json or csv, got {fmt!r}")
    st = await svc.accounting.statement({"id": ref.id, "name": ref.name}, request.query.get("period"))
    if fmt == "csv":
        return web.Response(
            text=svc.accounting.statement_csv(st),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{ref.name}-{st["period"]}.csv"'},
        )
    return web.json_response(st)


PAYOUT_ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/v1/payouts/periods", list_periods),
    ("GET", "/v1/payouts/periods/{period}", show_period),
    ("POST", "/v1/payouts/periods/{period}/close", close_period),
    ("GET", "/v1/payouts/nodes/{node}", node_paystubs),
    ("GET", "/v1/payouts/reserve", reserve),
    ("GET", "/v1/payouts/credits", list_credits),
    ("POST", "/v1/payouts/credits", create_credit),
    ("GET", "/v1/payouts/incidents", list_incidents),
    ("GET", "/v1/tenants/{tenant}/statement", tenant_statement),
]
