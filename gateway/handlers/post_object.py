"""POST Object: a browser uploads a file with an HTML form whose policy the uploader signed.

The form has no ``Authorization`` header: its fields authenticate it (see
:mod:`gateway.s3.post_policy`). A middleware therefore takes these requests before the
signature check every other request goes through, reads the fields up to the ``file``
part, verifies the policy's signature and conditions, then streams the file through the
same upload pipeline as PutObject, enforcing ``content-length-range`` as the bytes arrive
(nothing is committed when it fails). The answer follows ``success_action_redirect`` (303
to it, with ``bucket``, ``key`` and ``etag``) or ``success_action_status`` (204 by default;
201 with AWS's ``PostResponse`` document; 200).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from urllib.parse import urlencode

from aiohttp import BodyPartReader, web
from multidict import CIMultiDict

from gateway.handlers.common import (
    SERVICES,
    Call,
    GatewayServices,
    SatellitePlacer,
    metadata_from_headers,
    segment_json,
)
from gateway.handlers.object_put import DEFAULT_CONTENT_TYPE, upload_body
from gateway.s3.checksums import MultiHasher
from gateway.s3.errors import S3Error
from gateway.s3.post_policy import parse_policy, verify_signature
from gateway.s3.router import Endpoint, Operation, check_key, route
from gateway.s3.version_ids import version_headers

__all__ = ["install"]

_MAX_FIELDS = 20 * 1024  # AWS bounds the form's fields (not the file) at 20 KB
_CREDENTIAL = re.compile(r"^([^/]+)/(\d{8})/([^/]+)/s3/aws4_request$")
_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


async def _fields(reader: AsyncIterator[BodyPartReader]) -> tuple[dict[str, str], BodyPartReader]:
    fields: dict[str, str] = {}
    size = 0
    async for part in reader:
        name = (part.name or "").lower()
        if name == "file":
            return fields, part
        value = (await part.read(decode=True)).decode("utf-8")
        size += len(name) + len(value)
        if size > _MAX_FIELDS:
            raise S3Error("MalformedPOSTRequest", "Your POST request fields preceeding the upload file were too large.")
        fields[name] = value
    raise S3Error("InvalidArgument", "POST requires exactly one file upload per request.", ArgumentName="file",
                  ArgumentValue="0")  # fmt: skip


async def _tenant(services: GatewayServices, fields: dict[str, str]) -> str:
    if "x-amz-signature" in fields:
        if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
            raise S3Error("InvalidArgument", 'x-amz-algorithm only supports "AWS4-HMAC-SHA256"',
                          ArgumentName="x-amz-algorithm", ArgumentValue=fields.get("x-amz-algorithm", ""))  # fmt: skip
        m = _CREDENTIAL.match(fields.get("x-amz-credential", ""))
        if m is None:
            raise S3Error("InvalidArgument", "Invalid credential", ArgumentName="x-amz-credential",
                          ArgumentValue=fields.get("x-amz-credential", ""))  # fmt: skip
        access_key, date, region = m.group(1), m.group(2), m.group(3)
    elif "signature" in fields and "awsaccesskeyid" in fields:
        access_key, date, region = fields["awsaccesskeyid"], "", ""
    else:
        raise S3Error("AccessDenied")  # an unsigned form: no anonymous uploads
    if "policy" not in fields:
        raise S3Error("InvalidArgument", "Bucket POST must contain a field named 'policy'.", ArgumentName="policy",
                      ArgumentValue="")  # fmt: skip
    if date:
        found = await services.credentials.sigv4_key(access_key, date, region)
        if found is None:
            raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
        key, tenant = found
        verify_signature(fields, key)
        return tenant
    known, signer = await services.credentials.sigv2_tenant(access_key, fields["signature"], [fields["policy"]])
    if not known:
        raise S3Error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    if signer is None:
        raise S3Error("SignatureDoesNotMatch")
    return signer


class _Limited:
    """The file part's bytes, hashed, and refused past ``content-length-range``."""

    def __init__(self, part: BodyPartReader, length: tuple[int, int] | None) -> None:
        self.part, self.length = part, length
        self.hasher = MultiHasher()
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self.part.read_chunk(1 << 20):
            self.size += len(chunk)
            if self.length is not None and self.size > self.length[1]:
                raise S3Error("EntityTooLarge", ProposedSize=self.size, MaxSizeAllowed=self.length[1])
            self.hasher.update(chunk)
            yield chunk
        if self.length is not None and self.size < self.length[0]:
            raise S3Error("EntityTooSmall", ProposedSize=self.size, MinSizeAllowed=self.length[0])


async def post_object(request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
    services = request.app[SERVICES]
    if endpoint.bucket is None or not request.content_type.startswith("multipart/form-data"):
        raise S3Error("MalformedPOSTRequest")
    fields, file_part = await _fields(await request.multipart())  # type: ignore[arg-type]
    tenant = await _tenant(services, fields)
    policy = parse_policy(fields["policy"], endpoint.bucket)
    policy.check_fields(fields, datetime.now(UTC))
    if "key" not in fields:
        raise S3Error("InvalidArgument", "Bucket POST must contain a field named 'key'.", ArgumentName="key",
                      ArgumentValue="")  # fmt: skip
    key = check_key(fields["key"].replace("${filename}", file_part.filename or ""))
    call = Call(request, Endpoint(Operation.PUT_OBJECT, endpoint.bucket, key), tenant, services)
    body = _Limited(file_part, policy.length_range)
    result = await upload_body(call, body, SatellitePlacer(call.sat, tenant, endpoint.bucket, key))
    meta = {
        "size": result.size, "etag": body.hasher.etag, "checksums": {}, "tags": {},
        "content_type": fields.get("content-type") or file_part.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE,
        "metadata": metadata_from_headers(CIMultiDict(fields)),
    }  # fmt: skip
    obj = await call.sat.commit_object(tenant, endpoint.bucket, key, meta, [segment_json(s) for s in result.segments])
    etag = body.hasher.etag
    location = f"/{endpoint.bucket}/{key}"
    if fields.get("success_action_redirect"):
        target = fields["success_action_redirect"]
        query = urlencode({"bucket": endpoint.bucket, "key": key, "etag": etag})
        raise web.HTTPSeeOther(f"{target}{'&' if '?' in target else '?'}{query}", headers={"ETag": etag})
    status = fields.get("success_action_status", "204")
    headers = {"ETag": etag, "Location": location, **version_headers(obj)}
    if status == "201":
        doc = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse xmlns="{_NS}"><Location>{location}</Location>'
               f"<Bucket>{endpoint.bucket}</Bucket><Key>{key}</Key><ETag>{etag}</ETag></PostResponse>")  # fmt: skip
        return web.Response(status=201, body=doc.encode(), content_type="application/xml", headers=headers)
    return web.Response(status=200 if status == "200" else 204, headers=headers)


@web.middleware
async def post_object_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method == "POST":
        endpoint = route(request.method, request.raw_path, request.headers, request.app[SERVICES].router)
        if endpoint.operation is Operation.POST_OBJECT:
            return await post_object(request, endpoint)
    return await handler(request)


def install(app: web.Application) -> None:
    app.middlewares.append(post_object_middleware)

