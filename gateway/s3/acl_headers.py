"""What a request's ``x-amz-acl`` and ``x-amz-grant-*`` headers ask for, and where an object keeps it.

The satellite decides whether an ACL may be stored and what it lets through; the protocol
layer only reads the headers (AWS's ``InvalidArgument`` for an unknown canned ACL, its
``InvalidRequest`` for a canned ACL and grants together) and names the metadata entry an
object's canned ACL is stored under.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.s3.errors import S3Error

__all__ = ["ACL_MARK", "ALL_USERS", "AUTHENTICATED_USERS", "GRANTS", "requested_acl"]

ACL_MARK = "x-geoshard-acl"  # an object's canned ACL in its stored metadata (satellite.access.service.ACL_MARK)
GRANTS = "grants"  # explicit grants: refused by the satellite (ACLs disabled) or not implemented
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
_CANNED = ("private", "public-read", "public-read-write", "authenticated-read", "aws-exec-read",
           "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write")  # fmt: skip
_GRANT_HEADERS = ("x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
                  "x-amz-grant-full-control")  # fmt: skip


def requested_acl(headers: Mapping[str, str]) -> str | None:
    """The ACL a request's headers ask for: ``x-amz-acl``'s canned name, :data:`GRANTS` for
    ``x-amz-grant-*`` headers, None for neither."""
    canned = headers.get("x-amz-acl")
    grants = any(h in headers for h in _GRANT_HEADERS)
    if canned is not None and grants:
        raise S3Error("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed")
    if grants:
        return GRANTS
    if canned is None:
        return None
    canned = canned.strip()
    if canned not in _CANNED:
        raise S3Error("InvalidArgument", None, ArgumentName="x-amz-acl", ArgumentValue=canned)
    return canned
