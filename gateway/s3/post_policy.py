"""Browser-based uploads (POST Object): the signed policy document and its conditions.

An HTML form posts its fields and then the file. The fields carry a base64 JSON *policy*
(``{"expiration": ISO time, "conditions": [...]}``) signed with the uploader's secret: SigV4
(``x-amz-algorithm``, ``x-amz-credential``, ``x-amz-date``, ``x-amz-signature`` = hex
HMAC-SHA256 of the policy under the SigV4 signing key) or SigV2 (``AWSAccessKeyId``,
``signature`` = base64 HMAC-SHA1 of the policy). Every field but ``file``, ``policy``,
``x-amz-signature``, ``signature``, ``awsaccesskeyid`` and ``x-ignore-*`` must be allowed by
a condition; conditions are exact matches (``{"acl": "private"}``, ``["eq", "$key", v]``),
prefixes (``["starts-with", "$key", "uploads/"]``, ``""`` allowing anything) and
``["content-length-range", min, max]``, checked while the file streams. Failures are AWS's
``403 AccessDenied`` "Invalid according to Policy: …". Pure code: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.s3.errors import S3Error

__all__ = ["PostPolicy", "parse_policy", "verify_signature"]

_EXEMPT = ("file", "policy", "x-amz-signature", "signature", "awsaccesskeyid")


def _denied(why: str) -> S3Error:
    return S3Error("AccessDenied", f"Invalid according to Policy: {why}")


@dataclass(frozen=True)
class PostPolicy:
    expiration: datetime
    exact: dict[str, str] = field(default_factory=dict)  # field (lower case) -> value
    prefixes: dict[str, str] = field(default_factory=dict)  # field (lower case) -> prefix
    length_range: tuple[int, int] | None = None
    raw: list[Any] = field(default_factory=list)

    def check_fields(self, fields: Mapping[str, str], now: datetime) -> None:
        """Expiry, and every field against the conditions (``fields``: lower-case names)."""
        if now > self.expiration:
            raise _denied("Policy expired.")
        for name, value in fields.items():
            if name in _EXEMPT or name.startswith("x-ignore-"):
                continue
            if name in self.exact:
                if value != self.exact[name]:
                    raise _denied(f'Policy Condition failed: ["eq", "${name}", "{self.exact[name]}"]')
            elif name in self.prefixes:
                if not value.startswith(self.prefixes[name]):
                    raise _denied(f'Policy Condition failed: ["starts-with", "${name}", "{self.prefixes[name]}"]')
            else:
                raise _denied(f"Extra input fields: {name}")
        for name, value in self.exact.items():
            if name not in fields and name != "bucket":
                raise _denied(f'Policy Condition failed: ["eq", "${name}", "{value}"]')


def parse_policy(policy_b64: str, bucket: str) -> PostPolicy:
    """The policy document of a form (``MalformedPOSTRequest``-ish input is ``InvalidPolicyDocument``)."""
    try:
        doc = json.loads(base64.b64decode(policy_b64, validate=True))
        expiration = datetime.fromisoformat(str(doc["expiration"]).replace("Z", "+00:00"))
        conditions = doc["conditions"]
        if not isinstance(conditions, list):
            raise ValueError("conditions")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise S3Error("InvalidPolicyDocument") from None
    exact: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    length: tuple[int, int] | None = None
    for c in conditions:
        if isinstance(c, dict) and len(c) == 1:
            name, value = next(iter(c.items()))
            exact[str(name).lower()] = str(value)
        elif isinstance(c, list) and len(c) == 3 and str(c[0]).lower() == "content-length-range":
            try:
                length = (int(c[1]), int(c[2]))
            except (TypeError, ValueError):
                raise S3Error("InvalidPolicyDocument") from None
        elif isinstance(c, list) and len(c) == 3 and str(c[0]).lower() in ("eq", "starts-with") \
                and str(c[1]).startswith("$"):  # fmt: skip
            target = exact if str(c[0]).lower() == "eq" else prefixes
            target[str(c[1])[1:].lower()] = str(c[2])
        else:
            raise S3Error("InvalidPolicyDocument")
    if exact.get("bucket", bucket) != bucket or not bucket.startswith(prefixes.get("bucket", "")):
        raise _denied(f'Policy Condition failed: ["eq", "$bucket", "{exact.get("bucket", "")}"]')
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    return PostPolicy(expiration, exact, prefixes, length, conditions)


def verify_signature(fields: Mapping[str, str], sigv4_key: bytes) -> None:
    """The form's SigV4 signature of its policy, under the signing key of the credential's date
    and region (the satellite hands gateways signing keys, never secrets). A SigV2 form is
    checked by the satellite itself, which holds the secret SigV2 signs with."""
    expected = hmac.new(sigv4_key, fields.get("policy", "").encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), fields.get("x-amz-signature", "").encode()):
        raise S3Error("SignatureDoesNotMatch")
