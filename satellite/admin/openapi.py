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
                "delete": _op("delete a policy nothing uses", errors=(404, 409)),
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
                    "compliance report: pieces per country and region, violations, weak segments", errors=(404,)
                ),
            },
            "/v1/payouts/periods": {
                "get": _op("periods handed to settlement: payees, total, paid, rolled over, batch states"),
                "post": _op(
                    "plan a period's payouts (once; a period planned before is left as it is)",
                    ok=201,
                    body=_PLAN,
                    errors=(400,),
                ),
            },
            "/v1/payouts/batches": {
                "get": {
                    **_op("settlement batches: state, nonce, transaction hash, block, attempts, last error"),
                    "parameters": [{"name": "period", "in": "query", "schema": {"type": "string"}}],
                }
            },
            "/v1/payouts/chain": {
                "get": _op("the settlement chain, its contracts and the payer's balances", errors=(503,))
            },
            "/v1/payouts/wallets/{wallet}": {
                "parameters": _params("wallet"),
                "get": _op("a wallet's balance of the payout token, on chain", errors=(400, 503)),
            },
        },
    }
