"""Bucket policies: AWS's JSON policy language for the common cases, parsed and evaluated.

A bucket policy is a list of statements, each ``Allow`` or ``Deny`` for some principals,
actions and resources, optionally under conditions. :func:`parse_policy` checks a document
once, when it is put, and turns it into frozen :class:`Statement` values, raising
:class:`MalformedPolicy` with AWS's words for what AWS refuses ("Policy has invalid
action", "Invalid principal in policy", "Action does not apply to any resource(s) in
statement" …). :func:`evaluate` is then a pure function of a parsed policy and one
:class:`AccessRequest` — who asks (a tenant's canonical id, or ``None`` for an anonymous
request), for which action on which resource, with which condition keys — and answers
:class:`Effect` ``ALLOW``, ``DENY`` or ``None`` (the policy says nothing). An explicit deny
wins over any allow, as in AWS's evaluation logic; whether "nothing" means no is the
caller's decision (:mod:`satellite.access.decision`).

What is understood. ``Principal``: ``"*"``, ``{"AWS": "*"}``, ``{"AWS": id}`` or
``{"CanonicalUser": id}`` where ``id`` is a tenant's canonical id (also written
``arn:aws:iam::<id>:root``); ``Action``/``NotAction`` with ``*`` and ``?`` wildcards,
case-insensitive, each naming at least one S3 action; ``Resource``/``NotResource``
``arn:aws:s3:::bucket`` or ``arn:aws:s3:::bucket/<key pattern>`` in the policy's own
bucket; ``Condition`` operators ``StringEquals``, ``StringNotEquals``,
``StringEqualsIgnoreCase``, ``StringNotEqualsIgnoreCase``, ``StringLike``,
``StringNotLike``, ``IpAddress``, ``NotIpAddress``, ``Bool``, ``Null`` (and the
``…IfExists`` forms) over ``aws:SourceIp``, ``aws:SecureTransport``, ``s3:prefix``,
``s3:delimiter``, ``s3:max-keys``, ``aws:PrincipalType`` and ``aws:userid``. A condition key
the request does not have makes a positive operator false and a negated one true (AWS's
rule), so a ``Deny`` with ``NotIpAddress`` still denies when the address is unknown.
``NotPrincipal`` is refused (AWS advises against it and it is rarely right).

:func:`is_public` says whether a policy grants access to everyone, as S3 Block Public
Access defines it: an ``Allow`` for ``*`` not narrowed by a fixed ``aws:SourceIp`` range
(no broader than /8 for IPv4, /32 for IPv6).
"""

from __future__ import annotations

import enum
import fnmatch
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTIONS",
    "AccessRequest",
    "Effect",
    "MalformedPolicy",
    "Policy",
    "Statement",
    "context_keys",
    "evaluate",
    "is_public",
    "parse_policy",
]

MAX_POLICY_BYTES = 20 * 1024  # AWS's limit for a bucket policy

# S3 actions that name a bucket (resource arn:aws:s3:::bucket) and those that name objects.
BUCKET_ACTIONS = frozenset({
    "s3:ListBucket", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation", "s3:GetBucketAcl",
    "s3:PutBucketAcl", "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketCORS",
    "s3:PutBucketCORS", "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
    "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:GetBucketOwnershipControls",
    "s3:PutBucketOwnershipControls", "s3:GetBucketVersioning", "s3:DeleteBucket", "s3:ListBucketVersions",
    "s3:GetBucketPolicyStatus",
})  # fmt: skip
OBJECT_ACTIONS = frozenset({
    "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectAcl", "s3:PutObjectAcl",
    "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObjectTagging", "s3:GetObjectAttributes",
    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:GetObjectVersion", "s3:DeleteObjectVersion",
})  # fmt: skip
ACTIONS = BUCKET_ACTIONS | OBJECT_ACTIONS
_ACTIONS_LOWER = {a.lower(): a for a in ACTIONS}

_STRING_OPS = ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
               "StringLike", "StringNotLike")  # fmt: skip
