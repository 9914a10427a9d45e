"""The admin API: an aiohttp app on its own port, bearer-token authenticated, JSON in and out.

It is never mounted on the S3 port nor on the satellite's public API (DESIGN §7): the
satellite's peer runs it as a separate site on ``admin_host:admin_port``. Handlers are thin:
they parse, call the service that owns the data (tenancy, the node registry) or the admin
repository, and answer with JSON. Domain errors become HTTP here and only here; each
carries a message a person can act on, usually naming the command that fixes it.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from common.countries import is_country_code
from satellite.db.policy_aliases import PolicyAliasRepository
from satellite.errors import (
    InvalidArgument,
    NotFound,
    PolicyExists,
    PolicyInUse,
    TenantExists,
)
from satellite.nodeselection import PlacementPolicy, PolicyError, SelectionConfig, is_eligible, normalize_region
from satellite.overlay.geoip import decide

from .openapi import openapi_spec
from .payouts import PAYOUT_ROUTES, PeriodConflict
from .repair_status import REPAIR_STATUS, RepairStatusView, repair_status
from .report import ComplianceReport
from .repository import AdminRepository, node_candidate

__all__ = ["ADMIN_SERVICES", "PUBLIC_PREFIX", "AdminServices", "create_admin_app", "node_json"]

log = logging.getLogger(__name__)


@dataclass
class AdminServices:
    """What the admin API needs; built by the satellite's peer (or a test) from one database."""

    tenancy: Any  # satellite.tenancy.service.TenancyService
    nodes: Any  # satellite.db.nodes.NodeRepository: overrides, disqualify, reinstate
    repo: AdminRepository
    selection: SelectionConfig
    token: str
    # Placement caches a snapshot of the node table; an admin change must not wait it out.
    on_nodes_changed: Callable[[], None] = field(default=lambda: None)
    reputation: Any = None  # satellite.reputation.ReputationService: scores and audit history
    graceful_exit: Any = None  # satellite.gracefulexit.GracefulExitService: exit state and progress
    gc: Any = None  # satellite.db.gc.GCRepository: the last retain list sent to a node
    repair: Any = None  # satellite.repair.RepairService: queue, counters, capacity shortfalls
    accounting: Any = None  # satellite.accounting.AccountingService: periods, reserve, statements
    payouts: Any = None  # satellite.payouts.Settlement: periods, batches, the payer on chain
    role: str = "all"  # the process's role (satellite.roles), for GET /v1/chores
    chores_here: Callable[[], dict[str, bool]] | None = None  # leased chore -> held by this process
    residency: Any = None  # satellite.residency.ResidencyService: where metadata lives, the ledger


ADMIN_SERVICES = web.AppKey("admin_services", AdminServices)
# Served without the token: Prometheus scrapes and health checks (satellite/metrics); no data.
UNAUTHENTICATED = frozenset({"/health", "/metrics"})
# Paths served without the token: the console's static pages (satellite/console), never data.
PUBLIC_PREFIX = "/console/"

_STATUS: list[tuple[type[Exception], int]] = [
    (NotFound, 404),
    (PolicyExists, 409),
    (TenantExists, 409),
    (PolicyInUse, 409),
    (PeriodConflict, 409),
    (InvalidArgument, 400),
    (PolicyError, 400),
    (ValueError, 400),  # SchemeError and friends: bad arguments
]


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


@web.middleware
async def _auth_and_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.path in UNAUTHENTICATED:
        return await handler(request)
    if request.path == "/" or request.path.startswith(PUBLIC_PREFIX):
        return await handler(request)  # the console's pages and scripts: no data, it logs in itself
    token = request.app[ADMIN_SERVICES].token
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return _error(
            401,
            "Unauthorized",
            "the admin API needs 'Authorization: Bearer <admin token>' "
            "(the admin_token in the satellite's config; GEOSHARD_ADMIN_TOKEN for the CLI)",
            **{"WWW-Authenticate": 'Bearer realm="geoshard-admin"'},
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return _error(
            401,
            "Unauthorized",
            "wrong admin token",
            **{"WWW-Authenticate": 'Bearer realm="geoshard-admin", error="invalid_token"'},
        )
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason.replace(" ", ""), f"{request.method} {request.path}: {exc.reason}")
    except Exception as exc:
        for kind, status in _STATUS:
            if isinstance(exc, kind):
                return _error(status, type(exc).__name__, str(exc))
        log.exception("admin API: %s %s failed", request.method, request.path)
        return _error(500, "InternalError", f"internal error ({type(exc).__name__}); see the satellite's log")


