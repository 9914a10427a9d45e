"""A real aiohttp app on a loopback port that runs only the S3 protocol layer.

It routes, authenticates and reads the body with :class:`BodyReader`, then echoes what it
decoded (as JSON, in the body for GET/HEAD-less requests and in the ``x-echo`` header, so
that boto3's PutObject/UploadPart parsers accept the response). The auth and body tests
import :func:`echo_server` and the signing helpers from here; the tests in this file check
the harness itself answers like S3.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable
from ssl import SSLContext
from typing import Any

import boto3
import botocore.auth
import botocore.config
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway.s3 import errors
from gateway.s3.auth import authenticate
from gateway.s3.body import BodyReader, defer_continue
from gateway.s3.credentials import AuthConfig
from gateway.s3.errors import S3Error
from gateway.s3.router import RouterConfig, route
from tests import s3_requests

ACCESS_KEY = "AKIDGEOSHARDTEST"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TENANT = "tenant-1"
CREDS = Credentials(ACCESS_KEY, SECRET)
BASE_DOMAIN = "s3.localhost"


async def lookup(access_key: str) -> tuple[str, str] | None:
    return (SECRET, TENANT) if access_key == ACCESS_KEY else None


class EchoState:
    def __init__(self) -> None:
        self.clock: Callable[[], float] = time.time
        self.block_sizes: list[int] = []
        self.body_errors: list[str] = []
        self.completed = 0


STATE = web.AppKey("state", EchoState)


async def _echo(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    endpoint = route(request.method, request.raw_path, request.headers, RouterConfig((BASE_DOMAIN,)))
    auth = await authenticate(request, endpoint, lookup, AuthConfig(clock=state.clock))
    out: dict[str, Any] = {
        "operation": endpoint.operation.value,
        "bucket": endpoint.bucket,
        "key": endpoint.key,
        "tenant": auth.tenant_id,
        "scheme": auth.scheme.name,
        "payload": auth.payload.name,
    }
    if request.method in ("PUT", "POST"):
        max_size = int(request.headers.get("x-test-max-size", 5 * 1024**3))
        reader = BodyReader(request, auth, max_size=max_size, block_size=64 * 1024, hash_threshold=32 * 1024)
        digest, size = hashlib.sha256(), 0
        try:
            async for block in reader:
                state.block_sizes.append(len(block))
                digest.update(block)
                size += len(block)
        except S3Error as e:
            state.body_errors.append(e.code)
            raise
        except asyncio.CancelledError:  # the client went away and aiohttp cancelled us
            state.body_errors.append("cancelled")
            raise
        state.completed += 1
        out.update(
            size=size,
            sha256=digest.hexdigest(),
            etag=reader.etag,
            checksums={alg.value: value for alg, value in reader.checksums.items()},
        )
    body = json.dumps(out, ensure_ascii=True)
    headers = {"x-echo": body}
    if request.method == "PUT":
        headers["ETag"] = out["etag"]
        return web.Response(headers=headers)
    return web.Response(text=body, headers=headers, content_type="application/json")


@contextlib.asynccontextmanager
async def echo_server(ssl: SSLContext | None = None) -> AsyncIterator[tuple[str, EchoState]]:
    """The echo app on 127.0.0.1:<free port> (HTTPS with ``ssl``); yields (endpoint URL,
    its mutable state)."""
    app = web.Application()
    errors.install(app)
    state = EchoState()
    app[STATE] = state
    app.router.add_route("*", "/{tail:.*}", _echo, expect_handler=defer_continue)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=ssl)
    try:
        yield f"{'https' if ssl else 'http'}://127.0.0.1:{server.port}", state
    finally:
        await server.close()


def sign(*args: Any, credentials: Credentials = CREDS, **kwargs: Any) -> AWSRequest:
    """:func:`tests.s3_requests.sign` with this harness's credentials by default."""
    return s3_requests.sign(*args, credentials=credentials, **kwargs)


send = s3_requests.send


def boto_client(endpoint: str, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=botocore.config.Config(**config) if config else None,
    )


def echo_of(headers: dict[str, str]) -> dict[str, Any]:
    return json.loads(headers["x-echo"])


async def test_echo_harness_answers_unsigned_requests_with_aws_access_denied():
    async with echo_server() as (url, _), ClientSession() as session, session.get(url + "/bucket/key") as resp:
        body = await resp.text()
        assert resp.status == 403
        assert "<Code>AccessDenied</Code>" in body
        assert resp.headers["x-amz-request-id"]


async def test_echo_harness_decodes_a_v4_signed_put():
    async with echo_server() as (url, _):
        status, headers, _ = await send(sign("v4", "PUT", url + "/bucket/k", b"hello"))
        echoed = echo_of(headers)
        assert status == 200, headers
        assert echoed["sha256"] == hashlib.sha256(b"hello").hexdigest()
        assert echoed["etag"] == '"5d41402abc4b2a76b9719d911017c592"'
