"""The S3 wire protocol, independent of storage: routing, errors, authentication, body
decoding, checksums, XML documents and the small HTTP helpers the handlers need.

A handler's path through it: :func:`route` the request into an :class:`Endpoint`,
:func:`authenticate` it, stream a body with :class:`BodyReader`, answer with the builders
of :mod:`gateway.s3.xml`, and raise :class:`S3Error` (or a domain error registered with
:func:`register_domain_error`) for anything AWS would refuse. :func:`install` adds the
error middleware and request ids to an aiohttp application.
"""

from gateway.s3.auth import AUTH_KEY, authenticate
from gateway.s3.body import BodyReader, defer_continue, send_continue
from gateway.s3.checksums import (
    ChecksumAlgorithm,
    ExpectedChecksums,
    MultiHasher,
    combine_full_object_crc,
    composite_checksum,
    multipart_etag,
    parse_checksum_headers,
)
from gateway.s3.credentials import AuthConfig, AuthResult, AuthScheme, CredentialLookup, PayloadMode
from gateway.s3.errors import S3Error, error_response, install, map_domain_error, register_domain_error, request_id
from gateway.s3.http import (
    ByteRange,
    apply_overrides,
    check_conditions,
    check_copy_source_conditions,
    http_date,
    parse_http_date,
    parse_range,
    user_metadata,
)
from gateway.s3.router import CopySource, Endpoint, ListQuery, Operation, RouterConfig, route

__all__ = [
    "AUTH_KEY",
    "AuthConfig",
    "AuthResult",
    "AuthScheme",
    "BodyReader",
    "ByteRange",
    "ChecksumAlgorithm",
    "CopySource",
    "CredentialLookup",
    "Endpoint",
    "ExpectedChecksums",
    "ListQuery",
    "MultiHasher",
    "Operation",
    "PayloadMode",
    "RouterConfig",
    "S3Error",
    "apply_overrides",
    "authenticate",
    "check_conditions",
    "check_copy_source_conditions",
    "combine_full_object_crc",
    "composite_checksum",
    "defer_continue",
    "error_response",
    "http_date",
    "install",
    "map_domain_error",
    "multipart_etag",
    "parse_checksum_headers",
    "parse_http_date",
    "parse_range",
    "register_domain_error",
    "request_id",
    "route",
    "send_continue",
    "user_metadata",
]
