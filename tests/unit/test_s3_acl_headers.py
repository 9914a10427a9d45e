"""What ``x-amz-acl`` / ``x-amz-grant-*`` headers and an ``AccessControlPolicy`` document ask for."""

from __future__ import annotations

import pytest

from gateway.handlers.acl import _canned_of
from gateway.s3.acl_headers import ALL_USERS, AUTHENTICATED_USERS, GRANTS, requested_acl
from gateway.s3.errors import S3Error

OWNER = "tenant-owner"


def _policy(*grants: str) -> bytes:
    xsi = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
    head = f'<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/" {xsi}><Owner><ID>{OWNER}</ID></Owner>'
    return f"{head}<AccessControlList>{''.join(grants)}</AccessControlList></AccessControlPolicy>".encode()


def _user(ident: str, perm: str = "FULL_CONTROL") -> str:
    return f'<Grant><Grantee xsi:type="CanonicalUser"><ID>{ident}</ID></Grantee><Permission>{perm}</Permission></Grant>'


def _group(uri: str, perm: str = "READ") -> str:
    return f'<Grant><Grantee xsi:type="Group"><URI>{uri}</URI></Grantee><Permission>{perm}</Permission></Grant>'


def test_headers_name_a_canned_acl_grants_or_nothing():
    assert requested_acl({}) is None
    assert requested_acl({"x-amz-acl": " public-read "}) == "public-read"
    assert requested_acl({"x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'}) == GRANTS


def test_unknown_canned_acl_and_canned_with_grants_get_aws_errors():
    with pytest.raises(S3Error) as e:
        requested_acl({"x-amz-acl": "world-readable"})
    assert (e.value.code, e.value.fields["ArgumentName"]) == ("InvalidArgument", "x-amz-acl")
    with pytest.raises(S3Error) as e:
        requested_acl({"x-amz-acl": "private", "x-amz-grant-read": "id=x"})
    assert e.value.code == "InvalidRequest"


@pytest.mark.parametrize(
    ("grants", "canned"),
    [
        ((_user(OWNER),), "private"),
        ((_user(OWNER), _group(ALL_USERS)), "public-read"),
        ((_group(AUTHENTICATED_USERS), _user(OWNER)), "authenticated-read"),
        ((_user(OWNER), _group(ALL_USERS, "WRITE")), GRANTS),
        ((_user(OWNER), _user("someone-else", "READ")), GRANTS),
        ((_group(ALL_USERS),), GRANTS),  # the owner must keep full control
        ((_user(OWNER), _group(ALL_USERS), _group(AUTHENTICATED_USERS)), GRANTS),
    ],
)
def test_an_access_control_policy_amounts_to_a_canned_acl_or_to_grants(grants, canned):
    assert _canned_of(_policy(*grants), OWNER) == canned


def test_a_malformed_access_control_policy_is_malformed_xml():
    with pytest.raises(S3Error) as e:
        _canned_of(b"<AccessControlPolicy><unclosed>", OWNER)
    assert e.value.code == "MalformedXML"
