"""AWS Signature Version 2: ``Authorization: AWS key:signature`` and query-string URLs.

SigV2 is deprecated by AWS but not by its clients: boto3 still generates SigV2 presigned
URLs (``?AWSAccessKeyId=…&Signature=…&Expires=…``) for us-east-1 with a custom endpoint,
and s3cmd can sign requests with it. The signature is base64 HMAC-SHA1 of::

    VERB \\n Content-MD5 \\n Content-Type \\n Date-or-Expires \\n
    CanonicalizedAmzHeaders CanonicalizedResource

where the amz headers are the lower-cased ``x-amz-*`` headers, sorted, repeated values
joined by ``,``; and the resource is ``/bucket/key`` as sent (encoded), with the bucket
prepended for virtual-host requests, followed by the S3 subresources in the query (a fixed
list: ``uploadId``, ``partNumber``, ``tagging``, ``response-*`` …), sorted, values decoded.

For presigned URLs, clients move ``x-amz-*``, ``Content-Type`` and ``Content-MD5`` into
the query (botocore does); they are read from there when the header is absent. When a
request carries ``x-amz-date``, AWS signs an empty Date line; botocore signs the ``Date``
header it sends; both are tried. SigV2 signs no payload hash: the body is unsigned unless
``Content-MD5`` is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote_plus

from multidict import CIMultiDictProxy

from gateway.s3.credentials import AuthConfig, AuthResult, AuthScheme, CredentialLookup, KeyProvider, as_key_provider
from gateway.s3.errors import S3Error

__all__ = ["SUBRESOURCES", "canonical_resource", "verify_sigv2_header", "verify_sigv2_query"]

SUBRESOURCES = frozenset(
    {
        "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
        "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
        "partNumber", "policy", "replication", "requestPayment", "response-cache-control",
        "response-content-disposition", "response-content-encoding", "response-content-language",
        "response-content-type", "response-expires", "restore", "select", "select-type",
        "storageClass", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning",
        "versions", "website",
    }
)  # fmt: skip


def canonical_resource(raw_path: str, bucket: str | None, virtual_host: bool) -> str:
    path, _, raw_query = raw_path.partition("?")
    resource = f"/{bucket}{path}" if virtual_host and bucket else path
    subs: list[tuple[str, str | None]] = []
    for part in raw_query.split("&"):
        name, eq, value = part.partition("=")
        if name in SUBRESOURCES:
            subs.append((name, unquote_plus(value) if eq else None))
    if subs:
        subs.sort(key=lambda nv: nv[0])
        resource += "?" + "&".join(n if v is None else f"{n}={v}" for n, v in subs)
    return resource


def _resources(raw_path: str, bucket: str | None, virtual_host: bool) -> list[str]:
    """The canonical resource, and for a bucket named in a path without a trailing slash also
    ``/bucket/``: botocore signs path-style bucket requests (CreateBucket …) that way."""
    resource = canonical_resource(raw_path, bucket, virtual_host)
    path, sep, rest = resource.partition("?")
    if bucket and not virtual_host and path == f"/{bucket}":
        return [resource, f"/{bucket}/{sep}{rest}"]
    return [resource]


def _amz_headers(headers: CIMultiDictProxy[str], query: Mapping[str, str]) -> str:
    found: dict[str, list[str]] = {}
    for name, value in headers.items():
        lname = name.lower()
        if lname.startswith("x-amz-"):
            found.setdefault(lname, []).append(value.strip())
    for name, value in query.items():
        lname = name.lower()
        if lname.startswith("x-amz-") and lname not in found:
            found[lname] = [value.strip()]
    return "".join(f"{n}:{','.join(found[n])}\n" for n in sorted(found))


async def _check(lookup: CredentialLookup | KeyProvider, access_key: str, signature: str, strings: list[str]) -> str:
    known, tenant = await as_key_provider(lookup).sigv2_tenant(access_key, signature, strings)
    if not known:
        raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    if tenant is not None:
        return tenant
    raise S3Error(
        "SignatureDoesNotMatch",
        AWSAccessKeyId=access_key,
        StringToSign=strings[0],
        SignatureProvided=signature,
    )


def _fmt(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def verify_sigv2_header(
    method: str,
    raw_path: str,
    headers: CIMultiDictProxy[str],
    bucket: str | None,
    virtual_host: bool,
    lookup: CredentialLookup | KeyProvider,
    config: AuthConfig,
) -> AuthResult:
    """Verify ``Authorization: AWS AKID:base64(hmac-sha1)``."""
    access_key, sep, signature = headers["Authorization"][4:].strip().rpartition(":")
    if not sep or not access_key or not signature:
        raise S3Error("InvalidArgument", "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
                      ArgumentName="Authorization", ArgumentValue=headers["Authorization"])  # fmt: skip
    raw_date = headers.get("x-amz-date") or headers.get("Date")
    try:
        when = parsedate_to_datetime(raw_date or "").timestamp()
    except (TypeError, ValueError):
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header") from None
    now = config.clock()
    if abs(now - when) > config.max_skew:
        raise S3Error("RequestTimeTooSkewed", RequestTime=raw_date, ServerTime=_fmt(now),
                      MaxAllowedSkewMilliseconds=int(config.max_skew * 1000))  # fmt: skip
    head = f"{method}\n{headers.get('Content-MD5', '')}\n{headers.get('Content-Type', '')}\n"
    tails = [_amz_headers(headers, {}) + r for r in _resources(raw_path, bucket, virtual_host)]
    dates = [headers.get("Date", "")]
    if "x-amz-date" in headers and dates[0]:
        dates.append("")
    tenant = await _check(lookup, access_key, signature, [f"{head}{d}\n{t}" for t in tails for d in dates])
    return AuthResult(access_key, tenant, AuthScheme.SIGV2_HEADER)


async def verify_sigv2_query(
    method: str,
    raw_path: str,
    query: Mapping[str, str],
    headers: CIMultiDictProxy[str],
    bucket: str | None,
    virtual_host: bool,
    lookup: CredentialLookup | KeyProvider,
    config: AuthConfig,
) -> AuthResult:
    """Verify ``?AWSAccessKeyId=…&Expires=…&Signature=…``."""
    access_key, expires, signature = (query.get(p) for p in ("AWSAccessKeyId", "Expires", "Signature"))
    # base64 has no spaces: a "+" sent unencoded (read as a space, as AWS reads it) is a "+".
    signature = signature.replace(" ", "+") if signature else signature
    if not access_key or not signature or expires is None:
        raise S3Error(
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        )
    if not expires.isdigit():
        raise S3Error("AccessDenied", "Invalid date (should be seconds since epoch): " + expires)
    now = config.clock()
    if now > int(expires):
        raise S3Error("AccessDenied", "Request has expired", Expires=_fmt(int(expires)), ServerTime=_fmt(now))
    md5 = headers.get("Content-MD5") or query.get("content-md5", "")
    ctype = headers.get("Content-Type") or query.get("content-type", "")
    head = f"{method}\n{md5}\n{ctype}\n{expires}\n" + _amz_headers(headers, query)
    tenant = await _check(lookup, access_key, signature, [head + r for r in _resources(raw_path, bucket, virtual_host)])
    return AuthResult(access_key, tenant, AuthScheme.SIGV2_QUERY)
