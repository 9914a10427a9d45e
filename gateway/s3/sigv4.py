"""AWS Signature Version 4: the ``Authorization`` header and presigned URLs.

The server recomputes what the client signed and compares in constant time. The steps
are AWS's, and every one is a place where servers diverge from clients, so each follows
the specification literally:

* **Canonical URI**: the path, each byte outside ``A-Za-z0-9-_.~/`` percent-encoded once.
  S3 does not normalise the path (``//`` and ``..`` stay) and does not double-encode. We
  compute it from the decoded path; if that does not verify we also try the path exactly
  as sent, which is what botocore signs for S3 (the two differ only for clients that
  leave reserved characters unescaped).
* **Canonical query**: every parameter (``X-Amz-Signature`` excluded for presigned URLs),
  name and value decoded then strictly re-encoded (space is ``%20``, ``+`` is ``%2B``), a
  parameter without ``=`` has an empty value, sorted by name then value; repeated
  parameters all appear.
* **Canonical headers**: the signed headers, lower-cased and sorted, repeated headers
  joined with ``,``, each value trimmed with inner runs of whitespace folded to one space.
  ``host`` must be signed, and so must every ``x-amz-*`` header present (AWS's
  ``HeadersNotSigned``).
* **Payload hash**: ``x-amz-content-sha256`` as sent (a hex digest, ``UNSIGNED-PAYLOAD``
  or one of the ``STREAMING-*`` modes), mandatory in header-signed requests;
  presigned URLs default to ``UNSIGNED-PAYLOAD``.
* **Time**: ``x-amz-date`` (``YYYYMMDDTHHMMSSZ``) must match the credential scope's date
  and be within 15 minutes of the server clock (``RequestTimeTooSkewed``); presigned URLs
  instead live ``X-Amz-Expires`` seconds (at most 7 days) from ``X-Amz-Date``.

The result carries the :class:`~gateway.s3.credentials.SigningContext` from which the
body reader verifies aws-chunked chunk signatures (see ``streaming.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote, unquote_plus

from multidict import CIMultiDictProxy

from common.s3keys import sigv4_signing_key
from gateway.s3.credentials import (
    MAX_PRESIGNED_EXPIRES,
    AuthConfig,
    AuthResult,
    AuthScheme,
    CredentialLookup,
    KeyProvider,
    PayloadMode,
    SigningContext,
    as_key_provider,
)
from gateway.s3.errors import S3Error

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "canonical_query",
    "canonical_uri",
    "signing_key",
    "string_to_sign",
    "verify_sigv4_header",
    "verify_sigv4_query",
]

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_STREAMING = {m.value: m for m in PayloadMode if m.is_streaming}
_CREDENTIAL_HINT = (
    "The authorization header is malformed; the Credential is mal-formed; expecting "
    '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
)


def _encode(s: str, safe: str = "") -> str:
    return quote(s, safe="-_.~" + safe)


def canonical_uri(path: str) -> str:
    """The decoded ``path`` encoded as SigV4 wants it for S3 (no normalisation)."""
    return _encode(path, "/")


def canonical_query(raw_query: str, exclude: Iterable[str] = ()) -> str:
    """The canonical query string of a raw (as sent) query string."""
    skip = set(exclude)
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = unquote_plus(name), unquote_plus(value)  # "+" is a space, as AWS reads it
        if name in skip:
            continue
        pairs.append((_encode(name), _encode(value)))
    pairs.sort()
    return "&".join(f"{n}={v}" for n, v in pairs)


def _canonical_headers(headers: CIMultiDictProxy[str], signed: list[str]) -> str:
    lines = []
    for name in signed:
        values = headers.getall(name, [])
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}\n")
    return "".join(lines)


@lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """``kSigning`` of SigV4, derived from the secret and the scope."""
    return sigv4_signing_key(secret, date, region, service)


def string_to_sign(amz_date: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def _parse_amz_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header") from None


def _fmt(ts: datetime) -> str:
    return ts.strftime(_AMZ_DATE)


def _check_skew(when: datetime, config: AuthConfig) -> None:
    now = config.clock()
    if abs(now - when.timestamp()) > config.max_skew:
        raise S3Error(
            "RequestTimeTooSkewed",
            RequestTime=_fmt(when),
            ServerTime=_fmt(datetime.fromtimestamp(now, UTC)),
            MaxAllowedSkewMilliseconds=int(config.max_skew * 1000),
        )


def _parse_credential(credential: str, amz_date: str, config: AuthConfig) -> tuple[str, str, str]:
    """(access key, date, region) of ``AKID/YYYYMMDD/REGION/s3/aws4_request``."""
    parts = credential.rsplit("/", 4)
    if len(parts) != 5 or not parts[0] or not re.fullmatch(r"\d{8}", parts[1]):
        raise S3Error("AuthorizationHeaderMalformed", _CREDENTIAL_HINT)
    access_key, date, region, service, terminal = parts
    if service != "s3":
        raise S3Error(
            "AuthorizationHeaderMalformed",
            f'The authorization header is malformed; incorrect service "{service}". This endpoint belongs to "s3".',
        )
    if terminal != "aws4_request":
        raise S3Error(
            "AuthorizationHeaderMalformed",
            f'The authorization header is malformed; incorrect terminal "{terminal}". '
            'This endpoint uses "aws4_request".',
        )
    if date != amz_date[:8]:
        raise S3Error(
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.",
        )
    if config.region is not None and region != config.region:
        raise S3Error(
            "AuthorizationHeaderMalformed",
            f"The authorization header is malformed; the region '{region}' is wrong; expecting '{config.region}'",
            Region=config.region,
        )
    return access_key, date, region


def _payload_mode(value: str) -> PayloadMode:
    if value == "UNSIGNED-PAYLOAD":
        return PayloadMode.UNSIGNED
    if value in _STREAMING:
        return _STREAMING[value]
    if _HEX64.match(value):
        return PayloadMode.SHA256
    raise S3Error(
        "InvalidArgument",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER "
        "or a valid sha256 value.",
        ArgumentName="x-amz-content-sha256",
        ArgumentValue=value,
    )


def _check_signed_headers(headers: CIMultiDictProxy[str], signed: list[str]) -> None:
    if not signed or "host" not in signed or signed != sorted(set(signed)):
        raise S3Error(
            "AuthorizationHeaderMalformed",
            "The authorization header is malformed; SignedHeaders must be a sorted, non-empty list that includes host.",
        )
    unsigned = sorted({n.lower() for n in headers if n.lower().startswith("x-amz-")} - set(signed))
    if unsigned:
        raise S3Error(
            "AccessDenied",
            "There were headers present in the request which were not signed",
            HeadersNotSigned=", ".join(unsigned),
        )


async def _verify(
    *,
    method: str,
    raw_path: str,
    headers: CIMultiDictProxy[str],
    lookup: CredentialLookup | KeyProvider,
    access_key: str,
    date: str,
    region: str,
    amz_date: str,
    signed: list[str],
    payload_hash: str,
    signature: str,
    exclude_query: Iterable[str] = (),
) -> tuple[str, SigningContext]:
    creds = await as_key_provider(lookup).sigv4_key(access_key, date, region)
    if creds is None:
        raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    key, tenant = creds
    scope = f"{date}/{region}/s3/aws4_request"
    path, _, raw_query = raw_path.partition("?")
    tail = (
        "\n"
        + canonical_query(raw_query, exclude_query)
        + "\n"
        + _canonical_headers(headers, signed)
        + "\n"
        + ";".join(signed)
        + "\n"
        + payload_hash
    )
    candidates = [canonical_uri(unquote(path))]
    if path != candidates[0]:
        candidates.append(path)
    first_sts = first_cr = ""
    for uri in candidates:
        cr = method + "\n" + uri + tail
        sts = string_to_sign(amz_date, scope, cr)
        expected = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected.encode(), signature.lower().encode()):
            return tenant, SigningContext(key, amz_date, scope, expected)
        first_sts, first_cr = first_sts or sts, first_cr or cr
    raise S3Error(
        "SignatureDoesNotMatch",
        AWSAccessKeyId=access_key,
        StringToSign=first_sts,
        SignatureProvided=signature,
        CanonicalRequest=first_cr,
    )


_AUTH_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)\s*=\s*([^,\s]*)")


async def verify_sigv4_header(
    method: str,
    raw_path: str,
    headers: CIMultiDictProxy[str],
    lookup: CredentialLookup | KeyProvider,
    config: AuthConfig,
) -> AuthResult:
    """Verify ``Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…``."""
    auth = headers["Authorization"]
    fields = dict(_AUTH_FIELD.findall(auth[len(ALGORITHM) :]))
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise S3Error("AuthorizationHeaderMalformed", _CREDENTIAL_HINT)
    raw_date = headers.get("x-amz-date")
    if raw_date is not None:
        when = _parse_amz_date(raw_date)
    else:
        try:
            when = parsedate_to_datetime(headers.get("Date", "")).astimezone(UTC)
        except (TypeError, ValueError):
            raise S3Error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header") from None
        raw_date = _fmt(when)
    access_key, date, region = _parse_credential(fields["Credential"], raw_date, config)
    _check_skew(when, config)
    signed = fields["SignedHeaders"].split(";")
    _check_signed_headers(headers, signed)
    payload_hash = headers.get("x-amz-content-sha256")
    if payload_hash is None:
        raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    mode = _payload_mode(payload_hash)
    tenant, ctx = await _verify(
        method=method, raw_path=raw_path, headers=headers, lookup=lookup,
        access_key=access_key, date=date, region=region, amz_date=raw_date,
        signed=signed, payload_hash=payload_hash, signature=fields["Signature"],
    )  # fmt: skip
    return AuthResult(
        access_key, tenant, AuthScheme.SIGV4_HEADER, mode,
        payload_hash.lower() if mode is PayloadMode.SHA256 else None,
        ctx if mode.signed_chunks else None,
    )  # fmt: skip


_QUERY_PARAMS = (
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
    "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires",
)  # fmt: skip


async def verify_sigv4_query(
    method: str,
    raw_path: str,
    query: Mapping[str, str],
    headers: CIMultiDictProxy[str],
    lookup: CredentialLookup | KeyProvider,
    config: AuthConfig,
) -> AuthResult:
    """Verify a SigV4 presigned URL (``X-Amz-Algorithm=AWS4-HMAC-SHA256&…``)."""
    if any(p not in query for p in _QUERY_PARAMS):
        raise S3Error("AuthorizationQueryParametersError")
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise S3Error(
            "AuthorizationQueryParametersError",
            'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
        )
    raw_expires = query["X-Amz-Expires"]
    if not raw_expires.lstrip("-").isdigit():
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires should be a number")
    expires = int(raw_expires)
    # AWS answers an expiry out of 1..604800 with 403 (the code's usual status is 400); 0 is
    # a URL that has already expired.
    if expires < 0:
        raise S3Error("AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative", status=403)
    if expires > MAX_PRESIGNED_EXPIRES:
        raise S3Error(
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less "
            "than 604800 seconds",
            status=403,
        )
    amz_date = query["X-Amz-Date"]
    when = _parse_amz_date(amz_date)
    try:
        access_key, date, region = _parse_credential(query["X-Amz-Credential"], amz_date, config)
    except S3Error as e:
        raise S3Error(
            "AuthorizationQueryParametersError", e.message.replace("authorization header", "X-Amz-Credential")
        ) from None
    now = config.clock()
    if now > when.timestamp() + expires or expires == 0:
        raise S3Error(
            "AccessDenied",
            "Request has expired",
            **{
                "X-Amz-Expires": expires,
                "Expires": _fmt(datetime.fromtimestamp(when.timestamp() + expires, UTC)),
                "ServerTime": _fmt(datetime.fromtimestamp(now, UTC)),
            },
        )
    if when.timestamp() > now + config.max_skew:
        raise S3Error("AccessDenied", "Request is not valid yet")
    signed = query["X-Amz-SignedHeaders"].lower().split(";")
    _check_signed_headers(headers, signed)
    payload_hash = headers.get("x-amz-content-sha256") or query.get("X-Amz-Content-Sha256") or "UNSIGNED-PAYLOAD"
    mode = _payload_mode(payload_hash)
    if mode.is_streaming:
        raise S3Error("InvalidRequest", "aws-chunked bodies cannot be sent with a presigned URL")
    tenant, _ = await _verify(
        method=method, raw_path=raw_path, headers=headers, lookup=lookup,
        access_key=access_key, date=date, region=region, amz_date=amz_date,
        signed=signed, payload_hash=payload_hash, signature=query["X-Amz-Signature"],
        exclude_query=("X-Amz-Signature",),
    )  # fmt: skip
    return AuthResult(
        access_key, tenant, AuthScheme.SIGV4_QUERY, mode,
        payload_hash.lower() if mode is PayloadMode.SHA256 else None,
    )  # fmt: skip
