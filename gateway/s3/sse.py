"""Server-side encryption headers, as S3 defines them, parsed and checked with AWS's errors.

Every object is encrypted by the gateway (AES-256-GCM, keys wrapped under a per-bucket key
derived from the gateway's master key), which S3 calls SSE-S3: ``x-amz-server-side-encryption:
AES256``. A request may ask for it explicitly; ``aws:kms`` / ``aws:kms:dsse`` are not offered
(there is no KMS) and are ``NotImplemented``.

SSE-C: a request brings its own 256-bit key in ``x-amz-server-side-encryption-customer-key``
(base64) with its MD5 in ``…-customer-key-MD5`` and ``…-customer-algorithm: AES256``; a copy
names the source's key with the same headers under ``x-amz-copy-source-``. The key is
checked here (length, MD5) and then used only to derive wrapping keys
(:func:`erasure.derive_customer_key`); it is never stored or logged. AWS refuses SSE-C keys
on plain HTTP; so does the gateway unless its configuration allows it (a TLS-terminating
proxy in front, or a devnet).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.s3.errors import S3Error

__all__ = [
    "COPY_SOURCE_PREFIX",
    "KMS",
    "PREFIX",
    "SSE_S3",
    "CustomerKey",
    "check_sse_request",
    "customer_key",
    "customer_key_headers",
    "kms_error",
]

SSE_S3 = {"x-amz-server-side-encryption": "AES256"}
PREFIX = "x-amz-server-side-encryption-customer-"
COPY_SOURCE_PREFIX = "x-amz-copy-source-server-side-encryption-customer-"
KMS = ("aws:kms", "aws:kms:dsse")


@dataclass(frozen=True)
class CustomerKey:
    """An SSE-C key a request brought: the 32 key bytes and the MD5 the client sent."""

    key: bytes = field(repr=False)
    md5: str


def _invalid(message: str, name: str, value: str | None = None) -> S3Error:
    return S3Error("InvalidArgument", message, ArgumentName=name, ArgumentValue=value or "null")


def customer_key(headers: Mapping[str, str], *, prefix: str = PREFIX, secure: bool = True) -> CustomerKey | None:
    """The SSE-C key of a request (or of its copy source, with :data:`COPY_SOURCE_PREFIX`), or None."""
    algorithm = headers.get(prefix + "algorithm")
    raw_key = headers.get(prefix + "key")
    md5 = headers.get(prefix + "key-MD5")
    if algorithm is None and raw_key is None and md5 is None:
        return None
    name = prefix.removesuffix("-customer-")
    if not secure:
        raise S3Error(
            "InvalidRequest",
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure "
            "connection.",
        )
    if algorithm is None:
        raise _invalid("Requests specifying Server Side Encryption with Customer provided keys must provide a valid "
                       "encryption algorithm.", name)  # fmt: skip
    if algorithm != "AES256":
        raise S3Error("InvalidEncryptionAlgorithmError", ArgumentName=name, ArgumentValue=algorithm)
    if not raw_key:
        raise _invalid("Requests specifying Server Side Encryption with Customer provided keys must provide an "
                       "appropriate secret key.", name)  # fmt: skip
    if not md5:
        raise _invalid("Requests specifying Server Side Encryption with Customer provided keys must provide the "
                       "client calculated MD5 of the secret key.", name)  # fmt: skip
    try:
        key = base64.b64decode(raw_key, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise _invalid("The secret key was invalid for the specified algorithm.", name)
    if base64.b64encode(hashlib.md5(key, usedforsecurity=False).digest()).decode() != md5.strip():
        raise _invalid("The calculated MD5 hash of the key did not match the hash that was provided.", name)
    return CustomerKey(key, md5.strip())


def check_sse_request(headers: Mapping[str, str], sse_c: CustomerKey | None) -> None:
    """``x-amz-server-side-encryption`` on a write: AES256 (what the gateway does anyway) or
    nothing; KMS is not offered; with an SSE-C key it is a contradiction, as AWS says."""
    value = headers.get("x-amz-server-side-encryption")
    if value is None:
        return
    if sse_c is not None:
        raise _invalid("Server Side Encryption with Customer provided key is incompatible with the encryption "
                       "method specified", "x-amz-server-side-encryption", value)  # fmt: skip
    if value in KMS:
        raise kms_error("x-amz-server-side-encryption")
    if value != "AES256":
        raise _invalid("The encryption method specified is not supported", "x-amz-server-side-encryption", value)


def kms_error(header: str) -> S3Error:
    """KMS encryption asked for (in ``header``): not offered, there is no KMS."""
    return S3Error("NotImplemented", "Server-side encryption with AWS KMS is not available: every object is "
                   "encrypted by the gateway (AES256)", Header=header)  # fmt: skip


def customer_key_headers(md5: str) -> dict[str, str]:
    """What S3 answers about an SSE-C object (never the key)."""
    return {PREFIX + "algorithm": "AES256", PREFIX + "key-MD5": md5}
