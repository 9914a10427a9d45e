"""The multi-node view: one page for an operator's several nodes, disks or machines.

The operator adds each node by its dashboard URL and token; they are kept in a small table
of this node's ``node.db``. The page asks this node, which asks every other node's JSON API
server-side (``GET {url}/api/summary`` with ``Authorization: Bearer {token}``), all at once
with a short timeout: tokens never reach the browser, and one slow or dead node shows as an
error row instead of stalling the page. Totals come first — stored, trash, free, capacity,
this period's bandwidth, warnings — then one row per node with its own warnings.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from typing import Any

import aiohttp

__all__ = ["MultinodeView", "NodeUnreachable", "PeerNodes", "row_from_summary", "totals"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS multinode_peers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    url TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL DEFAULT '',
    added_at REAL NOT NULL
);
"""


class NodeUnreachable(Exception):
    """A node's dashboard API could not be read; the message says why."""


class PeerNodes:
    """The ``multinode_peers`` table: the other nodes this dashboard shows."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.executescript(_SCHEMA)

    def add(self, name: str, url: str, token: str) -> int:
        cur = self.conn.execute(
            "INSERT INTO multinode_peers (name, url, token, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (url) DO UPDATE SET name = excluded.name, token = excluded.token RETURNING id",
            (name, url, token, time.time()),
        )
        return int(cur.fetchone()[0])

    def remove(self, peer_id: int) -> bool:
        return self.conn.execute("DELETE FROM multinode_peers WHERE id = ?", (peer_id,)).rowcount == 1

    def list(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id, name, url, token FROM multinode_peers ORDER BY id").fetchall()
        return [{"id": i, "name": n, "url": u, "token": t} for i, n, u, t in rows]


def normalize_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
        raise ValueError(f"{url!r} is not a dashboard URL (like http://192.0.2.10:14002)")
    return url


async def fetch_summary(session: aiohttp.ClientSession, url: str, token: str, timeout: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with session.get(f"{url}/api/summary", headers=headers,
                               timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status == 401:
                raise NodeUnreachable(f"{url} refused the token (401): copy dashboard_token from that node's config")
            if resp.status != 200:
                raise NodeUnreachable(f"{url} answered {resp.status}")
            data: dict[str, Any] = await resp.json()
            return data
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        raise NodeUnreachable(f"cannot read {url}/api/summary: {e or type(e).__name__}") from None


def row_from_summary(name: str, url: str, s: dict[str, Any]) -> dict[str, Any]:
    rep = s.get("reputation") or {}
    exit_state = s.get("exit") or {}
    return {
        "name": name,
        "url": url,
        "ok": True,
        "node_id": s["node"]["id"],
        "country": s["node"].get("country"),
        "region": s["node"].get("region"),
        "space": s["space"],
        "bandwidth": {"ingress": s["bandwidth"]["ingress"]["total"], "egress": s["bandwidth"]["egress"]["total"]},
        "scores": rep.get("scores"),
        "vetted": rep.get("vetted"),
        "disqualified": rep.get("disqualified"),
        "suspended": rep.get("suspended"),
        "exit": exit_state.get("status"),
        "warnings": s.get("warnings", []),
    }


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r["ok"]]
    out: dict[str, Any] = {"nodes": len(rows), "reachable": len(ok)}
    for key in ("stored", "trash", "free", "capacity"):
        out[key] = sum(r["space"][key] for r in ok)
    out["ingress"] = sum(r["bandwidth"]["ingress"] for r in ok)
    out["egress"] = sum(r["bandwidth"]["egress"] for r in ok)
    out["warnings"] = sum(len(r["warnings"]) for r in ok) + len(rows) - len(ok)
    out["nodes_with_warnings"] = sum(1 for r in rows if not r["ok"] or r["warnings"])
    return out


class MultinodeView:
    """Reads every peer's summary (and this node's own) into totals plus one row per node."""

    def __init__(self, peers: PeerNodes, *, timeout: float = 5.0) -> None:
        self.peers = peers
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def check(self, url: str, token: str) -> dict[str, Any]:
        return await fetch_summary(self.session(), url, token, self.timeout)

    async def view(self, own: dict[str, Any], own_url: str) -> dict[str, Any]:
        peers = self.peers.list()

        async def one(p: dict[str, Any]) -> dict[str, Any]:
            try:
                s = await fetch_summary(self.session(), p["url"], p["token"], self.timeout)
            except NodeUnreachable as e:
                return {"name": p["name"], "url": p["url"], "ok": False, "error": str(e), "warnings": []}
            return row_from_summary(p["name"], p["url"], s)

        rows = [{**row_from_summary("this node", own_url, own), "local": True}]
        rows += [{**r, "id": p["id"]} for p, r in zip(peers, await asyncio.gather(*map(one, peers)), strict=True)]
        return {"totals": totals(rows), "nodes": rows, "at": time.time()}

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
