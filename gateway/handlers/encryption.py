"""Encryption as S3 clients ask for it: SSE-S3 headers, bucket encryption, SSE-C objects.

Every object is already encrypted by the gateway, so responses say ``x-amz-server-side-
encryption: AES256`` and GetBucketEncryption answers the AES256 default; PutBucketEncryption
accepts AES256 (a no-op: it is what happens anyway) and refuses KMS.

SSE-C changes one thing in the data path: which key wraps the object's segment keys. Instead
of the bucket key it is a key derived from the bucket key and the customer's key
(:func:`erasure.derive_customer_key`), so the segments, pieces, satellite and nodes see
nothing new, and without the customer's key the gateway itself cannot unwrap them. The
object's stored metadata keeps only the derivation's check value (:data:`SSE_C_MARK`), which
tells a wrong key (403) from a right one before any byte is read.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from erasure import derive_customer_key
from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call
from gateway.s3 import xml
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error
from gateway.s3.sse import (
    COPY_SOURCE_PREFIX,
    KMS,
    PREFIX,
    SSE_S3,
    CustomerKey,
    customer_key,
    customer_key_headers,
    kms_error,
)

__all__ = [
    "SSE_C_MARK",
    "ObjectKeys",
    "delete_bucket_encryption",
    "get_bucket_encryption",
    "put_bucket_encryption",
    "read_keys",
    "request_key",
    "stored_headers",
    "write_keys",
]

# The name, in an object's or upload's stored metadata, of its SSE-C check value. Only
# ``x-amz-meta-*`` and standard headers are ever answered from that metadata, so it never
# reaches a client.
SSE_C_MARK = "x-geoshard-sse-c"
_MAX_CONFIG = 64 * 1024


@dataclass(frozen=True)
class ObjectKeys:
    """How one object's segment keys are wrapped, and what S3 says about it."""

    wrapping_key: bytes = field(repr=False)
    check: str | None = None  # SSE-C: the derivation's check value; None: SSE-S3
    md5: str | None = None  # SSE-C: the key's MD5, as the client sent it

    @property
    def headers(self) -> dict[str, str]:
        return customer_key_headers(self.md5) if self.md5 is not None else dict(SSE_S3)

    def mark(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        """``metadata`` to store with the object: with this SSE-C check value, or without any."""
        out = {k: v for k, v in metadata.items() if k != SSE_C_MARK}
        if self.check is not None:
            out[SSE_C_MARK] = self.check
        return out


def request_key(call: Call, *, copy_source: bool = False) -> CustomerKey | None:
    """The request's SSE-C key (or its copy source's), checked as AWS checks it."""
    secure = call.request.secure or call.services.config.allow_sse_c_over_http
    prefix = COPY_SOURCE_PREFIX if copy_source else PREFIX
    return customer_key(call.request.headers, prefix=prefix, secure=secure)


def write_keys(call: Call, bucket: str, key: CustomerKey | None, *, owner: str | None = None) -> ObjectKeys:
    """The keys a new object (or part) in ``bucket`` is written with; ``owner``: the bucket's
    tenant when it is not the requester's (bucket keys are the owner's)."""
    bucket_key = call.services.bucket_key(owner or call.tenant_id, bucket)
    if key is None:
        return ObjectKeys(bucket_key)
    wrapping, check = derive_customer_key(bucket_key, key.key)
    return ObjectKeys(wrapping, check, key.md5)


_NO_KEY = {
    "object": "The object was stored using a form of Server Side Encryption. The correct parameters must be "
    "provided to retrieve the object.",
    "copy source": "The source object was stored using a form of Server Side Encryption. The correct parameters "
    "must be provided to retrieve the object.",
    "upload": "The multipart upload initiate requested encryption. Subsequent part requests must include the "
    "appropriate encryption parameters.",
}


def read_keys(call: Call, bucket: str, metadata: Mapping[str, Any] | None, key: CustomerKey | None,
              *, of: str = "object", owner: str | None = None) -> ObjectKeys:  # fmt: skip
    """The keys of a stored object (``of`` "object" or "copy source") or of a multipart upload
    ("upload") whose metadata is ``metadata``, given the key the request brought; AWS's error
    when they do not go together."""
    check = (metadata or {}).get(SSE_C_MARK)
    if check is None:
        if key is not None:
            raise S3Error("InvalidRequest", "The encryption parameters are not applicable to this object.")
        return ObjectKeys(call.services.bucket_key(owner or call.tenant_id, bucket))
    if key is None:
        raise S3Error("InvalidRequest", _NO_KEY[of])
    keys = write_keys(call, bucket, key, owner=owner)
    if keys.check is None or not hmac.compare_digest(keys.check, str(check)):
        raise S3Error("AccessDenied")  # another key: the wrapped segment keys would not open
    return keys


def stored_headers(metadata: Mapping[str, Any] | None, key: CustomerKey | None) -> dict[str, str]:
    """What S3 says about a stored object's encryption when no key is checked (Complete)."""
    if (metadata or {}).get(SSE_C_MARK) is None:
        return dict(SSE_S3)
    return customer_key_headers(key.md5) if key is not None else {PREFIX + "algorithm": "AES256"}


# --- bucket encryption -------------------------------------------------------------------


async def get_bucket_encryption(call: Call) -> web.Response:
    await call.sat.get_bucket(call.tenant_id, call.bucket)  # NoSuchBucket / AccessDenied first
    return xml_response(xml.encryption_configuration())


async def put_bucket_encryption(call: Call, auth: AuthResult) -> web.Response:
    body = await BodyReader(call.request, auth).read_all(_MAX_CONFIG)
    await call.sat.get_bucket(call.tenant_id, call.bucket)
    for algorithm in xml.parse_encryption_configuration(body):
        if algorithm in KMS:
            raise kms_error("SSEAlgorithm")
        if algorithm != "AES256":
            raise S3Error("MalformedXML")
    return web.Response()


async def delete_bucket_encryption(call: Call) -> web.Response:
    # As at AWS since 2023: a bucket without a configuration still encrypts with SSE-S3.
    await call.sat.get_bucket(call.tenant_id, call.bucket)
    return web.Response(status=204)
