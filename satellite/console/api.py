"""The console's routes on the admin app, and the audit log of every change.

The page (``/console/``) and its scripts are static files served without the token: they
hold no data, and ask the person for the admin token, which they then send as the bearer
header on every call, exactly as the CLI does. The data the console needs beyond the admin
API proper lives under ``/v1/console/``, behind the same token: nodes with their scores, the
network's overview and churn, audit failures, the repair queue, graceful exits, and the
admin audit log.

**Audit log.** :func:`audit_log_middleware` runs before authentication and records every
POST, PUT and DELETE — the console's, the CLI's or a script's — with its route, body,
status and error, so refused attempts (a wrong token, a policy still in use) are there too.
Destructive actions (disqualify, delete a policy, revoke a key) are confirmed in the page
before they are sent.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

import common.webui
from satellite.admin.api import ADMIN_SERVICES, PUBLIC_PREFIX, node_json
from satellite.db.console import ConsoleRepository
from satellite.errors import InvalidArgument

from .accounting import economics
from .economics import PERIODS, churn, network_overview

__all__ = ["CONSOLE", "audit_log_middleware", "install_console"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CONSOLE = web.AppKey("console_repository", ConsoleRepository)
_CHANGES = ("POST", "PUT", "DELETE", "PATCH")


def audit_log_middleware(repo: ConsoleRepository) -> Any:
    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method not in _CHANGES:
            return await handler(request)
        body = (await request.read()).decode("utf-8", "replace")
        resp = await handler(request)
        result = ""
        if resp.status >= 400 and isinstance(resp, web.Response) and resp.body is not None:
            try:
                result = json.loads(bytes(resp.body))["error"]["message"]  # type: ignore[arg-type]
            except (ValueError, KeyError, TypeError):
                result = ""
        info = request.match_info.route.resource
        route = f"{request.method} {info.canonical if info is not None else request.path}"
        try:
            await repo.record(remote=request.remote or "", method=request.method, route=route, path=request.path,
                              status=resp.status, body=body, result=result)
        except Exception:  # an audit log that cannot be written must be loud, not silent
            log.exception("could not write the admin audit log for %s %s", request.method, request.path)
            return web.json_response(
                {"error": {"code": "AuditLogUnavailable",
                           "message": "the change was made but could not be written to the admin audit log; "
                                      "see the satellite's log"}}, status=500)
        return resp

    return middleware


def _limit(request: web.Request, default: int = 100) -> int:
    try:
        limit = int(request.query.get("limit", str(default)))
    except ValueError:
        raise InvalidArgument("limit must be an integer") from None
    if not 1 <= limit <= 1000:
        raise InvalidArgument("limit must be 1-1000")
    return limit


def _scores(state: Any) -> dict[str, float]:
    return {"audit": round(state.audit_score, 6), "unknown": round(state.unknown_score, 6),
            "online": round(state.online_score, 6)}


def _status(row: dict[str, Any]) -> str:
    if row["disqualified"]:
        return "disqualified"
    if row["exiting"]:
        return "exiting"
    if row["suspended"]:
        return "suspended"
    return "online" if row["online"] else "offline"


async def console_nodes(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    now = time.time()
    out = []
    for node, state in await svc.reputation.store.standings():
        row = node_json(node, svc.selection, now)
        row["scores"] = _scores(state)
        row["status"] = _status(row)
        row["audits_to_vetting"] = (
            0 if node.vetted_at is not None else max(0, svc.reputation.config.vetting_audits - state.success_count)
        )
        out.append(row)
    c = svc.reputation.config
    return web.json_response({"nodes": out, "thresholds": {
        "audit_disqualify": c.audit_dq_threshold, "unknown_suspend": c.unknown_suspend_threshold,
        "online_suspend": c.online_suspend_threshold}})


async def console_overview(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    period = request.query.get("period", "month")
    if period not in PERIODS:
        raise InvalidArgument(f"period must be one of {', '.join(PERIODS)}")
    nodes = await svc.repo.list_nodes()
    body = network_overview(nodes, now=time.time(), online_window=svc.selection.online_window)
    body["churn"] = {"period": period, "periods": churn(nodes, period)}
    body["accounting"] = await economics(svc.accounting, svc.payouts, svc.tenancy)
    return web.json_response(body)


async def console_economics(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    return web.json_response(await economics(svc.accounting, svc.payouts, svc.tenancy))


async def console_audits(request: web.Request) -> web.Response:
    return web.json_response({"failures": await request.app[CONSOLE].audit_failures(_limit(request))})


async def console_repair(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CONSOLE].repair_summary())


async def console_exits(request: web.Request) -> web.Response:
    return web.json_response({"exits": await request.app[CONSOLE].exits()})


async def console_audit_log(request: web.Request) -> web.Response:
    return web.json_response({"entries": await request.app[CONSOLE].audit_log(_limit(request))})


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def _to_console(request: web.Request) -> web.Response:
    raise web.HTTPFound(PUBLIC_PREFIX)


def install_console(app: web.Application, repo: ConsoleRepository) -> None:
    """Add the console's pages and data routes to an admin app (before it starts)."""
    app[CONSOLE] = repo
    app.router.add_get("/", _to_console)
    app.router.add_get(PUBLIC_PREFIX, _index)
    app.router.add_static(PUBLIC_PREFIX + "common/", common.webui.STATIC)
    app.router.add_static(PUBLIC_PREFIX + "static/", STATIC)
    for path, handler in (
        ("/v1/console/nodes", console_nodes),
        ("/v1/console/overview", console_overview),
        ("/v1/console/economics", console_economics),
        ("/v1/console/audit-failures", console_audits),
        ("/v1/console/repair", console_repair),
        ("/v1/console/exits", console_exits),
        ("/v1/console/audit-log", console_audit_log),
    ):
        app.router.add_get(path, handler)
