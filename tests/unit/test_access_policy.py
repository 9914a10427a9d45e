"""The bucket-policy engine and the access decision, as pure functions: policy + request -> decision.

Examples follow AWS's documented bucket policies (public read, IP allow lists, TLS-only, a
home-folder ``s3:prefix`` grant, cross-account access); malformed documents get AWS's
``MalformedPolicy`` messages.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from satellite.access.decision import BucketAccess, PublicAccessBlock, check_acl_allowed, check_policy_allowed, decide
from satellite.access.errors import AccessControlListNotSupported, PublicAccessBlocked
from satellite.access.policy import AccessRequest, Effect, MalformedPolicy, evaluate, is_public, parse_policy

B = "photos"
OWNER, OTHER = "tenant-owner", "tenant-other"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def stmt(effect: str = "Allow", principal: Any = "*", action: Any = "s3:GetObject",
         resource: Any = f"arn:aws:s3:::{B}/*", **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"Effect": effect, "Principal": principal, "Action": action, "Resource": resource, **extra}


def req(action: str = "s3:GetObject", key: str | None = "a.jpg", principal: str | None = None,
        **context: str) -> AccessRequest:  # fmt: skip
    resource = B if key is None else f"{B}/{key}"
    return AccessRequest(principal, action, resource, {k.replace("_", ":", 1).lower(): v for k, v in context.items()})


def ev(text: str, request: AccessRequest) -> Effect | None:
    return evaluate(parse_policy(text, B), request)


# --- evaluation --------------------------------------------------------------------------


def test_public_read_policy_allows_anonymous_get_of_any_key_but_not_put_or_list():
    p = policy(stmt())
    assert ev(p, req()) is Effect.ALLOW
    assert ev(p, req(key="deep/nested/k")) is Effect.ALLOW
    assert ev(p, req("s3:PutObject")) is None
    assert ev(p, req("s3:ListBucket", key=None)) is None


def test_explicit_deny_wins_over_an_allow_in_any_order():
    allow, deny = stmt(), stmt("Deny", resource=f"arn:aws:s3:::{B}/secret/*")
    for order in ((allow, deny), (deny, allow)):
        p = policy(*order)
        assert ev(p, req(key="secret/plan.txt")) is Effect.DENY
        assert ev(p, req(key="public/plan.txt")) is Effect.ALLOW


def test_action_wildcards_match_case_insensitively_and_only_what_they_name():
    p = policy(stmt(action="s3:Get*"))
    assert ev(p, req("s3:GetObject")) is Effect.ALLOW
    assert ev(p, req("s3:getobjecttagging")) is Effect.ALLOW
    assert ev(p, req("s3:PutObject")) is None
    p = policy(stmt(action=["s3:*"], resource=[f"arn:aws:s3:::{B}", f"arn:aws:s3:::{B}/*"]))
    assert ev(p, req("s3:DeleteObject")) is Effect.ALLOW and ev(p, req("s3:ListBucket", key=None)) is Effect.ALLOW


def test_resource_prefix_patterns_match_keys_and_never_the_bucket_itself():
    p = policy(stmt(resource=f"arn:aws:s3:::{B}/public/*"))
    assert ev(p, req(key="public/a")) is Effect.ALLOW
    assert ev(p, req(key="publicity/a")) is None
    assert ev(p, req(key="x/public/a")) is None
    p = policy(stmt(resource=f"arn:aws:s3:::{B}/report-??.csv"))
    assert ev(p, req(key="report-07.csv")) is Effect.ALLOW and ev(p, req(key="report-7.csv")) is None


def test_principal_another_tenants_canonical_id_or_its_root_arn_grants_only_that_tenant():
    for principal in ({"AWS": OTHER}, {"AWS": [f"arn:aws:iam::{OTHER}:root"]}, {"CanonicalUser": OTHER}):
        p = policy(stmt(principal=principal))
        assert ev(p, req(principal=OTHER)) is Effect.ALLOW
        assert ev(p, req(principal="tenant-third")) is None
        assert ev(p, req(principal=None)) is None  # anonymous is nobody's canonical id


def test_star_principal_and_aws_star_both_include_anonymous_requests():
    for principal in ("*", {"AWS": "*"}):
        assert ev(policy(stmt(principal=principal)), req(principal=None)) is Effect.ALLOW
        assert ev(policy(stmt(principal=principal)), req(principal=OTHER)) is Effect.ALLOW


def test_source_ip_allow_list_with_ipaddress_and_a_notipaddress_deny():
    p = policy(stmt(Condition={"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}}))
    assert ev(p, req(aws_SourceIp="192.0.2.17")) is Effect.ALLOW
    assert ev(p, req(aws_SourceIp="2001:db8::1")) is Effect.ALLOW
    assert ev(p, req(aws_SourceIp="198.51.100.1")) is None
    assert ev(p, req()) is None  # no address known: a positive condition is false
    deny = policy(stmt(), stmt("Deny", action="s3:*", Condition={"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    assert ev(deny, req(aws_SourceIp="10.1.2.3")) is Effect.ALLOW
    assert ev(deny, req(aws_SourceIp="127.0.0.1")) is Effect.DENY
    assert ev(deny, req()) is Effect.DENY  # unknown address: a negated condition holds, the deny applies


def test_secure_transport_bool_denies_plain_http_as_the_aws_tls_only_policy_does():
    p = policy(stmt(), stmt("Deny", action="s3:*", resource=[f"arn:aws:s3:::{B}", f"arn:aws:s3:::{B}/*"],
                            Condition={"Bool": {"aws:SecureTransport": "false"}}))  # fmt: skip
    assert ev(p, req(aws_SecureTransport="false")) is Effect.DENY
    assert ev(p, req(aws_SecureTransport="true")) is Effect.ALLOW
    p = policy(stmt(Condition={"Bool": {"aws:SecureTransport": True}}))  # JSON booleans are accepted too
    assert ev(p, req(aws_SecureTransport="true")) is Effect.ALLOW and ev(p, req(aws_SecureTransport="false")) is None


def test_s3_prefix_conditions_scope_listing_to_a_home_folder():
    home = stmt(principal={"AWS": OTHER}, action="s3:ListBucket", resource=f"arn:aws:s3:::{B}",
                Condition={"StringLike": {"s3:prefix": ["home/other/*", "home/other/"]}})  # fmt: skip
    p = policy(home)
    assert ev(p, req("s3:ListBucket", key=None, principal=OTHER, s3_prefix="home/other/")) is Effect.ALLOW
    assert ev(p, req("s3:ListBucket", key=None, principal=OTHER, s3_prefix="home/other/2024/")) is Effect.ALLOW
    assert ev(p, req("s3:ListBucket", key=None, principal=OTHER, s3_prefix="home/")) is None
    assert ev(p, req("s3:ListBucket", key=None, principal=OTHER, s3_prefix="")) is None
    exact = policy({**home, "Condition": {"StringEquals": {"s3:prefix": ["", "home/"]}}})
    assert ev(exact, req("s3:ListBucket", key=None, principal=OTHER, s3_prefix="")) is Effect.ALLOW
    assert ev(exact, req("s3:ListBucket", key=None, principal=OTHER, s3_prefix="home/x")) is None


def test_conditions_are_and_across_keys_and_or_across_values():
    p = policy(stmt(Condition={"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24"]},
                               "Bool": {"aws:SecureTransport": "true"}}))  # fmt: skip
    assert ev(p, req(aws_SourceIp="198.51.100.9", aws_SecureTransport="true")) is Effect.ALLOW
    assert ev(p, req(aws_SourceIp="198.51.100.9", aws_SecureTransport="false")) is None


def test_if_exists_and_null_conditions_follow_aws_rules_for_missing_keys():
    p = policy(stmt(Condition={"IpAddressIfExists": {"aws:SourceIp": "192.0.2.0/24"}}))
    assert ev(p, req()) is Effect.ALLOW
    assert ev(p, req(aws_SourceIp="203.0.113.1")) is None
    p = policy(stmt(Condition={"Null": {"aws:SourceIp": "true"}}))
    assert ev(p, req()) is Effect.ALLOW and ev(p, req(aws_SourceIp="192.0.2.1")) is None


def test_not_action_and_not_resource_invert_the_match():
    p = policy(stmt("Deny", action="s3:*", resource=[f"arn:aws:s3:::{B}/*"]) | {"NotAction": "s3:GetObject"})
    p_doc = json.loads(p)
    del p_doc["Statement"][0]["Action"]
    text = json.dumps(p_doc)
    assert ev(text, req("s3:PutObject")) is Effect.DENY and ev(text, req("s3:GetObject")) is None
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                   "NotResource": f"arn:aws:s3:::{B}/private/*"}]}  # fmt: skip
    assert ev(json.dumps(doc), req(key="a")) is Effect.ALLOW and ev(json.dumps(doc), req(key="private/a")) is None


def test_no_policy_and_no_matching_statement_say_nothing():
    assert evaluate(None, req()) is None
    assert ev(policy(stmt(principal={"AWS": OTHER})), req(principal=OWNER)) is None


# --- malformed policies -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Policies must be valid JSON and the first byte must be '{'"),
        ("[1]", "Policies must be valid JSON and the first byte must be '{'"),
        ("{not json", "This policy contains invalid Json"),
        (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
        (json.dumps({"Version": "2020-01-01", "Statement": [stmt()]}),
         "The policy must contain a valid version string"),
        (json.dumps({"Statement": [stmt()], "Extra": 1}), "Unknown field Extra"),
        (policy(stmt(action="s3:GetObjekt")), "Policy has invalid action"),
        (policy(stmt(action="ec2:RunInstances")), "Policy has invalid action"),
        (policy(stmt(resource="arn:aws:s3:::other-bucket/*")), "Policy has invalid resource"),
        (policy(stmt(resource="photos/*")), "Policy has invalid resource"),
        (policy(stmt(action="s3:GetObject", resource=f"arn:aws:s3:::{B}")),
         "Action does not apply to any resource(s) in statement"),
        (policy(stmt(action="s3:ListBucket", resource=f"arn:aws:s3:::{B}/*")),
         "Action does not apply to any resource(s) in statement"),
        (policy(stmt(principal={"Federated": "x"})), "Invalid principal in policy"),
        (policy(stmt(principal="someone")), "Invalid principal in policy"),
        (policy({k: v for k, v in stmt().items() if k != "Principal"}), "Missing required field Principal"),
        (policy({k: v for k, v in stmt().items() if k != "Effect"}), "Missing required field Effect"),
        (policy(stmt(effect="Permit")), "Invalid effect: Permit"),
        (policy(stmt(Condition={"StringFancy": {"s3:prefix": "a"}})), "Invalid Condition type : StringFancy"),
        (policy(stmt(Condition={"StringLike": {"aws:CurrentTime": "a"}})), "Policy has an invalid condition key"),
        (policy(stmt(Condition={"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}})),
         "Invalid IP address or range: 300.1.1.1/8"),
        (policy(stmt(Condition={"Bool": {"aws:SecureTransport": "maybe"}})),
         "Invalid value for Bool: must be true or false"),
        (json.dumps({"Version": "2012-10-17", "Statement": []}), "Could not parse the policy: Statement is empty!"),
        ("{" + " " * 21 * 1024 + "}", "Policies cannot exceed 20 KB in size"),
    ],
)
def test_malformed_policies_are_refused_with_aws_messages(text, message):
    with pytest.raises(MalformedPolicy) as e:
        parse_policy(text, B)
    assert str(e.value) == message


def test_not_principal_is_refused_explicitly():
    doc = json.loads(policy(stmt()))
    doc["Statement"][0]["NotPrincipal"] = {"AWS": OTHER}
    del doc["Statement"][0]["Principal"]
    with pytest.raises(MalformedPolicy, match="NotPrincipal is not supported"):
        parse_policy(json.dumps(doc), B)


def test_a_single_statement_object_and_a_wildcard_bucket_in_the_resource_parse():
    doc = {"Version": "2008-10-17", "Statement": stmt(resource="arn:aws:s3:::pho*/*")}
    parsed = parse_policy(json.dumps(doc), B)
    assert len(parsed.statements) == 1 and evaluate(parsed, req()) is Effect.ALLOW


# --- public policies ------------------------------------------------------------------------


def test_is_public_unless_a_narrow_source_ip_range_fixes_who_can_use_it():
    assert is_public(parse_policy(policy(stmt()), B))
    assert not is_public(parse_policy(policy(stmt(principal={"AWS": OTHER})), B))
    narrow = stmt(Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})
    assert not is_public(parse_policy(policy(narrow), B))
    broad = stmt(Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}})
    assert is_public(parse_policy(policy(broad), B))
    assert not is_public(parse_policy(policy(stmt("Deny")), B))
    assert not is_public(None)


# --- the decision: ownership, ACLs, Block Public Access, policy ----------------------------


def access(**kw: Any) -> BucketAccess:
    text = kw.pop("policy", None)
    return BucketAccess(owner=OWNER, policy=parse_policy(text, B) if text else None, **kw)


def test_owner_is_allowed_everything_but_what_the_policy_explicitly_denies():
    assert decide(access(), req("s3:PutObject", principal=OWNER))
    denied = access(policy=policy(stmt("Deny", principal="*", action="s3:DeleteObject")))
    assert not decide(denied, req("s3:DeleteObject", principal=OWNER))
    assert decide(denied, req("s3:GetObject", principal=OWNER))


def test_private_bucket_refuses_anonymous_and_other_tenants():
    for principal in (None, OTHER):
        assert not decide(access(), req(principal=principal))
        assert not decide(access(), req("s3:ListBucket", key=None, principal=principal))


def test_public_read_acls_count_only_with_acls_enabled_and_not_ignored():
    enabled = access(ownership="BucketOwnerPreferred", acl="public-read")
    assert decide(enabled, req("s3:ListBucket", key=None))
    assert not decide(enabled, req("s3:GetObject"))  # a bucket's ACL never reads its objects
    assert decide(enabled, req("s3:GetObject"), object_acl="public-read")
    assert not decide(enabled, req("s3:PutObject"), object_acl="public-read")
    assert not decide(access(acl="public-read"), req("s3:ListBucket", key=None))  # BucketOwnerEnforced
    ignored = access(ownership="ObjectWriter", acl="public-read", block=PublicAccessBlock(ignore_public_acls=True))
    assert not decide(ignored, req("s3:ListBucket", key=None))
    tenant_ignored = access(ownership="ObjectWriter", tenant_block=PublicAccessBlock(ignore_public_acls=True))
    assert not decide(tenant_ignored, req(), object_acl="public-read")


def test_authenticated_read_needs_a_signature():
    a = access(ownership="BucketOwnerPreferred")
    assert decide(a, req(principal=OTHER), object_acl="authenticated-read")
    assert not decide(a, req(principal=None), object_acl="authenticated-read")


def test_restrict_public_buckets_stops_a_public_policy_but_not_a_cross_tenant_one():
    public = access(policy=policy(stmt()), block=PublicAccessBlock(restrict_public_buckets=True))
    assert not decide(public, req(principal=None))
    assert decide(public, req(principal=OWNER))
    restrict = PublicAccessBlock(restrict_public_buckets=True)
    shared = access(policy=policy(stmt(principal={"AWS": OTHER})), block=restrict)
    assert decide(shared, req(principal=OTHER))


def test_a_policy_deny_beats_a_public_acl():
    a = access(ownership="BucketOwnerPreferred", policy=policy(stmt("Deny", principal="*")))
    assert not decide(a, req(), object_acl="public-read")


def test_block_public_acls_and_policy_refuse_storing_them_and_acls_disabled_refuses_any_grant():
    blocked = access(ownership="BucketOwnerPreferred", block=PublicAccessBlock(block_public_acls=True,
                                                                                 block_public_policy=True))
    with pytest.raises(PublicAccessBlocked):
        check_acl_allowed(blocked, "public-read")
    check_acl_allowed(blocked, "private")
    with pytest.raises(PublicAccessBlocked):
        check_policy_allowed(blocked, parse_policy(policy(stmt()), B))
    check_policy_allowed(blocked, parse_policy(policy(stmt(principal={"AWS": OTHER})), B))
    with pytest.raises(AccessControlListNotSupported):
        check_acl_allowed(access(), "public-read")
    check_acl_allowed(access(), "bucket-owner-full-control")
