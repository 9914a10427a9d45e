"""What an S3 secret key is used for, in one place: SigV4 signing keys and SigV2 signatures.

The satellite holds tenants' secrets; gateways verify requests. A SigV4 *signing key* is
derived from the secret and a scope (day, region, service) by a chain of HMACs and cannot
be turned back into the secret, so the satellite hands gateways signing keys, never
secrets. SigV2 signs with the secret itself, so the satellite checks SigV2 signatures
itself (:func:`sigv2_signature`) and answers only "match" or "no match".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

__all__ = ["SIGV4_DATE", "SIGV4_REGION", "sigv2_signature", "sigv4_signing_key"]

SIGV4_DATE = re.compile(r"^\d{8}$")
SIGV4_REGION = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def sigv4_signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """``kSigning`` of SigV4 for ``date`` (``YYYYMMDD``), ``region`` and ``service``."""
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def sigv2_signature(secret: str, string_to_sign: str) -> str:
    """The base64 HMAC-SHA1 a SigV2 request carries for ``string_to_sign``."""
    mac = hmac.new(secret.encode(), string_to_sign.encode("utf-8", "surrogateescape"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()
