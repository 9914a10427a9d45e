"""The node registry: check-ins in, placement candidates and node addresses out.

A check-in is accepted only when it is signed by the key whose id it carries (a node cannot
speak for another) and is recent (an old check-in replayed cannot move a node back to an
address it has left). The node's /24 network, which placement uses to keep a segment's
pieces apart, is taken from the host of its advertised address when that is an IP literal,
and from the address the request came from when it is a name.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import time
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from common.errors import MessageError, SignatureError
from common.messages import (
    CheckIn,
    EarningsRequest,
    ExitRequest,
    OrderSettlement,
    PieceLossReport,
    ReputationRequest,
    Signed,
    now,
)
from common.wallet import wallet_problem
from satellite.errors import InvalidArgument, NodeRejected
from satellite.nodeselection import NodeCandidate
from satellite.overlay.geoip import GeoIPDatabase, decide, host_of

__all__ = ["CheckInRecord", "NodeInfo", "NodeStore", "OverlayService", "network_of", "verify_node_signed"]

MAX_CLOCK_SKEW = 15 * 60


def network_of(ip: str) -> str:
    """The network placement keeps pieces apart by: ``a.b.c`` for IPv4, the /64 for IPv6."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if isinstance(addr, ipaddress.IPv4Address):
        return ".".join(str(addr).split(".")[:3])
    return ":".join(addr.exploded.split(":")[:4])


@dataclass(frozen=True)
class CheckInRecord:
    """What a verified check-in writes to the node table."""

    node_id: str
    address: str
    ip: str
    net: str
    country: str
    region: str
    capacity: int
    used: int
    free: int
    version: str
    wallet: str
    geoip_country: str | None
    at: dt.datetime


@dataclass(frozen=True)
class NodeInfo:
    """A node as order-signing needs it."""

    id: str
    address: str
    country: str
    region: str
    last_contact: dt.datetime
    disqualified: bool


class NodeStore(Protocol):
    async def record_checkin(self, record: CheckInRecord) -> None: ...
    async def candidates(self) -> list[NodeCandidate]: ...
    async def nodes(self, ids: list[str]) -> dict[str, NodeInfo]: ...


M = TypeVar("M", CheckIn, EarningsRequest, ExitRequest, OrderSettlement, PieceLossReport, ReputationRequest)


def verify_node_signed(envelope: Any, expected: type[M], what: str, only_own: str) -> M:
    """The message of ``envelope`` if the node it names signed it; typed errors otherwise.

    Check-ins and exit requests are about the node that sends them: a valid signature by
    another node is refused as firmly as a forged one.
    """
    try:
        signed = Signed.from_json(envelope, expected)
    except SignatureError as e:
        raise NodeRejected(f"{what} rejected: {e}") from None
    except MessageError as e:
        raise InvalidArgument(f"malformed {what}: {e}") from None
    msg = signed.message
    if signed.signer != msg.node_id:
        raise NodeRejected(
            f"{what} for node {msg.node_id[:16]}… is signed by {signed.signer[:16]}…: {only_own}"
        )
    try:
        signed.verify(expected_signer=msg.node_id)
    except SignatureError as e:
        raise NodeRejected(f"{what} rejected: {e}") from None
    return msg


def verify_node_request(
    envelope: Any, expected: type[M], what: str, only_own: str, satellite_id: str, at: int | None = None
) -> M:
    """:func:`verify_node_signed`, and addressed to this satellite (no replay to another) and
    recent by its clock: what every request a node makes about itself must be. A node whose
    clock is off is told by how much, since a wrong clock is worth knowing about in its own right."""
    msg = verify_node_signed(envelope, expected, what, only_own)
    if msg.satellite_id != satellite_id:
        raise NodeRejected(f"{what} is addressed to satellite {msg.satellite_id[:16]}…, not this one")
    t = now() if at is None else at
    if abs(t - msg.timestamp) > MAX_CLOCK_SKEW:
        raise NodeRejected(
            f"{what} timestamp is {msg.timestamp - t:+d}s off the satellite's clock "
            f"(allowed ±{MAX_CLOCK_SKEW}s): set the node's clock right (NTP)"
        )
    return msg


class OverlayService:
    """Check-ins, online state and the snapshot of nodes that placement chooses from."""

    def __init__(
        self,
        store: NodeStore,
        *,
        satellite_id: str,
        checkin_interval: int,
        online_window: int,
        cache_ttl: float,
        geoip: GeoIPDatabase | None = None,
    ) -> None:
        self.store = store
        self.satellite_id = satellite_id
        self.checkin_interval = checkin_interval
        self.online_window = online_window
        self.cache_ttl = cache_ttl
        self.geoip = geoip
        self._snapshot: tuple[float, list[NodeCandidate]] | None = None
        self._lock = asyncio.Lock()

    async def check_in(self, envelope: Any, peer_ip: str | None) -> dict[str, Any]:
        """Verify a ``Signed[CheckIn]`` JSON envelope and record it; the answer for the node."""
        msg = verify_node_signed(envelope, CheckIn, "check-in", "a node may only check in for itself")
        skew = abs(now() - msg.timestamp)
        if skew > MAX_CLOCK_SKEW:
            raise NodeRejected(f"check-in timestamp is {skew}s away from the satellite's clock")
        wallet = wallet_problem(msg.wallet)
        if wallet is not None:  # it would be paid: a typo must not send a node's earnings to a stranger
            raise NodeRejected(f"check-in refused: {wallet}; fix it in the node's config.toml")
        host = host_of(msg.address)
        try:
            ip = str(ipaddress.ip_address(host))
        except ValueError:
            if not peer_ip:
                raise InvalidArgument(f"cannot tell the network of {host!r}") from None
            ip = peer_ip
        geo = self.geoip.lookup(ip) if self.geoip is not None else None
        await self.store.record_checkin(
            CheckInRecord(
                node_id=msg.node_id,
                address=msg.address.rstrip("/"),
                ip=ip,
                net=network_of(ip),
                country=msg.country,
                region=msg.region.strip().lower(),
                capacity=msg.capacity,
                used=msg.used,
                free=msg.free,
                version=msg.version,
                wallet=msg.wallet,
                geoip_country=geo,
                at=dt.datetime.now(dt.UTC),
            )
        )
        return {"satellite_id": self.satellite_id, "interval": self.checkin_interval}

    async def candidates(self) -> list[NodeCandidate]:
        """The node table as placement sees it, reused for ``cache_ttl`` seconds (hot path)."""
        t = time.monotonic()
        snap = self._snapshot
        if snap is not None and t - snap[0] < self.cache_ttl:
            return snap[1]
        async with self._lock:
            snap = self._snapshot
            if snap is not None and time.monotonic() - snap[0] < self.cache_ttl:
                return snap[1]
            nodes = await self.store.candidates()
            self._snapshot = (time.monotonic(), nodes)
            return nodes

    def invalidate(self) -> None:
        self._snapshot = None

    def is_online(self, node: NodeInfo, at: dt.datetime | None = None) -> bool:
        t = at or dt.datetime.now(dt.UTC)
        return (t - node.last_contact).total_seconds() <= self.online_window

    async def nodes(self, ids: list[str]) -> dict[str, NodeInfo]:
        return await self.store.nodes(ids)


def geoip_excluded(claimed: str, found: str | None, overridden: bool) -> bool:
    """The GeoIP rule (``satellite.overlay.geoip.decide``) as placement needs it."""
    return decide(claimed, found, host="", overridden=overridden).excluded
