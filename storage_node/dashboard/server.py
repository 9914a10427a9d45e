"""The dashboard's HTTP side: static pages, the JSON API and its token check.

Pages and scripts are plain files shipped in the package (``static/`` here and the shared
chart code in ``common/webui``); nothing is fetched from elsewhere and nothing is built.
The pages poll the JSON API (docs/node-dashboard.md) and redraw without a reload.

**Who may read it.** Bound to a loopback address (the default), the dashboard answers anyone
on this machine, as Storj's does. Bound to any other address it answers the API only with
``Authorization: Bearer <dashboard_token>`` — from loopback too, since a reverse proxy on
this machine would otherwise make every remote visitor look local — and refuses to start
without a token. The pages themselves hold no data; they ask for the token when the API
answers 401.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

import common.webui
from storage_node.config import ConfigError
from storage_node.dashboard.multinode import MultinodeView, NodeUnreachable, PeerNodes, normalize_url
from storage_node.dashboard.service import DashboardService
from storage_node.http_server import HttpServer
from storage_node.pieces.retain_progress import read_progress

__all__ = ["DashboardServer", "create_dashboard_app", "is_loopback"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
SERVICE = web.AppKey("dashboard_service", DashboardService)
MULTINODE = web.AppKey("dashboard_multinode", MultinodeView)
TOKEN = web.AppKey("dashboard_token", str)
OPEN = web.AppKey("dashboard_open", bool)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message}}, status=status)


@web.middleware
async def _auth(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path.startswith("/api/") and not request.app[OPEN]:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), request.app[TOKEN].encode()):
            return _error(401, "this dashboard needs 'Authorization: Bearer <dashboard_token>' "
                               "(dashboard_token in the node's config.toml)")
    if request.path.startswith("/api/"):
        request.app[SERVICE].watched()  # someone reads it: keep the satellite's answers fresh
    try:
        return await handler(request)
    except ValueError as e:
        return _error(400, str(e))


def _page(name: str) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    async def handler(request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    return handler


async def summary(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].summary())


async def history(request: web.Request) -> web.Response:
    svc = request.app[SERVICE]
    try:
        since = float(request.query.get("since", time.time() - 7 * 86400))
        points = int(request.query.get("points", "500"))
    except ValueError:
        raise ValueError("since must be unix seconds and points an integer") from None
    if not 2 <= points <= 5000:
        raise ValueError("points must be 2-5000")
    rep = svc.reputation or {}
    return web.json_response({
        "samples": [s.to_json() for s in svc.history.read(since, points)],
        "thresholds": rep.get("thresholds"),
        "capacity": svc.store.capacity,
        "interval_seconds": svc.config.history_interval,
    })


async def retain(request: web.Request) -> web.Response:
    """The current or last retain pass (garbage collection): progress, pieces kept and trashed."""
    body = read_progress(request.app[SERVICE].store.root)
    return web.json_response(body if body is not None else {"state": "none", "progress": None})


async def payouts(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].payouts())


def _own_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def multinode(request: web.Request) -> web.Response:
    view = request.app[MULTINODE]
    return web.json_response(await view.view(request.app[SERVICE].summary(), _own_url(request)))


async def add_peer(request: web.Request) -> web.Response:
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError:
        raise ValueError("the body must be JSON: {\"url\": …, \"token\": …, \"name\": …}") from None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise ValueError("url is required: the other node's dashboard URL")
    url = normalize_url(data["url"])
    token = data.get("token") or ""
    name = (data.get("name") or "").strip() or url.split("://", 1)[1]
    if not isinstance(token, str) or not isinstance(name, str):
        raise ValueError("token and name must be strings")
    view = request.app[MULTINODE]
    try:
        s = await view.check(url, token)  # refuse a node that cannot be read, and say why, now
    except NodeUnreachable as e:
        return _error(400, str(e))
    peer_id = view.peers.add(name, url, token)
    return web.json_response({"id": peer_id, "name": name, "url": url, "node_id": s["node"]["id"]}, status=201)


async def remove_peer(request: web.Request) -> web.Response:
    try:
        peer_id = int(request.match_info["id"])
    except ValueError:
        raise ValueError("peer id must be an integer") from None
    if not request.app[MULTINODE].peers.remove(peer_id):
        return _error(404, f"no node {peer_id} in the multi-node view")
    return web.json_response({"removed": peer_id})


def create_dashboard_app(service: DashboardService, *, token: str, open_access: bool) -> web.Application:
    app = web.Application(middlewares=[_auth], client_max_size=64 * 1024)
    app[SERVICE] = service
    app[TOKEN] = token
    app[OPEN] = open_access
    app[MULTINODE] = MultinodeView(PeerNodes(service.db.conn))

    async def close_multinode(app: web.Application) -> None:
        await app[MULTINODE].close()

    app.on_cleanup.append(close_multinode)
    app.router.add_get("/", _page("index.html"))
    app.router.add_get("/multinode", _page("multinode.html"))
    app.router.add_get("/api/summary", summary)
    app.router.add_get("/api/history", history)
    app.router.add_get("/api/payouts", payouts)
    app.router.add_get("/api/retain", retain)
    app.router.add_get("/api/multinode", multinode)
    app.router.add_post("/api/multinode/nodes", add_peer)
    app.router.add_delete("/api/multinode/nodes/{id}", remove_peer)
    app.router.add_static("/static/common/", common.webui.STATIC)
    app.router.add_static("/static/", STATIC)
    return app


class DashboardServer(HttpServer):
    """Serves the dashboard on ``dashboard_host:dashboard_port``; ``url`` once bound."""

    name = "the dashboard"

    def __init__(self, service: DashboardService) -> None:
        c = service.config
        if not is_loopback(c.dashboard_host) and not c.dashboard_token:
            raise ConfigError(
                f"the dashboard listens on {c.dashboard_host}, beyond this machine, but dashboard_token is empty: "
                "set dashboard_token in config.toml (any long random string) or dashboard_host = \"127.0.0.1\""
            )
        app = create_dashboard_app(service, token=c.dashboard_token, open_access=is_loopback(c.dashboard_host))
        super().__init__(app, c.dashboard_host, c.dashboard_port)
        self.url = ""
        self.error = ""

    async def bind(self) -> None:
        try:
            await super().bind()
        except OSError as e:
            # Pieces matter more than the page: keep serving them, and say loudly why there is none.
            self.error = f"cannot listen on {self.host}:{self.port}: {e.strerror or e}; set dashboard_port"
            log.error("no dashboard: %s", self.error)
            return
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else ("[::1]" if self.host == "::" else self.host)
        self.url = f"http://{host}:{self.port}"
