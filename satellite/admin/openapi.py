"""The admin API's OpenAPI 3.1 description, kept by hand next to the routes.

A generator (aiohttp-apispec) would mean another dependency whose last release predates
aiohttp 3.9; a plain dict costs one entry per route, and a test fails when a route and
this description disagree, so it cannot silently rot.
"""

from __future__ import annotations

from typing import Any

__all__ = ["openapi_spec"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_OBJ = {"type": "object"}


def _op(summary: str, *, ok: int = 200, body: dict[str, Any] | None = None, errors: tuple[int, ...] = ()) -> dict:
    responses: dict[str, Any] = {str(ok): {"description": "OK", "content": {"application/json": {"schema": _OBJ}}}}
    for status in (401, *errors):
        responses[str(status)] = {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _params(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names]


_STRINGS = {"type": "array", "items": {"type": "string"}}
_POLICY = {
    "type": "object",
    "required": ["name", "scheme"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "allowed_countries": {**_STRINGS, "description": "ISO 3166-1 alpha-2 codes or groups (EU, EEA…)"},
        "allowed_regions": _STRINGS,
        "excluded_countries": _STRINGS,
        "scheme": {"description": "k/repair/success/total, as text or an object", "type": ["string", "object"]},
        "min_countries": {"type": "integer", "minimum": 1},
    },
}


def _one(name: str, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [name] if required else [],
        "properties": {name: schema},
    }


_AMOUNT = {"type": ["string", "integer"], "description": "token base units; decimal text for large values"}
_PLAN = {
    "type": "object",
    "required": ["period", "payees"],
    "additionalProperties": False,
    "properties": {
        "period": {"type": "string"},
        "payees": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["node_id", "wallet", "amount"],
                "additionalProperties": False,
                "properties": {"node_id": {"type": "string"}, "wallet": {"type": "string"}, "amount": _AMOUNT},
            },
        },
    },
}


