"""The one table of S3 errors, and how they go on the wire.

Every S3 error the gateway can send is a row of :data:`ERRORS`: its code, its HTTP status
and the message AWS sends by default, word for word (the wording follows AWS's error
reference and moto's ``s3/exceptions.py``, which copies it from the real service). Code
raises :class:`S3Error` with a code from that table, optionally a more specific message
(AWS itself varies the message of ``InvalidArgument``, ``InvalidRequest``,
``AuthorizationHeaderMalformed`` …) and the extra elements AWS adds to that error's body
(``BucketName``, ``Key``, ``Condition``, ``StringToSign`` …).

Domain errors of the other layers carry no HTTP. :func:`map_domain_error` is the single
place where they become S3 errors: it walks the exception's MRO through a registry that
the handler layer extends with :func:`register_domain_error`.

:func:`install` wires a web application so that every response, errors included, carries
``x-amz-request-id`` and ``x-amz-id-2``, and so that an :class:`S3Error` (or a mapped domain
error, or an unexpected exception, which becomes ``InternalError``) turns into AWS's XML
error body::

    <?xml version="1.0" encoding="UTF-8"?>
    <Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>
    <Key>photo.jpg</Key><Resource>/bucket/photo.jpg</Resource><RequestId>…</RequestId>
    <HostId>…</HostId></Error>

HEAD responses and ``304 Not Modified`` carry no body, as with AWS.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web

__all__ = [
    "CONTINUE_DEFERRED",
    "ERRORS",
    "REQUEST_ID_KEY",
    "ErrorSpec",
    "S3Error",
    "error_response",
    "install",
    "map_domain_error",
    "register_domain_error",
    "request_id",
    "s3_error_middleware",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """One row of the error table: HTTP status and AWS's default message for a code."""

    status: int
    message: str


