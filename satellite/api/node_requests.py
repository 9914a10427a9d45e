"""The one reader of the requests a node makes about itself on the satellite's public port.

Reputation, earnings and loss reports (and order settlements, checked by the accounting
service) all come as a node-signed JSON envelope that must be signed by the node it names,
be addressed to this satellite and be recent: :func:`~satellite.overlay.service.verify_node_request`.
"""

from __future__ import annotations

from aiohttp import web

from satellite.errors import InvalidArgument
from satellite.overlay.service import M, verify_node_request

__all__ = ["read_json", "read_node_request"]


async def read_json(request: web.Request, what: str = "request") -> object:
    try:
        return await request.json()
    except ValueError as e:
        raise InvalidArgument(f"malformed {what}: the body is not JSON: {e}") from None


async def read_node_request(
    request: web.Request, expected: type[M], what: str, only_own: str, satellite_id: str, at: int | None = None
) -> M:
    envelope = await read_json(request, what)
    return verify_node_request(envelope, expected, what, only_own, satellite_id, at)
