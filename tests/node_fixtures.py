"""Shared helpers for storage-node tests: a satellite identity that signs orders, and a
real node peer serving on 127.0.0.1 in the test's event loop."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from common.identity import Identity
from common.messages import Action, OrderLimit, Signed, new_serial, now
from storage_node.config import NodeConfig
from storage_node.peer import Peer
from storage_node.pieces.store import scan_usage
from storage_node.piecestore.verification import encode_order_header

__all__ = ["NodeHarness", "files_on_disk", "new_piece_id", "running_node"]


def new_piece_id() -> str:
    return secrets.token_hex(32)


def files_on_disk(data_dir: Path) -> dict[str, int]:
    """Every file under blobs/, trash/ and tmp/ with its size: what a user's `du` sees."""
    out = {}
    for sub in ("blobs", "trash", "tmp"):
        for root, _dirs, files in os.walk(data_dir / sub):
            for f in files:
                p = Path(root) / f
                out[str(p.relative_to(data_dir))] = p.stat().st_size
    return out


@dataclass
class NodeHarness:
    peer: Peer
    satellite: Identity
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.peer.url

    @property
    def node_id(self) -> str:
        return self.peer.identity.id

    def order(
        self,
        piece_id: str,
        action: Action = Action.PUT,
        *,
        max_bytes: int = 1 << 30,
        expires_in: int = 60,
        signer: Identity | None = None,
        node_id: str | None = None,
        satellite_id: str | None = None,
        piece_expires: int = 0,
        serial: str | None = None,
    ) -> Signed[OrderLimit]:
        t = now()
        limit = OrderLimit(
            serial=serial or new_serial(),
            satellite_id=satellite_id or self.satellite.id,
            node_id=node_id or self.node_id,
            piece_id=piece_id,
            action=action,
            max_bytes=max_bytes,
            expires=t + expires_in,
            created=t,
            piece_expires=piece_expires,
        )
        return Signed.sign(signer or self.satellite, limit)

    async def put(
        self,
        piece_id: str,
        data: bytes,
        *,
        order: Signed[OrderLimit] | None = None,
        leaf_size: int = 1024,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        signed = order or self.order(piece_id)
        h = {"Geoshard-Order-Limit": encode_order_header(signed), "Geoshard-Leaf-Size": str(leaf_size)}
        h.update(headers or {})
        async with self.session.put(f"{self.url}/v1/pieces/{piece_id}", data=data, headers=h) as r:
            return r.status, await r.json()

    async def get(
        self, piece_id: str, *, order: Signed[OrderLimit] | None = None, **query: Any
    ) -> tuple[int, bytes, dict[str, str]]:
        signed = order or self.order(piece_id, Action.GET)
        h = {"Geoshard-Order-Limit": encode_order_header(signed)}
        params = {k: str(v) for k, v in query.items()}
        async with self.session.get(f"{self.url}/v1/pieces/{piece_id}", headers=h, params=params) as r:
            return r.status, await r.read(), dict(r.headers)

    def used_on_disk(self) -> int:
        return scan_usage(self.peer.config.data_dir).used


@contextlib.asynccontextmanager
async def running_node(
    data_dir: Path, satellite: Identity | None = None, identity: Identity | None = None, **overrides: Any
) -> AsyncIterator[NodeHarness]:
    """A real node peer on an ephemeral loopback port, cancelled and closed on exit."""
    satellite = satellite or Identity.generate()
    identity = identity or Identity.load_or_create(data_dir / "identity.pem")
    cfg = NodeConfig.for_tests(data_dir, satellite.id, **overrides)
    peer = Peer(cfg, identity)
    task = asyncio.create_task(peer.run())
    started = asyncio.create_task(peer.server.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        started.cancel()
        await task  # raises the start-up error
    try:
        async with aiohttp.ClientSession() as session:
            yield NodeHarness(peer, satellite, session)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
