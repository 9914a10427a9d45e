"""A small synchronous client for the admin API, for the CLI and for scripts.

It uses the standard library only, so ``geoshard admin`` starts fast and works from any
machine that can reach the admin port, without the satellite's database drivers.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

__all__ = ["AdminClient", "AdminClientError"]


class AdminClientError(Exception):
    """The admin API answered with an error, or could not be reached (``status`` 0)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class AdminClient:
    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        if not url:
            raise AdminClientError(0, "NoURL", "no admin API URL: set GEOSHARD_ADMIN_URL or pass --url")
        if not token:
            raise AdminClientError(0, "NoToken", "no admin token: set GEOSHARD_ADMIN_TOKEN or pass --token")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @staticmethod
    def path(*parts: str) -> str:
        """``path("v1", "nodes", node_id)`` with every part escaped (ids and names are user input)."""
        return "/" + "/".join(urllib.parse.quote(p, safe="") for p in parts)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
        *,
        raw: bool = False,
    ) -> Any:
        """The answer's JSON, or its text with ``raw`` (a CSV statement)."""
        url = self.url + path + (("?" + urllib.parse.urlencode(query)) if query else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                data = resp.read()
                return data.decode() if raw else json.loads(data or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                err = json.loads(raw)["error"]
                raise AdminClientError(exc.code, err["code"], err["message"]) from None
            except (ValueError, KeyError, TypeError):
                raise AdminClientError(exc.code, "HTTPError", f"HTTP {exc.code}: {raw[:200]!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise AdminClientError(
                0,
                "Unreachable",
                f"cannot reach the admin API at {self.url}: {reason} (is the satellite running, "
                "and is GEOSHARD_ADMIN_URL its admin address?)",
            ) from None
