"""The one place where the node's domain errors become HTTP responses.

Every error body is ``{"error": "<Code>", "message": "<text a person can act on>"}``; the
code is stable for programs, the message is for people.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from common.errors import GeoshardError, MessageError, OrderError, SignatureError
from storage_node import errors as e

__all__ = ["error_middleware", "error_response", "status_for"]

log = logging.getLogger(__name__)

# Most specific first: the first matching class wins.
_TABLE: tuple[tuple[type[BaseException], int, str], ...] = (
    (e.InvalidPieceId, 400, "InvalidPieceId"),
    (e.IncompleteBody, 400, "IncompleteBody"),
    (e.BadRequest, 400, "BadRequest"),
    (SignatureError, 401, "InvalidSignature"),
    (MessageError, 400, "MalformedMessage"),
    (e.OrderNotForThisNode, 403, "NotForThisNode"),
    (e.WrongAction, 403, "WrongAction"),
    (e.OrderLimitExceeded, 403, "OrderLimitExceeded"),
    (e.SerialAlreadyUsed, 409, "SerialAlreadyUsed"),
    (e.OrderExpired, 410, "OrderExpired"),
    (OrderError, 403, "OrderRefused"),
    (e.PieceNotFound, 404, "PieceNotFound"),
    (e.PieceExists, 409, "PieceExists"),
    (e.BodyTooLarge, 413, "BodyTooLarge"),
    (e.InvalidRange, 416, "InvalidRange"),
    (e.InsufficientSpace, 507, "InsufficientSpace"),
    (e.CorruptPiece, 500, "CorruptPiece"),
)


def status_for(exc: BaseException) -> tuple[int, str]:
    for cls, status, code in _TABLE:
        if isinstance(exc, cls):
            return status, code
    return 500, "InternalError"


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except GeoshardError as exc:
        status, code = status_for(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.path, exc)
        else:
            log.info("%s %s refused (%s): %s", request.method, request.path, code, exc)
        return error_response(status, code, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, exc.reason.replace(" ", ""), exc.text or exc.reason)
