"""How a process runs its services: all at once, and closed in reverse order.

Each process (satellite, storage node, gateway) is wired in one ``peer.py`` that builds
its services as ``Service(name, run, close)`` (Storj's ``satellite/peer.go``). The peer
runs them in one ``asyncio.TaskGroup`` — if one fails, the group cancels the others — and
on the way out closes every one, last started first, so that a server stops taking
requests before the sessions and databases behind it go away. A close that fails is
logged and does not keep the others from closing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

__all__ = ["Service", "close_services", "nothing", "run_services"]

log = logging.getLogger(__name__)


async def nothing() -> None:
    """A ``run`` or ``close`` for a service that has nothing to do in that phase."""


@dataclass(frozen=True)
class Service:
    name: str
    run: Callable[[], Awaitable[None]]
    close: Callable[[], Awaitable[None]] = nothing


async def close_services(services: Sequence[Service]) -> None:
    for s in reversed(services):
        try:
            await s.close()
        except Exception:
            log.exception("closing %s failed", s.name)


async def run_services(services: Sequence[Service], *, process: str) -> None:
    """Run every service until one fails or the caller is cancelled, then close them all."""
    try:
        async with asyncio.TaskGroup() as tg:
            for s in services:
                tg.create_task(s.run(), name=f"{process}/{s.name}")
    finally:
        await close_services(services)