def openapi_spec() -> dict[str, Any]:
    nullable = {"type": ["string", "null"]}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Geoshard satellite admin API", "version": "1"},
        "components": {
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        }
                    },
                }
            },
        },
        "security": [{"admin": []}],
        "paths": {
            "/openapi.json": {"get": _op("this description")},
            "/v1/policies": {
                "get": _op("list placement policies"),
                "post": _op("create a placement policy", ok=201, body=_POLICY, errors=(400, 409)),
            },
            "/v1/policies/{name}": {
                "parameters": _params("name"),
                "get": _op("show a policy and the buckets and tenants using it", errors=(404,)),
                "put": _op("change a policy's rules (not its name); pieces outside them migrate",
                           body={**_POLICY, "required": ["scheme"]}, errors=(400, 404)),
                "delete": _op("delete a policy nothing uses", errors=(404, 409)),
            },
            "/v1/policies/{name}/aliases": {
                "parameters": _params("name"),
                "get": _op("the policy's aliases (other LocationConstraint names, e.g. AWS regions)", errors=(404,)),
                "put": _op(
                    "replace the policy's aliases (an empty list clears them)",
                    errors=(400, 404),
                    body={
                        "type": "object",
                        "required": ["aliases"],
                        "additionalProperties": False,
                        "properties": {"aliases": {"type": "array", "items": {"type": "string"}}},
                    },
                ),
            },
            "/v1/tenants": {
                "get": _op("list tenants"),
                "post": _op(
                    "create a tenant",
                    ok=201,
                    errors=(400, 404, 409),
                    body={
                        "type": "object",
                        "required": ["name"],
                        "additionalProperties": False,
                        "properties": {"name": {"type": "string"}, "default_policy": nullable},
                    },
                ),
            },
            "/v1/tenants/{tenant}": {
                "parameters": _params("tenant"),
                "get": _op("show a tenant (by id or name) with its keys and buckets", errors=(404,)),
            },
            "/v1/tenants/{tenant}/default-policy": {
                "parameters": _params("tenant"),
                "put": _op(
                    "set (or clear, with null) a tenant's default policy",
                    body=_one("policy", nullable),
                    errors=(400, 404),
                ),
            },
            "/v1/tenants/{tenant}/keys": {
                "parameters": _params("tenant"),
                "get": _op("list a tenant's access keys", errors=(404,)),
                "post": _op("create an access key; the secret is in this answer only", ok=201, errors=(404,)),
            },
            "/v1/keys/{key}": {
                "parameters": _params("key"),
                "delete": _op("revoke an access key", errors=(404,)),
            },
            "/v1/nodes": {"get": _op("list nodes with online, vetting, disqualification and GeoIP state")},
            "/v1/nodes/{node}": {
                "parameters": _params("node"),
                "get": _op("show a node (full id or a unique prefix)", errors=(400, 404)),
            },
            "/v1/nodes/{node}/audits": {
                "parameters": _params("node"),
                "get": {
                    **_op("a node's audit, unknown-audit and online scores, flags, recent audits", errors=(400, 404)),
                    "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                },
            },
            "/v1/nodes/{node}/location": {
                "parameters": _params("node"),
                "put": _op(
                    "override a node's country and region (null clears the override)",
                    body={
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"country": nullable, "region": nullable},
                    },
                    errors=(400, 404),
                ),
            },
            "/v1/nodes/{node}/disqualify": {
                "parameters": _params("node"),
                "post": _op("disqualify a node", body=_one("reason", nullable, required=False), errors=(404,)),
            },
            "/v1/nodes/{node}/reinstate": {
                "parameters": _params("node"),
                "post": _op("reinstate a disqualified or suspended node", errors=(404,)),
            },
            "/v1/buckets": {
                "get": {
                    **_op("list buckets (all tenants, or ?tenant=)", errors=(404,)),
                    "parameters": [{"name": "tenant", "in": "query", "schema": {"type": "string"}}],
                }
            },
            "/v1/buckets/{bucket}": {
                "parameters": _params("bucket"),
                "get": _op("show a bucket", errors=(404,)),
            },
            "/v1/buckets/{bucket}/policy": {
                "parameters": _params("bucket"),
                "put": _op(
                    "set a bucket's placement policy", body=_one("policy", {"type": "string"}), errors=(400, 404)
                ),
            },
            "/v1/buckets/{bucket}/report": {
                "parameters": _params("bucket"),
                "get": _op(
                    "compliance report: pieces per country and region, inline bytes per country, violations "
                    "(pieces and inline bytes), weak segments with repair queued, lost keys, repair capacity, "
                    "last full verification; status compliant, degraded, out_of_policy or data_lost",
                    errors=(404,),
                ),
            },
            "/v1/buckets/{bucket}/residency-history": {
                "parameters": _params("bucket"),
                "get": {
                    **_op(
                        "the bucket's residency ledger as signed evidence (JSON lines, application/x-ndjson): "
                        "every piece placement and removal with its node's country, the chain head signed by "
                        "the satellite; checked by 'geoshard verify-residency'",
                        errors=(400, 404),
                    ),
                    "parameters": [{"name": "since", "in": "query", "required": False,
                                    "schema": {"type": "string", "format": "date-time"}}],
                },
            },
            "/v1/buckets/{bucket}/residency-audit": {
                "parameters": _params("bucket"),
                "post": _op(
                    "challenge every piece of the bucket with a Merkle audit now and stream the node-signed "
                    "answers with each node's address and declared country, closed by a satellite-signed "
                    "digest (application/x-ndjson); checked by 'geoshard verify-residency'",
                    errors=(404,),
                ),
            },
            "/v1/residency": {
                "get": _op("the satellite's public key and where its metadata (inline segments) is stored")
            },
            "/v1/repair": {
                "get": _op(
                    "repair queue, repairer counters, and the policies short of repair capacity "
                    "(segments, pieces missing, nodes needed)",
                    errors=(404,),
                ),
            },
            "/v1/repair/status": {
                "get": {
                    **_op(
                        "repair backlog: queue length by reason and policy, oldest job, failing jobs with their "
                        "last error, repairers' throughput and progress", errors=(400,)
                    ),
                    "parameters": [{"name": "failures", "in": "query", "required": False,
                                    "schema": {"type": "integer", "minimum": 0, "maximum": 100}}],
                },
            },
            "/v1/buckets/{bucket}/migration": {
                "get": _op(
                    "progress of the bucket's migration to its policy: the share of its segments whose every "
                    "piece is in policy, and the pieces still outside",
                    errors=(404,),
                ),
                "parameters": _params("bucket"),
            },
            "/v1/chores": {
                "get": _op(
                    "the background chores' leases: which satellite process (host:pid:token) runs each, "
                    "whether the lease is live, and which this process holds"
                ),
            },
            "/v1/lifecycle": {
                "get": _op(
                    "every bucket with lifecycle rules: how many (and enabled), where the lifecycle chore's scan "
                    "stands (objects, versions, uploads, idle) and when it next looks (null: at once)"
                ),
            },
            "/v1/settlement/periods": {
                "get": _op("periods handed to settlement: payees, total, paid, rolled over, batch states"),
                "post": _op(
                    "plan a period's payouts (once; a period planned before is left as it is)",
                    ok=201,
                    body=_PLAN,
                    errors=(400,),
                ),
            },
            "/v1/settlement/batches": {
                "get": {
                    **_op("settlement batches: state, nonce, transaction hash, block, attempts, last error"),
                    "parameters": [{"name": "period", "in": "query", "schema": {"type": "string"}}],
                }
            },
            "/v1/settlement/chain": {
                "get": _op("the settlement chain, its contracts and the payer's balances", errors=(503,))
            },
            "/v1/settlement/wallets/{wallet}": {
                "parameters": _params("wallet"),
                "get": _op("a wallet's balance of the payout token, on chain", errors=(400, 503)),
            },
            **_payout_paths(),
            **_access_paths(),
        },
    }


