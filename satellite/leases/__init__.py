"""Chore leases: a background chore that must run once per satellite runs where its lease is held.

Several satellite processes may share one database (``geoshard satellite run --role``): API
processes scale out freely, but the audit chore, the repair checker, garbage collection,
graceful exit, accounting and settlement must each run in exactly one process at a time, or
two auditors would contain one node twice and two settlement workers would sign one period
twice. Each such chore is wrapped in a :class:`LeasedService`: it waits for the chore's row in
``chore_leases``, runs the chore while it renews the lease every ``ttl / 3`` seconds, and
cancels the chore the moment a renewal fails (the database says another process holds it, or
the database cannot be reached for long enough that the lease may have expired). A clean stop
releases the lease, so a standby takes over within one retry rather than one ``ttl``.

A process that dies without releasing is detected two ways: its lease expires after ``ttl``,
or, when the holder ran on this host (same host name) and its process is gone (or this is a
new incarnation of the same pid, as after a container restart), the lease is taken at once.
Clocks of the hosts must agree to well within ``ttl`` (NTP does); a process paused for longer
than ``ttl`` may overlap its successor for one renewal interval, which each chore tolerates:
repair claims are exclusive, settlement stores each signed transaction before it is sent and
the contract refuses a period already paid, and audits and retain lists are idempotent.

Repair *workers* are not leased: their claims on the repair queue are exclusive
(``FOR UPDATE SKIP LOCKED``), so any number of processes may repair at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time

from common.lifecycle import Service
from satellite.db.leases import LeaseRepository

__all__ = ["LeasedService", "holder_id", "holder_is_dead"]

log = logging.getLogger(__name__)

STANDBY_POLL = 5.0  # seconds between a standby's attempts (a dead holder on this host is replaced this fast)
_TOKEN = secrets.token_hex(4)  # tells this process apart from an earlier one with the same pid


def holder_id() -> str:
    """``host:pid:token`` of this process, as written in ``chore_leases.holder``."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{_TOKEN}"


def holder_is_dead(holder: str) -> bool:
    """True when ``holder`` ran on this host and is certainly gone; False when in doubt."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname()[:80] or not parts[1].isdigit():
        return False
    pid, token = int(parts[1]), parts[2]
    if pid == os.getpid():
        return token != _TOKEN  # an earlier incarnation of this pid (a restarted container)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class LeasedService:
    """Run ``inner`` only while this process holds the lease named ``inner.name``."""

    def __init__(self, inner: Service, leases: LeaseRepository, *, ttl: float, holder: str | None = None) -> None:
        if ttl <= 0:
            raise ValueError("a lease ttl must be positive")
        self.inner = inner
        self.leases = leases
        self.ttl = ttl
        self.holder = holder or holder_id()
        self.held = False
        self.takeovers = 0  # how many times this process took the chore (over)

    @property
    def name(self) -> str:
        return self.inner.name

    def service(self) -> Service:
        return Service(self.inner.name, self.run, self.close)

    async def _try(self) -> bool | None:
        """True: ours; False: another live process holds it; None: the database did not answer."""
        try:
            return await self.leases.acquire(self.name, self.holder, self.ttl, stale=holder_is_dead)
        except Exception:
            log.exception("lease %s: database error", self.name)
            return None

    async def run(self) -> None:
        renew = self.ttl / 3
        while True:
            while not await self._try():  # a standby: polls more often than a holder renews
                await asyncio.sleep(min(renew, STANDBY_POLL))
            self.held = True
            self.takeovers += 1
            log.info("lease %s taken by %s; running it", self.name, self.holder)
            chore = asyncio.create_task(self.inner.run(), name=f"leased/{self.name}")
            renewed = time.monotonic()
            try:
                while True:
                    done, _ = await asyncio.wait({chore}, timeout=renew)
                    if chore in done:
                        chore.result()  # a chore that fails fails the process, as unleased ones do
                        return
                    got = await self._try()
                    if got:
                        renewed = time.monotonic()
                        continue
                    # Another holder: stop now. A database blip: keep going only while the lease
                    # last written cannot have expired yet (with a renewal interval to spare).
                    if got is False or time.monotonic() - renewed >= self.ttl - renew:
                        log.warning("lease %s lost by %s; stopping the chore here", self.name, self.holder)
                        break
            finally:
                self.held = False
                if not chore.done():
                    chore.cancel()
                    await asyncio.wait({chore})  # unlike ``await chore``, never swallows our own cancellation

    async def close(self) -> None:
        await self.inner.close()
        with contextlib.suppress(Exception):
            await self.leases.release(self.name, self.holder)
