"""The check-in loop: the node tells its satellite where it is and how much room it has.

Every ``checkin_interval`` the node POSTs a node-signed :class:`~common.messages.CheckIn`
(address, country, region, capacity, used and free bytes, version, wallet) to
``{satellite}/api/v1/nodes/checkin``. The satellite uses it to mark the node online and
to decide whether to place pieces on it. The satellite answers with its own check-in
``interval``, and the node follows it rather than its configured one: a satellite that
calls a node offline after a minute must not be checked in with every five minutes.
When the satellite cannot be reached or refuses,
the node retries after ``checkin_retry_min`` seconds, doubling up to ``checkin_retry_max``,
so a restarting satellite is not stampeded by every node at once, and logs each failure
with what to check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from common.identity import Identity
from common.messages import CheckIn, Signed, now
from storage_node.config import NodeConfig
from storage_node.pieces.store import PieceStore

__all__ = ["CHECKIN_PATH", "CheckInFailed", "CheckInService", "CheckInState"]

log = logging.getLogger(__name__)

CHECKIN_PATH = "/api/v1/nodes/checkin"


class CheckInFailed(Exception):
    """The satellite answered a check-in with an error."""


@dataclass
class CheckInState:
    """What the loop has done, for the dashboard and for tests."""

    attempts: int = 0
    successes: int = 0
    consecutive_failures: int = 0
    last_success: float | None = None
    last_error: str | None = None
    next_delay: float = 0.0
    satellite_interval: float | None = None  # what the satellite last asked for


class CheckInService:
    """Sends check-ins in a loop with exponential backoff while the satellite is down."""

    def __init__(
        self,
        identity: Identity,
        config: NodeConfig,
        store: PieceStore,
        address: Callable[[], str],
        version: str,
    ) -> None:
        self.identity = identity
        self.config = config
        self.store = store
        self.address = address
        self.version = version
        self.url = config.satellite_url.rstrip("/") + CHECKIN_PATH
        self.state = CheckInState()
        self._session: aiohttp.ClientSession | None = None

    def message(self) -> Signed[CheckIn]:
        usage = self.store.usage()
        return Signed.sign(
            self.identity,
            CheckIn(
                node_id=self.identity.id,
                address=self.address(),
                country=self.config.country,
                region=self.config.region,
                capacity=self.store.capacity,
                used=usage.used,
                free=self.store.free,
                version=self.version,
                wallet=self.config.wallet,
                timestamp=now(),
            ),
        )

    async def check_in_once(self) -> dict[str, object]:
        """One check-in and the satellite's answer; raises on any failure (network, timeout,
        or a satellite error)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.checkin_timeout)
            )
        async with self._session.post(self.url, json=self.message().to_json()) as resp:
            if resp.status >= 300:
                text = (await resp.text())[:300]
                raise CheckInFailed(f"satellite answered {resp.status}: {text}")
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                return {}
            return answer if isinstance(answer, dict) else {}

    def _interval(self, answer: dict[str, object]) -> float:
        """The satellite's interval when it gives a sane one, else the configured one."""
        asked = answer.get("interval")
        if isinstance(asked, int | float) and not isinstance(asked, bool) and 0 < asked <= 86400:
            if asked != self.state.satellite_interval and asked != self.config.checkin_interval:
                log.info("the satellite asks for a check-in every %ss (configured: %ss); following it",
                         asked, self.config.checkin_interval)
            self.state.satellite_interval = float(asked)
            return float(asked)
        return self.config.checkin_interval

    async def step(self) -> float:
        """One pass: check in, update the state, return how long to wait before the next."""
        self.state.attempts += 1
        try:
            answer = await self.check_in_once()
        except (aiohttp.ClientError, TimeoutError, CheckInFailed) as exc:
            st = self.state
            st.consecutive_failures += 1
            st.last_error = str(exc) or type(exc).__name__
            cfg = self.config
            delay = min(cfg.checkin_retry_max, cfg.checkin_retry_min * 2 ** (st.consecutive_failures - 1))
            log.warning(
                "check-in to %s failed (%s); attempt %d, retrying in %.1fs — is the satellite "
                "running and is satellite_url in the config right?",
                self.url, st.last_error, st.consecutive_failures, delay,
            )
        else:
            st = self.state
            if st.consecutive_failures:
                log.info("check-in to %s succeeded after %d failed attempts",
                         self.url, st.consecutive_failures)
            st.consecutive_failures = 0
            st.successes += 1
            st.last_success = time.time()
            st.last_error = None
            delay = self._interval(answer)
        self.state.next_delay = delay
        return delay

    async def run(self) -> None:
        while True:
            await asyncio.sleep(await self.step())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