ERRORS: Mapping[str, ErrorSpec] = {
    # Buckets and keys.
    "NoSuchBucket": ErrorSpec(404, "The specified bucket does not exist"),
    "NoSuchKey": ErrorSpec(404, "The specified key does not exist."),
    "NoSuchUpload": ErrorSpec(
        404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload "
        "may have been aborted or completed.",
    ),
    "NoSuchVersion": ErrorSpec(404, "The specified version does not exist."),
    "BucketAlreadyExists": ErrorSpec(
        409,
        "The requested bucket name is not available. The bucket namespace is shared by all "
        "users of the system. Please select a different name and try again",
    ),
    "BucketAlreadyOwnedByYou": ErrorSpec(
        409, "Your previous request to create the named bucket succeeded and you already own it."
    ),
    "BucketNotEmpty": ErrorSpec(409, "The bucket you tried to delete is not empty"),
    "InvalidBucketName": ErrorSpec(400, "The specified bucket is not valid."),
    "InvalidLocationConstraint": ErrorSpec(400, "The specified location-constraint is not valid"),
    "KeyTooLongError": ErrorSpec(400, "Your key is too long"),
    "InvalidURI": ErrorSpec(400, "Couldn't parse the specified URI."),
    # Authentication.
    "AccessDenied": ErrorSpec(403, "Access Denied"),
    "InvalidAccessKeyId": ErrorSpec(403, "The AWS Access Key Id you provided does not exist in our records."),
    "SignatureDoesNotMatch": ErrorSpec(
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
    ),
    "RequestTimeTooSkewed": ErrorSpec(
        403, "The difference between the request time and the current time is too large."
    ),
    "AuthorizationHeaderMalformed": ErrorSpec(400, "The authorization header is malformed."),
    "AuthorizationQueryParametersError": ErrorSpec(
        400,
        "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
        "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
    ),
    "ExpiredToken": ErrorSpec(400, "The provided token has expired."),
    "InvalidToken": ErrorSpec(400, "The provided token is malformed or otherwise invalid."),
    "MissingSecurityHeader": ErrorSpec(400, "Your request is missing a required header."),
    # Payload integrity.
    "BadDigest": ErrorSpec(400, "The Content-MD5 you specified did not match what we received."),
    "InvalidDigest": ErrorSpec(400, "The Content-MD5 you specified was invalid."),
    "XAmzContentSHA256Mismatch": ErrorSpec(
        400, "The provided 'x-amz-content-sha256' header does not match what was computed."
    ),
    "MalformedTrailerError": ErrorSpec(
        400,
        "The request contained trailing data that was not well-formed or did not conform to our published schema.",
    ),
    "MissingContentLength": ErrorSpec(411, "You must provide the Content-Length HTTP header."),
    "IncompleteBody": ErrorSpec(
        400, "You did not provide the number of bytes specified by the Content-Length HTTP header"
    ),
    "EntityTooSmall": ErrorSpec(400, "Your proposed upload is smaller than the minimum allowed object size."),
    "EntityTooLarge": ErrorSpec(400, "Your proposed upload exceeds the maximum allowed size"),
    "MetadataTooLarge": ErrorSpec(400, "Your metadata headers exceed the maximum allowed metadata size."),
    "MissingRequestBodyError": ErrorSpec(400, "Request Body is empty"),
    "RequestTimeout": ErrorSpec(
        400,
        "Your socket connection to the server was not read from or written to within the "
        "timeout period. Idle connections will be closed.",
    ),
    # Request shape.
    "InvalidRequest": ErrorSpec(400, "Invalid Request"),
    "InvalidArgument": ErrorSpec(400, "Invalid Argument"),
    "InvalidRange": ErrorSpec(416, "The requested range is not satisfiable"),
    "PreconditionFailed": ErrorSpec(412, "At least one of the pre-conditions you specified did not hold"),
    "ConditionalRequestConflict": ErrorSpec(
        409,
        "A conflicting operation occurred. If using PutObject you can retry the request. If using multipart "
        "upload you should initiate another CreateMultipartUpload request and re-upload each part.",
    ),
    "InvalidPartNumber": ErrorSpec(416, "The requested partnumber is not satisfiable"),
    "NoSuchCORSConfiguration": ErrorSpec(404, "The CORS configuration does not exist"),
    "NoSuchLifecycleConfiguration": ErrorSpec(404, "The lifecycle configuration does not exist"),
    "BadRequest": ErrorSpec(400, "Bad Request"),
    "AccessControlListNotSupported": ErrorSpec(400, "The bucket does not allow ACLs"),
    "InvalidBucketAclWithObjectOwnership": ErrorSpec(
        400, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
    ),
    "MalformedACLError": ErrorSpec(
        400, "The XML you provided was not well-formed or did not validate against our published schema"
    ),
    "UnexpectedContent": ErrorSpec(400, "This request does not support content"),
    "MalformedPolicy": ErrorSpec(400, "Policies must be valid JSON and the first byte must be '{'"),
    "NoSuchBucketPolicy": ErrorSpec(404, "The bucket policy does not exist"),
    "NoSuchPublicAccessBlockConfiguration": ErrorSpec(404, "The public access block configuration was not found"),
    "InvalidPolicyDocument": ErrorSpec(
        400, "The content of the form does not meet the conditions specified in the policy document."
    ),
    "MalformedPOSTRequest": ErrorSpec(400, "The body of your POST request is not well-formed multipart/form-data."),
    "AccessForbidden": ErrorSpec(
        403,
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request "
        "method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the "
        "resource's CORS spec.",
    ),
    "InvalidEncryptionAlgorithmError": ErrorSpec(
        400, "The Encryption request you specified is not valid. Supported value: AES256."
    ),

    "NotModified": ErrorSpec(304, "Not Modified"),
    "MalformedXML": ErrorSpec(
        400,
        "The XML you provided was not well-formed or did not validate against our published schema",
    ),
    "InvalidTag": ErrorSpec(400, "The TagValue you have provided is invalid"),
    "InvalidPart": ErrorSpec(
        400,
        "One or more of the specified parts could not be found. The part might not have been "
        "uploaded, or the specified entity tag might not have matched the part's entity tag.",
    ),
    "InvalidPartOrder": ErrorSpec(
        400,
        "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
    ),
    "InvalidStorageClass": ErrorSpec(400, "The storage class you specified is not valid"),
    "MethodNotAllowed": ErrorSpec(405, "The specified method is not allowed against this resource."),
    # Object Lock.
    "InvalidRetentionPeriod": ErrorSpec(400, "Default retention period must be a positive integer value."),
    "InvalidBucketState": ErrorSpec(409, "The request is not valid with the current state of the bucket."),
    "ObjectLockConfigurationNotFoundError": ErrorSpec(404, "Object Lock configuration does not exist for this bucket"),
    "NoSuchObjectLockConfiguration": ErrorSpec(404, "The specified object does not have a ObjectLock configuration"),
    "NotImplemented": ErrorSpec(501, "A header you provided implies functionality that is not implemented"),
    # Server side.
    "InternalError": ErrorSpec(500, "We encountered an internal error. Please try again."),
    "ServiceUnavailable": ErrorSpec(503, "Service is unable to handle request."),
    "SlowDown": ErrorSpec(503, "Please reduce your request rate."),
}


_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class S3Error(Exception):
    """An error answered to the client the way AWS answers it.

    ``fields`` are the extra elements AWS puts in that error's XML body (in order), and
    ``headers`` extra response headers (``Content-Range`` for ``InvalidRange``); ``status``
    replaces the table's where AWS answers one code with two statuses."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        resource: str | None = None,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
        **fields: Any,
    ) -> None:
        spec = ERRORS[code]  # an unknown code is a programming error, not a client error
        self.code = code
        self.status = spec.status if status is None else status
        self.message = message if message is not None else spec.message
        self.resource = resource
        self.headers: dict[str, str] = dict(headers or {})
        self.fields: dict[str, str] = {k: str(v) for k, v in fields.items() if v is not None}
        super().__init__(f"{code}: {self.message}")

    def to_xml(self, request_id: str, host_id: str = "") -> bytes:
        """AWS's ``<Error>`` document for this error."""
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
            f"<Code>{escape(self.code)}</Code>",
            f"<Message>{escape(self.message)}</Message>",
        ]
        parts.extend(f"<{name}>{escape(value)}</{name}>" for name, value in self.fields.items())
        if self.resource is not None:
            parts.append(f"<Resource>{escape(self.resource)}</Resource>")
        parts.append(f"<RequestId>{escape(request_id)}</RequestId>")
        if host_id:
            parts.append(f"<HostId>{escape(host_id)}</HostId>")
        parts.append("</Error>")
        # A field may echo what the client sent; what XML 1.0 cannot carry is replaced.
        return _XML_UNSAFE.sub("\ufffd", "".join(parts)).encode("utf-8", "replace")


