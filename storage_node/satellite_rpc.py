"""One signed request to the node's satellite, for the CLI: POST a node-signed message, read JSON.

``geoshard node status``, ``exit`` and ``earnings`` run without the node's event loop, so they
use the standard library; every failure becomes :class:`SatelliteUnavailable` with what the
satellite said, or why it could not be reached.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from common.identity import Identity
from common.messages import Message, Signed

__all__ = ["SatelliteUnavailable", "post_signed"]


class SatelliteUnavailable(Exception):
    """The satellite could not be asked, or refused; the message says why."""


def post_signed(identity: Identity, message: Message, satellite_url: str, path: str, timeout: float = 10.0) -> Any:
    req = urllib.request.Request(
        satellite_url.rstrip("/") + path,
        data=Signed.sign(identity, message).dumps().encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        try:
            body = json.loads(e.read())
            detail = str(body.get("message", ""))
        except (ValueError, AttributeError):
            detail = ""
        raise SatelliteUnavailable(f"satellite answered {e.code}: {detail or e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise SatelliteUnavailable(f"cannot reach the satellite at {satellite_url}: {e}") from None