def _access_paths() -> dict[str, Any]:
    from .access_api import access_paths  # a tenant's Block Public Access (satellite/admin/access_api.py)

    return access_paths()


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in names]


def _payout_paths() -> dict[str, Any]:
    """The economy's routes (satellite/admin/payouts.py): amounts in currency and in ``*_units``."""
    return {
        "/v1/payouts/periods": {"get": _op("closed periods with their totals and margin, and the current period")},
        "/v1/payouts/periods/{period}": {
            "parameters": _params("period"),
            "get": _op("one closed period: totals and every node's paystub", errors=(400, 404)),
        },
        "/v1/payouts/periods/{period}/close": {
            "parameters": _params("period"),
            "post": _op("close an ended period now (once; 409 if closed or not over)", ok=201, errors=(400, 409)),
        },
        "/v1/payouts/nodes/{node}": {
            "parameters": _params("node"),
            "get": _op("a node's earnings: this period's estimate, paystubs, held total", errors=(404,)),
        },
        "/v1/payouts/reserve": {
            "get": {
                **_op("the reserve fund: balance and latest movements", errors=(400,)),
                "parameters": _query("limit"),
            }
        },
        "/v1/payouts/credits": {
            "get": {**_op("credits given to tenants (?tenant=)", errors=(404,)), "parameters": _query("tenant")},
            "post": _op(
                "credit a tenant from the reserve fund by hand, with a reason",
                ok=201,
                errors=(400, 404),
                body={
                    "type": "object",
                    "required": ["tenant", "amount", "reason"],
                    "additionalProperties": False,
                    "properties": {
                        "tenant": {"type": "string", "description": "id or name"},
                        "amount": {"type": "string", "description": "currency, a positive decimal"},
                        "reason": {"type": "string"},
                    },
                },
            ),
        },
        "/v1/payouts/incidents": {
            "get": {
                **_op("data-loss incidents: tenant, bucket, key, bytes, credit", errors=(400, 404)),
                "parameters": _query("tenant", "limit"),
            }
        },
        "/v1/tenants/{tenant}/statement": {
            "parameters": _params("tenant"),
            "get": {
                **_op("a tenant's statement for ?period= (default: the current one, an estimate); ?format=csv"),
                "parameters": _query("period", "format"),
                "responses": {
                    **_op("", errors=(400, 404))["responses"],
                    "200": {
                        "description": "OK",
                        "content": {"application/json": {"schema": _OBJ}, "text/csv": {"schema": {"type": "string"}}},
                    },
                },
            }
        },
    }