_OPERATORS = frozenset({*_STRING_OPS, "IpAddress", "NotIpAddress", "Bool", "Null"})
_NEGATED = frozenset({"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NotIpAddress"})
# Condition keys, lower-cased (AWS compares key names case-insensitively), to their type.
_KEYS = {
    "aws:sourceip": "ip",
    "aws:securetransport": "bool",
    "s3:prefix": "string",
    "s3:delimiter": "string",
    "s3:max-keys": "string",
    "aws:principaltype": "string",
    "aws:userid": "string",
}
_VERSIONS = ("2012-10-17", "2008-10-17")
_STATEMENT_FIELDS = frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                               "NotResource", "Condition"})  # fmt: skip
_ARN = "arn:aws:s3:::"
_IAM_ROOT = re.compile(r"^arn:aws:iam::([^:]+):root$")


class MalformedPolicy(ValueError):
    """A policy AWS would refuse with ``400 MalformedPolicy``; the message is AWS's."""


class Effect(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True, slots=True)
class Condition:
    operator: str  # without IfExists
    key: str  # lower-cased
    values: tuple[str, ...]
    if_exists: bool = False


@dataclass(frozen=True, slots=True)
class Statement:
    effect: Effect
    principals: frozenset[str]  # canonical ids; "*" = everyone, anonymous included
    actions: tuple[str, ...]  # lower-cased patterns
    not_action: bool
    resources: tuple[str, ...]  # patterns after arn:aws:s3:::
    not_resource: bool
    conditions: tuple[Condition, ...] = ()
    sid: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    statements: tuple[Statement, ...]
    text: str  # the document as put, returned by GetBucketPolicy

    @property
    def principals(self) -> frozenset[str]:
        return frozenset(p for s in self.statements for p in s.principals if p != "*")


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One request as a policy sees it. ``principal``: the requester's canonical id, or
    ``None`` when anonymous; ``resource``: ``bucket`` or ``bucket/key``; ``context``:
    condition keys (lower-cased names) to their values, absent when the request has none."""

    principal: str | None
    action: str
    resource: str
    context: Mapping[str, str]


# --- parsing -------------------------------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _strings(value: Any, message: str) -> list[str]:
    items = _list(value)
    if not items or not all(isinstance(v, str) and v for v in items):
        raise MalformedPolicy(message)
    return items


def _principals(value: Any) -> frozenset[str]:
    if value == "*":
        return frozenset({"*"})
    if not isinstance(value, dict) or not value:
        raise MalformedPolicy("Invalid principal in policy")
    out: set[str] = set()
    for kind, ids in value.items():
        if kind not in ("AWS", "CanonicalUser"):
            raise MalformedPolicy("Invalid principal in policy")
        for ident in _strings(ids, "Invalid principal in policy"):
            m = _IAM_ROOT.match(ident)
            out.add(m.group(1) if m and kind == "AWS" else ident)
    return frozenset(out)


def _actions(value: Any) -> tuple[str, ...]:
    out = []
    for raw in _strings(value, "Policy has invalid action"):
        pattern = raw.lower()
        if pattern != "*" and not (pattern.startswith("s3:") and fnmatch.filter(_ACTIONS_LOWER, pattern)):
            raise MalformedPolicy("Policy has invalid action")
        out.append(pattern)
    return tuple(out)


def _resources(value: Any, bucket: str) -> tuple[str, ...]:
    out = []
    for raw in _strings(value, "Policy has invalid resource"):
        if raw == "*":
            out.append("*")
            continue
        if not raw.startswith(_ARN):
            raise MalformedPolicy("Policy has invalid resource")
        rest = raw[len(_ARN):]
        name = rest.split("/", 1)[0]
        if not name or not fnmatch.fnmatchcase(bucket, name):
            raise MalformedPolicy("Policy has invalid resource")
        out.append(rest)
    return tuple(out)


def _conditions(value: Any) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        raise MalformedPolicy("Policy has an invalid condition block")
    out = []
    for raw_op, block in value.items():
        op = raw_op[:-len("IfExists")] if raw_op.endswith("IfExists") and raw_op != "IfExists" else raw_op
        if op not in _OPERATORS:
            raise MalformedPolicy(f"Invalid Condition type : {raw_op}")
        if not isinstance(block, dict) or not block:
            raise MalformedPolicy("Policy has an invalid condition block")
        for raw_key, raw_values in block.items():
            key = str(raw_key).lower()
            kind = _KEYS.get(key)
            if kind is None:
                raise MalformedPolicy("Policy has an invalid condition key")
            items = _list(raw_values)
            if not items or not all(isinstance(v, (str, bool, int)) and not isinstance(v, float) for v in items):
                raise MalformedPolicy("Policy has an invalid condition value")
            values = tuple(str(v).lower() if isinstance(v, bool) else str(v) for v in items)
            if op in ("IpAddress", "NotIpAddress"):
                if kind != "ip":
                    raise MalformedPolicy(f"Invalid Condition type : {raw_op} for key {raw_key}")
                for v in values:
                    try:
                        ipaddress.ip_network(v, strict=False)
                    except ValueError:
                        raise MalformedPolicy(f"Invalid IP address or range: {v}") from None
            elif op in ("Bool", "Null"):
                if any(v.lower() not in ("true", "false") for v in values):
                    raise MalformedPolicy(f"Invalid value for {raw_op}: must be true or false")
                values = tuple(v.lower() for v in values)
            elif kind == "ip":
                raise MalformedPolicy(f"Invalid Condition type : {raw_op} for key {raw_key}")
            out.append(Condition(op, key, values, if_exists=op != raw_op))
    return tuple(out)


def _applies(actions: tuple[str, ...], not_action: bool, resources: tuple[str, ...], not_resource: bool) -> bool:
    """Some action of the statement applies to some of its resources (AWS refuses the rest)."""
    if not_action or not_resource:
        return True
    named = {a for a in _ACTIONS_LOWER if any(fnmatch.fnmatchcase(a, p) for p in actions)}
    wants_bucket = any(_ACTIONS_LOWER[a] in BUCKET_ACTIONS for a in named)
    wants_object = any(_ACTIONS_LOWER[a] in OBJECT_ACTIONS for a in named)
    has_bucket = any(r == "*" or "/" not in r for r in resources)
    has_object = any(r == "*" or "/" in r for r in resources)
    return (wants_bucket and has_bucket) or (wants_object and has_object)


def _statement(raw: Any, bucket: str) -> Statement:
    if not isinstance(raw, dict):
        raise MalformedPolicy("Policy has an invalid statement")
    unknown = sorted(set(raw) - _STATEMENT_FIELDS)
    if unknown:
        raise MalformedPolicy(f"Unknown field {unknown[0]}")
    effect = raw.get("Effect")
    if effect is None:
        raise MalformedPolicy("Missing required field Effect")
    if effect not in ("Allow", "Deny"):
        raise MalformedPolicy(f"Invalid effect: {effect}")
    if "NotPrincipal" in raw:
        raise MalformedPolicy("NotPrincipal is not supported; name the principals in Principal")
    if "Principal" not in raw:
        raise MalformedPolicy("Missing required field Principal")
    for one, other, what in (("Action", "NotAction", "Action"), ("Resource", "NotResource", "Resource")):
        if (one in raw) == (other in raw):
            raise MalformedPolicy(f"Missing required field {what}" if one not in raw else
                                  f"Statement must not have both {one} and {other}")  # fmt: skip
    not_action, not_resource = "NotAction" in raw, "NotResource" in raw
    actions = _actions(raw["NotAction" if not_action else "Action"])
    resources = _resources(raw["NotResource" if not_resource else "Resource"], bucket)
    if not _applies(actions, not_action, resources, not_resource):
        raise MalformedPolicy("Action does not apply to any resource(s) in statement")
    sid = raw.get("Sid", "")
    if not isinstance(sid, str):
        raise MalformedPolicy("Statement IDs (SID) must be strings")
    return Statement(
        effect=Effect(effect),
        principals=_principals(raw["Principal"]),
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        conditions=_conditions(raw.get("Condition", {})),
        sid=sid,
    )


def parse_policy(text: str | bytes, bucket: str) -> Policy:
    """The policy of ``bucket`` that ``text`` holds, or :class:`MalformedPolicy`."""
    raw_text = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    if len(raw_text.encode()) > MAX_POLICY_BYTES:
        raise MalformedPolicy("Policies cannot exceed 20 KB in size")
    if not raw_text.lstrip().startswith("{"):
        raise MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    try:
        doc = json.loads(raw_text)
    except ValueError:
        raise MalformedPolicy("This policy contains invalid Json") from None
    if not isinstance(doc, dict):
        raise MalformedPolicy("Policies must be valid JSON and the first byte must be '{'")
    unknown = sorted(set(doc) - {"Version", "Id", "Statement"})
    if unknown:
        raise MalformedPolicy(f"Unknown field {unknown[0]}")
    if doc.get("Version", "2008-10-17") not in _VERSIONS:
        raise MalformedPolicy("The policy must contain a valid version string")
    if "Statement" not in doc:
        raise MalformedPolicy("Missing required field Statement")
    statements = _list(doc["Statement"])
    if not statements:
        raise MalformedPolicy("Could not parse the policy: Statement is empty!")
    return Policy(tuple(_statement(s, bucket) for s in statements), raw_text)


# --- evaluation ------------------------------------------------------------------------------


def _principal_matches(s: Statement, principal: str | None) -> bool:
    return "*" in s.principals or (principal is not None and principal in s.principals)


def _action_matches(s: Statement, action: str) -> bool:
    a = action.lower()
    hit = any(fnmatch.fnmatchcase(a, p) for p in s.actions)
    return hit != s.not_action


def _resource_matches(s: Statement, resource: str) -> bool:
    hit = any(p == "*" or fnmatch.fnmatchcase(resource, p) for p in s.resources)
    return hit != s.not_resource


def _value_matches(op: str, have: str, want: str) -> bool:
    if op in ("StringEquals", "StringNotEquals"):
        return have == want
    if op in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return have.lower() == want.lower()
    if op in ("StringLike", "StringNotLike"):
        return fnmatch.fnmatchcase(have, want)
    if op in ("IpAddress", "NotIpAddress"):
        try:
            return ipaddress.ip_address(have) in ipaddress.ip_network(want, strict=False)
        except ValueError:
            return False
    if op == "Bool":
        return have.lower() == want
    raise AssertionError(op)  # Null is decided before values are compared


def _condition_holds(c: Condition, context: Mapping[str, str]) -> bool:
    have = context.get(c.key)
    if c.operator == "Null":
        return any((have is None) == (v == "true") for v in c.values)
    if have is None:
        return c.if_exists or c.operator in _NEGATED
    matched = any(_value_matches(c.operator, have, v) for v in c.values)
    return not matched if c.operator in _NEGATED else matched


def _statement_applies(s: Statement, request: AccessRequest) -> bool:
    return (
        _principal_matches(s, request.principal)
        and _action_matches(s, request.action)
        and _resource_matches(s, request.resource)
        and all(_condition_holds(c, request.context) for c in s.conditions)
    )


def evaluate(policy: Policy | None, request: AccessRequest) -> Effect | None:
    """``DENY`` if any statement denies, else ``ALLOW`` if one allows, else ``None``."""
    if policy is None:
        return None
    allowed = False
    for s in policy.statements:
        if _statement_applies(s, request):
            if s.effect is Effect.DENY:
                return Effect.DENY
            allowed = True
    return Effect.ALLOW if allowed else None


def _narrow_ip(c: Condition) -> bool:
    if c.key != "aws:sourceip" or c.operator != "IpAddress" or c.if_exists:
        return False
    nets = [ipaddress.ip_network(v, strict=False) for v in c.values]
    return all(n.prefixlen >= (8 if n.version == 4 else 32) for n in nets)


def is_public(policy: Policy | None) -> bool:
    """The policy grants something to everyone (Block Public Access's definition, simplified:
    only a fixed, narrow enough ``aws:SourceIp`` range makes a ``*`` grant non-public)."""
    if policy is None:
        return False
    return any(
        s.effect is Effect.ALLOW and "*" in s.principals and not any(_narrow_ip(c) for c in s.conditions)
        for s in policy.statements
    )


def context_keys(values: Mapping[str, str | None]) -> dict[str, str]:
    """Condition keys with their names lower-cased, dropping those the request lacks."""
    return {k.lower(): v for k, v in values.items() if v is not None}
