"""Which signature a request carries, and its verification.

An S3 request is authenticated by exactly one of: a SigV4 ``Authorization`` header, a
SigV4 presigned URL (``X-Amz-Algorithm``), a SigV2 header (``AWS key:sig``) or a SigV2
presigned URL (``Signature``/``AWSAccessKeyId``). More than one is ``InvalidArgument``
with AWS's words; none is ``AccessDenied``, except for the operations that a bucket's ACL
or policy can open to everyone (``anonymous``): they go on as an anonymous request, which
the satellite authorizes or refuses with ``AccessDenied`` as AWS does. The router
runs first, so the endpoint (bucket, addressing) is known here: SigV2 signs the bucket
even when it is in the host name.
"""

from __future__ import annotations

from aiohttp import web

from gateway.s3.credentials import AuthConfig, AuthResult, AuthScheme, CredentialLookup, KeyProvider
from gateway.s3.errors import S3Error
from gateway.s3.router import Addressing, Endpoint, parse_query
from gateway.s3.sigv2 import verify_sigv2_header, verify_sigv2_query
from gateway.s3.sigv4 import ALGORITHM, verify_sigv4_header, verify_sigv4_query

__all__ = ["AUTH_KEY", "authenticate"]

AUTH_KEY: web.RequestKey[AuthResult] = web.RequestKey("s3.auth", AuthResult)


async def authenticate(
    request: web.BaseRequest,
    endpoint: Endpoint,
    lookup: CredentialLookup | KeyProvider,
    config: AuthConfig = AuthConfig(),
    *,
    anonymous: bool = False,
) -> AuthResult:
    """Verify ``request``'s signature (not its body: see :class:`~gateway.s3.body.BodyReader`)
    and return who signed it; the result is also stored as ``request[AUTH_KEY]``."""
    method = request.method
    raw_path = request.raw_path
    headers = request.headers
    query = parse_query(raw_path.partition("?")[2])
    header = headers.get("Authorization", "").strip() or None  # empty is missing: AccessDenied, as AWS
    v4_query = "X-Amz-Algorithm" in query or "X-Amz-Signature" in query
    v2_query = "Signature" in query and "AWSAccessKeyId" in query
    if (header is not None) + v4_query + v2_query > 1:
        raise S3Error(
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature "
            "query string parameter or the Authorization header should be specified",
            ArgumentName="Authorization",
            ArgumentValue=header or "",
        )
    vhost = endpoint.addressing is Addressing.VIRTUAL_HOST
    if header is not None:
        if header.startswith(ALGORITHM + " "):
            result = await verify_sigv4_header(method, raw_path, headers, lookup, config)
        elif header.startswith("AWS "):
            result = await verify_sigv2_header(method, raw_path, headers, endpoint.bucket, vhost, lookup, config)
        else:
            raise S3Error(
                "InvalidArgument",
                "Unsupported Authorization Type",
                ArgumentName="Authorization",
                ArgumentValue=header.split(" ", 1)[0],
            )
    elif v4_query:
        result = await verify_sigv4_query(method, raw_path, query, headers, lookup, config)
    elif v2_query or "AWSAccessKeyId" in query:
        result = await verify_sigv2_query(method, raw_path, query, headers, endpoint.bucket, vhost, lookup, config)
    elif anonymous:
        result = AuthResult(access_key_id="", tenant_id="", scheme=AuthScheme.ANONYMOUS)
    else:
        raise S3Error("AccessDenied")
    request[AUTH_KEY] = result
    return result