# --- domain error mapping --------------------------------------------------------------

DomainErrorFactory = Callable[[BaseException], S3Error]
_DOMAIN_ERRORS: dict[type[BaseException], DomainErrorFactory] = {}


def register_domain_error(exc_type: type[BaseException], factory: DomainErrorFactory) -> None:
    """Declare how a domain exception (and its subclasses) becomes an S3 error."""
    _DOMAIN_ERRORS[exc_type] = factory


def map_domain_error(exc: BaseException) -> S3Error | None:
    """The S3 error for ``exc``: itself if it already is one, else the registered factory of
    the closest class in its MRO, else ``None`` (the caller answers ``InternalError``)."""
    if isinstance(exc, S3Error):
        return exc
    for cls in type(exc).__mro__:
        factory = _DOMAIN_ERRORS.get(cls)
        if factory is not None:
            return factory(exc)
    return None


# --- request ids and the error middleware ----------------------------------------------

REQUEST_ID_KEY: web.RequestKey[str] = web.RequestKey("s3.request_id", str)
# Set while a client's ``Expect: 100-continue`` is unanswered: it holds its body back.
CONTINUE_DEFERRED: web.RequestKey[bool] = web.RequestKey("s3.continue_deferred", bool)
_HOST_ID_KEY: web.RequestKey[str] = web.RequestKey("s3.host_id", str)


def request_id(request: web.BaseRequest) -> str:
    """This request's id (``x-amz-request-id``), made on first use: 16 upper-case hex
    characters like AWS's."""
    rid = request.get(REQUEST_ID_KEY)
    if rid is None:
        rid = secrets.token_hex(8).upper()
        request[REQUEST_ID_KEY] = rid
        request[_HOST_ID_KEY] = base64.b64encode(secrets.token_bytes(48)).decode()
    return rid


def _host_id(request: web.BaseRequest) -> str:
    request_id(request)
    return request[_HOST_ID_KEY]


def error_response(err: S3Error, request: web.BaseRequest) -> web.Response:
    """The response for ``err`` to ``request``: XML body (none for HEAD and 304), status,
    and the error's extra headers. ``Resource`` defaults to the request path."""
    if err.resource is None:
        err.resource = request.path
    headers = dict(err.headers)
    if request.method == "HEAD" or err.status == 304:
        return web.Response(status=err.status, headers=headers)
    headers["Content-Type"] = "application/xml"
    body = err.to_xml(request_id(request), _host_id(request))
    resp = web.Response(status=err.status, body=body, headers=headers)
    if request.get(CONTINUE_DEFERRED) or (request.body_exists and not request.content.is_eof()):
        # The client never got "100 Continue", so it never sent the body its Content-Length
        # announced; keeping the connection would make its next request's bytes that body.
        # Without Expect, the body is on its way: aiohttp would read (and drop) it to reuse
        # the connection. Closing instead makes a refused upload cost its headers.
        resp.force_close()
    return resp


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def s3_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn S3 errors, mapped domain errors and unexpected exceptions into AWS error bodies.

    A mapped server-side error (5xx) is logged here with the request id and the domain
    error's own message, which the client's body never carries.

    aiohttp's own ``HTTPException`` (404 of the router, 413 of ``client_max_size``) pass
    through unchanged."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        err = map_domain_error(exc)
        if err is None:
            log.exception("unhandled error on %s %s (request %s)", request.method, request.path, request_id(request))
            err = S3Error("InternalError")
        elif err.status >= 500 and err is not exc:
            # The client gets AWS's words; the detail (which nodes, which pieces) is logged.
            log.warning("%s %s answered %s (request %s): %s", request.method, request.path, err.code,
                        request_id(request), exc)  # fmt: skip
        return error_response(err, request)


async def _on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["x-amz-request-id"] = request_id(request)
    response.headers["x-amz-id-2"] = _host_id(request)


def install(app: web.Application) -> None:
    """Add the error middleware and stamp ``x-amz-request-id``/``x-amz-id-2`` on every
    response of ``app`` (streamed ones too: the stamp happens when headers are prepared)."""
    app.middlewares.append(s3_error_middleware)
    app.on_response_prepare.append(_on_response_prepare)
