"""One request id followed across processes: the ``x-amz-request-id`` a client sees.

The gateway makes the id (``gateway.s3.errors.request_id``) and puts it in a context
variable for the request's task; every aiohttp client session built with
:func:`propagating_trace_config` then sends it as ``X-Geoshard-Request-Id`` on the calls
that task makes (metainfo calls to the satellite, piece transfers to nodes). The satellite
and the nodes read it back with :func:`request_id_middleware`, so their log lines for that
request carry the same id (``common.observability.logs``). A malformed header is ignored,
never echoed: it is only a correlation key.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web

__all__ = [
    "REQUEST_ID_HEADER",
    "current_request_id",
    "propagating_trace_config",
    "request_id_middleware",
    "set_request_id",
]

REQUEST_ID_HEADER = "X-Geoshard-Request-Id"
_VALID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("geoshard_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None) -> None:
    """Set the id for the running task (and the tasks it starts from here on)."""
    _request_id.set(value if value is None or _VALID.fullmatch(value) else None)


async def _on_request_start(
    session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestStartParams
) -> None:
    rid = _request_id.get()
    if rid is not None and REQUEST_ID_HEADER not in params.headers:
        params.headers[REQUEST_ID_HEADER] = rid


def propagating_trace_config() -> aiohttp.TraceConfig:
    """A trace config that adds the current request id to every request of a client session."""
    tc = aiohttp.TraceConfig()
    tc.on_request_start.append(_on_request_start)
    return tc


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> Any:
    """Adopt the caller's request id for this request's task (server side)."""
    set_request_id(request.headers.get(REQUEST_ID_HEADER))
    return await handler(request)
