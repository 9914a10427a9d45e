"""Access control, AWS-shaped: canned ACLs, Block Public Access and bucket policies, decided at the satellite."""

from satellite.access.decision import (
    CANNED_ACLS,
    OWNERSHIPS,
    PUBLIC_ACLS,
    BucketAccess,
    PublicAccessBlock,
    check_acl_allowed,
    check_policy_allowed,
    decide,
)
from satellite.access.policy import AccessRequest, Effect, MalformedPolicy, Policy, evaluate, is_public, parse_policy

__all__ = [
    "CANNED_ACLS",
    "OWNERSHIPS",
    "PUBLIC_ACLS",
    "AccessRequest",
    "BucketAccess",
    "Effect",
    "MalformedPolicy",
    "Policy",
    "PublicAccessBlock",
    "check_acl_allowed",
    "check_policy_allowed",
    "decide",
    "evaluate",
    "is_public",
    "parse_policy",
]