async def _body(request: web.Request, allowed: set[str], required: set[str] = frozenset()) -> dict[str, Any]:
    try:
        data = json.loads(await request.read() or b"{}")
    except ValueError as exc:
        raise InvalidArgument(f"the request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument("the request body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidArgument(f"unknown field: {', '.join(unknown)} (expected {', '.join(sorted(allowed))})")
    missing = sorted(required - set(data))
    if missing:
        raise InvalidArgument(f"missing field: {', '.join(missing)}")
    return data


def _opt_str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"{key} must be a string or null")
    return value or None


def _iso(t: Any) -> str | None:
    return None if t is None else t.isoformat()


# --- policies ---------------------------------------------------------------------------


async def list_policies(request: web.Request) -> web.Response:
    policies = await request.app[ADMIN_SERVICES].tenancy.list_policies()
    return web.json_response({"policies": [p.to_dict() for p in policies]})


async def create_policy(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    data = await _body(request, {f for f in PlacementPolicy.__dataclass_fields__}, {"name", "scheme"})
    policy = await svc.tenancy.create_policy(PlacementPolicy.from_dict(data))
    return web.json_response(policy.to_dict(), status=201)


async def show_policy(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    name = request.match_info["name"]
    policy = await svc.tenancy.get_policy(name)
    buckets, tenants = await svc.repo.policy_users(name)
    return web.json_response({**policy.to_dict(), "buckets": buckets, "default_for_tenants": tenants})


async def policy_aliases(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    aliases = await PolicyAliasRepository(request.app[ADMIN_SERVICES].repo.db).aliases(name)
    return web.json_response({"policy": name, "aliases": aliases})


async def set_policy_aliases(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    data = await _body(request, {"aliases"}, {"aliases"})
    given = data["aliases"]
    if not isinstance(given, list) or not all(isinstance(a, str) for a in given):
        raise InvalidArgument("aliases must be a list of names, e.g. [\"eu-west-1\", \"eu-central-1\"]")
    aliases = await PolicyAliasRepository(request.app[ADMIN_SERVICES].repo.db).set_aliases(name, given)
    return web.json_response({"policy": name, "aliases": aliases})
async def update_policy(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    name = request.match_info["name"]
    data = await _body(request, {f for f in PlacementPolicy.__dataclass_fields__}, {"scheme"})
    if data.setdefault("name", name) != name:
        raise InvalidArgument(
            f"the body names policy {data['name']!r} but the path {name!r}; a policy cannot be renamed"
        )
    policy = await svc.tenancy.update_policy(PlacementPolicy.from_dict(data))
    return web.json_response(policy.to_dict())


async def delete_policy(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    name = request.match_info["name"]
    buckets, tenants = await svc.repo.policy_users(name)
    if buckets or tenants:
        uses = []
        if buckets:
            uses.append(f"bucket{'s' * (len(buckets) > 1)} {', '.join(buckets)}")
        if tenants:
            uses.append(f"the default of tenant{'s' * (len(tenants) > 1)} {', '.join(tenants)}")
        raise PolicyInUse(
            f"placement policy {name!r} is used by {' and '.join(uses)}; move them to another policy "
            "first ('geoshard admin bucket set-policy', 'geoshard admin tenant set-default-policy')"
        )
    await svc.tenancy.delete_policy(name)  # checks again inside its transaction
    return web.json_response({"deleted": name})


# --- tenants and keys -------------------------------------------------------------------


def _tenant_json(t: Any) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "default_policy": t.default_policy, "created_at": _iso(t.created_at)}


def _key_json(k: Any) -> dict[str, Any]:
    return {
        "access_key_id": k.access_key_id,
        "tenant_id": k.tenant_id,
        "status": k.status,
        "created_at": _iso(k.created_at),
    }


async def list_tenants(request: web.Request) -> web.Response:
    tenants = await request.app[ADMIN_SERVICES].tenancy.list_tenants()
    return web.json_response({"tenants": [_tenant_json(t) for t in tenants]})


async def create_tenant(request: web.Request) -> web.Response:
    data = await _body(request, {"name", "default_policy"}, {"name"})
    if not isinstance(data["name"], str):
        raise InvalidArgument("name must be a string")
    tenant = await request.app[ADMIN_SERVICES].tenancy.create_tenant(data["name"], _opt_str(data, "default_policy"))
    return web.json_response(_tenant_json(tenant), status=201)


async def show_tenant(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    ref = await svc.repo.find_tenant(request.match_info["tenant"])
    tenant = await svc.tenancy.get_tenant(ref.id)
    keys = await svc.tenancy.list_access_keys(ref.id)
    buckets = await svc.repo.list_buckets(ref.id)
    return web.json_response(
        {**_tenant_json(tenant), "keys": [_key_json(k) for k in keys], "buckets": [b.to_json() for b in buckets]}
    )


async def set_default_policy(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    ref = await svc.repo.find_tenant(request.match_info["tenant"])
    data = await _body(request, {"policy"}, {"policy"})
    await svc.tenancy.set_default_policy(ref.id, _opt_str(data, "policy"))
    return web.json_response(_tenant_json(await svc.tenancy.get_tenant(ref.id)))


async def list_keys(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    ref = await svc.repo.find_tenant(request.match_info["tenant"])
    keys = await svc.tenancy.list_access_keys(ref.id)
    return web.json_response({"tenant": ref.name, "keys": [_key_json(k) for k in keys]})


async def create_key(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    ref = await svc.repo.find_tenant(request.match_info["tenant"])
    key = await svc.tenancy.create_access_key(ref.id)
    return web.json_response(
        {
            "access_key_id": key.access_key_id,
            "secret_access_key": key.secret_access_key,
            "tenant_id": ref.id,
            "tenant": ref.name,
            "note": "the secret is shown only now; store it, it cannot be read back",
        },
        status=201,
    )


async def revoke_key(request: web.Request) -> web.Response:
    key_id = request.match_info["key"]
    await request.app[ADMIN_SERVICES].tenancy.revoke_access_key(key_id)
    return web.json_response({"access_key_id": key_id, "status": "revoked"})


# --- nodes ------------------------------------------------------------------------------


def node_json(n: Any, selection: SelectionConfig, now: float, stake: str | None = None) -> dict[str, Any]:
    cand = node_candidate(n, stake=stake)
    geo = decide(n.country, n.geoip_country, host=n.last_ip or n.address, overridden=n.country_override is not None)
    reason = is_eligible(cand, now, selection)
    return {
        "id": n.id,
        "address": n.address,
        "net": n.last_net,
        "country": cand.country,
        "region": cand.region,
        "claimed": {"country": n.country, "region": n.region},
        "override": {"country": n.country_override, "region": n.region_override},
        "geoip": {"country": n.geoip_country, "excluded": geo.excluded, "note": geo.note},
        "online": now - cand.last_contact <= selection.online_window,
        "last_contact_at": _iso(n.last_contact_at),
        "last_contact_seconds_ago": round(now - cand.last_contact),
        "vetted": cand.vetted,
        "audits": {"success": n.audit_success_count, "total": n.audit_total_count},
        "disqualified": cand.disqualified,
        "disqualification_reason": n.disqualification_reason,
        "suspended": cand.suspended,
        "exiting": cand.exiting,
        "placement": "eligible" if reason is None else reason.value,
        "capacity": n.capacity,
        "free": n.free,
        "used": n.used,
        "version": n.version,
        "wallet": n.wallet,
        "created_at": _iso(n.created_at),
    }


def retain_json(r: Any) -> dict[str, Any] | None:
    """The last retain list garbage collection sent the node (``None``: never tried)."""
    if r is None:
        return None
    return {
        "attempted_at": _iso(r.attempted_at),
        "sent_at": _iso(r.sent_at),
        "created_before": _iso(r.created_before),
        "piece_count": r.piece_count,
        "filter_bytes": r.filter_bytes,
        "error": r.last_error,
    }


async def list_nodes(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    now = time.time()
    stakes = await svc.repo.node_stakes() if svc.selection.require_stake else {}
    nodes = [node_json(n, svc.selection, now, stakes.get(n.id)) for n in await svc.repo.list_nodes()]
    return web.json_response({"nodes": nodes})


async def show_node(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    node = await svc.repo.find_node(request.match_info["node"])
    stakes = await svc.repo.node_stakes() if svc.selection.require_stake else {}
    out = node_json(node, svc.selection, time.time(), stakes.get(node.id))
    if svc.reputation is not None:
        out["reputation"] = await svc.reputation.report(node.id, recent=5)
    if svc.graceful_exit is not None:
        out["graceful_exit"] = (await svc.graceful_exit.store.state(node.id)).to_json()
    if svc.gc is not None:
        out["retain_list"] = retain_json(await svc.gc.last(node.id))
    return web.json_response(out)


async def node_audits(request: web.Request) -> web.Response:
    """Scores, flags with reasons and the last ``?limit=`` (default 50) audit outcomes."""
    svc = request.app[ADMIN_SERVICES]
    node = await svc.repo.find_node(request.match_info["node"])
    if svc.reputation is None:
        raise NotFound("this satellite process keeps no audit history")
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise InvalidArgument("limit must be an integer") from None
    if not 1 <= limit <= 1000:
        raise InvalidArgument("limit must be 1-1000")
    return web.json_response(await svc.reputation.report(node.id, recent=limit))


async def _changed_node(request: web.Request, node_id: str) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    svc.on_nodes_changed()
    stakes = await svc.repo.node_stakes() if svc.selection.require_stake else {}
    node = await svc.repo.find_node(node_id)
    return web.json_response(node_json(node, svc.selection, time.time(), stakes.get(node.id)))


async def set_node_location(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    node = await svc.repo.find_node(request.match_info["node"])
    data = await _body(request, {"country", "region"})
    country = _opt_str(data, "country")
    region = _opt_str(data, "region")
    if country is not None:
        country = country.strip().upper()
        if not is_country_code(country):
            hint = "; the United Kingdom is GB" if country == "UK" else ""
            raise InvalidArgument(f"{country!r} is not an ISO 3166-1 alpha-2 country code{hint}")
    if region is not None:
        region = normalize_region(region)  # the same rule policies' allowed regions follow
    await svc.nodes.set_location_override(node.id, country, region)
    return await _changed_node(request, node.id)


async def disqualify_node(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    node = await svc.repo.find_node(request.match_info["node"])
    data = await _body(request, {"reason"})
    await svc.nodes.disqualify(node.id, _opt_str(data, "reason") or "disqualified by an admin")
    return await _changed_node(request, node.id)


async def reinstate_node(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    node = await svc.repo.find_node(request.match_info["node"])
    await svc.nodes.reinstate(node.id)
    return await _changed_node(request, node.id)


# --- buckets and the compliance report --------------------------------------------------


async def list_buckets(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    tenant_id = None
    if "tenant" in request.query:
        tenant_id = (await svc.repo.find_tenant(request.query["tenant"])).id
    return web.json_response({"buckets": [b.to_json() for b in await svc.repo.list_buckets(tenant_id)]})


async def show_bucket(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    bucket = await svc.repo.get_bucket(request.match_info["bucket"])
    return web.json_response({**bucket.to_json(), **await svc.repo.bucket_stats(bucket.id)})


async def set_bucket_policy(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    name = request.match_info["bucket"]
    data = await _body(request, {"policy"}, {"policy"})
    policy = _opt_str(data, "policy")
    if policy is None:
        raise InvalidArgument("policy must name a placement policy")
    await svc.repo.set_bucket_policy(name, policy)
    bucket = await svc.repo.get_bucket(name)
    return web.json_response(
        {
            **bucket.to_json(),
            "note": "new pieces follow the new policy; existing pieces stay where they are until "
            f"migration runs (see 'geoshard admin report {name}' for pieces outside it)",
        }
    )


async def bucket_report(request: web.Request) -> web.Response:
    svc = request.app[ADMIN_SERVICES]
    bucket = await svc.repo.get_bucket(request.match_info["bucket"])
    policy = await svc.tenancy.get_policy(bucket.policy)
    # Collect the node ids first (one pass), then the nodes, then the report (second pass):
    # two streamed reads keep memory to the node table, not the piece table.
    ids: set[str] = set()
    async for seg in svc.repo.segments(bucket.id):
        ids.update(seg.node_ids)
    nodes = await svc.repo.node_candidates(ids)
    short = None
    verified: str | None = None
    if svc.repair is not None:
        short = next((p for p in await svc.repair.queue.shortfalls() if p["policy"] == policy.name), None)
        at = svc.repair.checker.state.last_pass_at
        verified = None if at is None else dt.datetime.fromtimestamp(at, dt.UTC).isoformat()
    now = time.time()
    report = ComplianceReport(
        bucket.name, policy, nodes, now=now, online_window=svc.selection.online_window, capacity_short=short,
        metadata=svc.residency.metadata if svc.residency is not None else None,
        queued=await svc.repo.queued_segments(bucket.id), last_full_verification=verified,
    )  # fmt: skip
    async for seg in svc.repo.segments(bucket.id):
        report.add(seg)
    body = report.to_dict()
    body.update(tenant=bucket.tenant_name, generated_at=dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
                **await svc.repo.bucket_stats(bucket.id))  # fmt: skip
    return web.json_response(body)


async def repair_capacity(request: web.Request) -> web.Response:
    """The repair queue, the repairers' counters and every policy short of repair capacity."""
    svc = request.app[ADMIN_SERVICES]
    if svc.repair is None:
        return _error(404, "NotFound", "this satellite runs no repair service")
    return web.json_response(await svc.repair.capacity())


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_spec())


ROUTES: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
    ("GET", "/openapi.json", openapi),
    ("GET", "/v1/policies", list_policies),
    ("POST", "/v1/policies", create_policy),
    ("GET", "/v1/policies/{name}", show_policy),
    ("PUT", "/v1/policies/{name}", update_policy),
    ("DELETE", "/v1/policies/{name}", delete_policy),
    ("GET", "/v1/policies/{name}/aliases", policy_aliases),
    ("PUT", "/v1/policies/{name}/aliases", set_policy_aliases),
    ("GET", "/v1/tenants", list_tenants),
    ("POST", "/v1/tenants", create_tenant),
    ("GET", "/v1/tenants/{tenant}", show_tenant),
    ("PUT", "/v1/tenants/{tenant}/default-policy", set_default_policy),
    ("GET", "/v1/tenants/{tenant}/keys", list_keys),
    ("POST", "/v1/tenants/{tenant}/keys", create_key),
    ("DELETE", "/v1/keys/{key}", revoke_key),
    ("GET", "/v1/nodes", list_nodes),
    ("GET", "/v1/nodes/{node}", show_node),
    ("GET", "/v1/nodes/{node}/audits", node_audits),
    ("PUT", "/v1/nodes/{node}/location", set_node_location),
    ("POST", "/v1/nodes/{node}/disqualify", disqualify_node),
    ("POST", "/v1/nodes/{node}/reinstate", reinstate_node),
    ("GET", "/v1/repair/status", repair_status),
    ("GET", "/v1/buckets", list_buckets),
    ("GET", "/v1/buckets/{bucket}", show_bucket),
    ("PUT", "/v1/buckets/{bucket}/policy", set_bucket_policy),
    ("GET", "/v1/buckets/{bucket}/report", bucket_report),
    ("GET", "/v1/repair", repair_capacity),
    *PAYOUT_ROUTES,
]

# Settlement's routes live in their own module, which builds on the helpers above.
from .settlement_api import SETTLEMENT_ROUTES  # noqa: E402

ROUTES += SETTLEMENT_ROUTES

from .ops_api import OPS_ROUTES  # noqa: E402  (migration progress, chore leases)

ROUTES += OPS_ROUTES
# A tenant's Block Public Access (issue 12's access control) likewise.
from .access_api import ACCESS_ROUTES  # noqa: E402

ROUTES += ACCESS_ROUTES
from .residency_api import RESIDENCY_ROUTES  # noqa: E402  (the residency ledger's signed exports)

ROUTES += RESIDENCY_ROUTES


def create_admin_app(services: AdminServices, *, outer_middlewares: Sequence[Any] = ()) -> web.Application:
    """The admin app; refuses to exist without a token, so it can never run open.

    ``outer_middlewares`` run before authentication (the console's audit log, which records
    refused attempts too).
    """
    if not services.token:
        raise ValueError("the admin API needs an admin_token in the satellite's config")
    app = web.Application(middlewares=[*outer_middlewares, _auth_and_errors], client_max_size=1024**2)
    app[ADMIN_SERVICES] = services
    app[REPAIR_STATUS] = RepairStatusView(services.repo.db, services.repair)
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    return app
