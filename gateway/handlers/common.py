"""What every handler shares: the gateway's services, the satellite adapters, metadata.

:class:`GatewayServices` is built once by :mod:`gateway.peer` and stored on the aiohttp
application; a handler receives it with the typed :class:`~gateway.s3.router.Endpoint`
and the authenticated tenant as a :class:`Call`. The satellite adapters turn the
satellite client's JSON into the pipeline's types (:class:`SatellitePlacer`,
:class:`SatelliteReporter`, :func:`segment_sources`) and back (:func:`segment_json`).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from common.messages import OrderLimit, Signed
from erasure import RedundancyScheme, SegmentLayout, derive_bucket_key
from gateway.access_keys import CredentialCache
from gateway.config import GatewayConfig
from gateway.pipeline import (
    BegunSegment,
    DownloadConfig,
    ObjectDownloader,
    ObjectUploader,
    PieceClient,
    PieceSource,
    PieceTarget,
    SegmentSource,
    SegmentUpload,
    UploadConfig,
)
from gateway.s3.acl_headers import ACL_MARK, requested_acl
from gateway.s3.credentials import AuthConfig
from gateway.s3.http import user_metadata
from gateway.s3.router import Endpoint, RouterConfig
from gateway.satellite_client import SatelliteClient
from gateway.settings_cache import SettingGenerations

__all__ = [
    "INLINE_ALLOWED",
    "SERVICES",
    "Call",
    "GatewayServices",
    "SatellitePlacer",
    "SatelliteReporter",
    "b64",
    "created_at",
    "metadata_from_headers",
    "quote_etag",
    "segment_json",
    "segment_sources",
    "unb64",
]

STANDARD_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires")
META_PREFIX = "x-amz-meta-"


def quote_etag(etag: str) -> str:
    """ETags go on the wire quoted; the satellite stores some without quotes."""
    return etag if etag.startswith('"') else f'"{etag}"'


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


@dataclass
class GatewayServices:
    """The long-lived parts of a gateway process; one per application."""

    config: GatewayConfig
    satellite: SatelliteClient
    pieces: PieceClient
    master_key: bytes = field(repr=False)
    credentials: CredentialCache = field(repr=False)  # what signatures verify with (gateway/access_keys.py)
    router: RouterConfig = field(default_factory=RouterConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    # Redundancy schemes learned per (tenant, bucket), so later uploads overlap begin-segment
    # with encoding; a stale entry costs one re-placement (see ObjectUploader).
    schemes: dict[tuple[str, str], RedundancyScheme] = field(default_factory=dict)
    # Which buckets' settings changed, shared with the sibling worker processes (settings_cache.py).
    generations: SettingGenerations = field(default_factory=SettingGenerations.private)
    # (tenant, bucket) → when the satellite last said the bucket's small objects may be inline:
    # a small PutObject then skips its preflight call (handlers.preflight); the commit checks it all.
    inline_buckets: dict[tuple[str, str], float] = field(default_factory=dict)

    def inline_known(self, tenant_id: str, bucket: str) -> bool:
        """Did the satellite say, within ``credential_cache_ttl``, that this bucket keeps small objects inline?"""
        seen = self.inline_buckets.get((tenant_id, bucket))
        return seen is not None and time.monotonic() - seen < self.config.credential_cache_ttl

    def learn_inline(self, tenant_id: str, bucket: str, allowed: bool) -> None:
        if allowed and self.config.credential_cache_ttl > 0:
            self.inline_buckets[(tenant_id, bucket)] = time.monotonic()
        else:
            self.inline_buckets.pop((tenant_id, bucket), None)

    def bucket_key(self, tenant_id: str, bucket: str) -> bytes:
        return derive_bucket_key(self.master_key, tenant_id, bucket)

    def uploader(self, placer: SatellitePlacer, tenant_id: str, bucket: str, *, allow_inline: bool = True,
                 wrapping_key: bytes | None = None) -> ObjectUploader:  # fmt: skip
        """``wrapping_key`` replaces the bucket key for an SSE-C object (see handlers.encryption)."""
        cfg = UploadConfig(segment_size=self.config.segment_size, inline_threshold=self.config.inline_threshold)
        key = wrapping_key if wrapping_key is not None else self.bucket_key(tenant_id, bucket)
        return ObjectUploader(
            self.pieces, placer, key, self.schemes.get((tenant_id, bucket)), config=cfg, allow_inline=allow_inline,
        )  # fmt: skip

    def learn_scheme(self, tenant_id: str, bucket: str, uploader: ObjectUploader) -> None:
        if uploader.scheme is not None:
            self.schemes[(tenant_id, bucket)] = uploader.scheme

    def downloader(self, tenant_id: str, bucket: str, wrapping_key: bytes | None = None) -> ObjectDownloader:
        cfg = DownloadConfig(window=self.config.download_window, spare_after=self.config.spare_after)
        reporter = SatelliteReporter(self.satellite, tenant_id)
        key = wrapping_key if wrapping_key is not None else self.bucket_key(tenant_id, bucket)
        return ObjectDownloader(self.pieces, key, config=cfg, reporter=reporter)


SERVICES: web.AppKey[GatewayServices] = web.AppKey("gateway.services", GatewayServices)
# The satellite's answer for this request: may a small object be stored inline in its database?
# (only where the bucket's policy allows the satellite's location; set by handlers.preflight)
INLINE_ALLOWED: web.RequestKey[bool] = web.RequestKey("gateway.inline_allowed", bool)


@dataclass(frozen=True)
class Call:
    """One authenticated S3 request as the handlers see it."""

    request: web.Request
    endpoint: Endpoint
    tenant_id: str
    services: GatewayServices

    @property
    def sat(self) -> SatelliteClient:
        return self.services.satellite

    @property
    def bucket(self) -> str:
        if self.endpoint.bucket is None:  # the router guarantees it for bucket operations
            raise RuntimeError(f"{self.endpoint.operation} routed without a bucket")
        return self.endpoint.bucket

    @property
    def key(self) -> str:
        if self.endpoint.key is None:
            raise RuntimeError(f"{self.endpoint.operation} routed without a key")
        return self.endpoint.key

    async def inline_allowed(self) -> bool:
        """May this request's object be stored inline? The preflight's answer, or asked now
        (copies and browser forms have no preflight). The satellite refuses an inline commit
        its policy does not allow, so a stale "yes" can fail, never store out of policy."""
        if INLINE_ALLOWED not in self.request:
            answer = await self.sat.authorize_write(self.tenant_id, self.bucket, self.key, 0, placed=False)
            self.request[INLINE_ALLOWED] = bool(answer.get("inline", True))
        return self.request[INLINE_ALLOWED]


# --- satellite adapters ------------------------------------------------------------------


def _begun(answer: Mapping[str, Any]) -> BegunSegment:
    targets = [
        PieceTarget(int(lim["number"]), str(lim["node_id"]), str(lim["address"]),
                    Signed.from_json(lim["order_limit"], OrderLimit))
        for lim in answer["limits"]
    ]  # fmt: skip
    return BegunSegment(str(answer["token"]), RedundancyScheme.from_dict(answer["scheme"]), targets)


@dataclass(frozen=True)
class SatellitePlacer:
    """Begins the segments of one object (``upload_id`` empty) or one multipart part."""

    sat: SatelliteClient
    tenant_id: str
    bucket: str
    key: str
    upload_id: str = ""
    part_number: int = 0

    async def begin_segment(self, index: int, max_piece_size: int) -> BegunSegment:
        if self.upload_id:
            answer = await self.sat.begin_part_segment(
                self.tenant_id, self.bucket, self.key, self.upload_id, self.part_number, max_piece_size
            )
        else:
            answer = await self.sat.begin_segment(self.tenant_id, self.bucket, self.key, max_piece_size)
        return _begun(answer)


@dataclass(frozen=True)
class SatelliteReporter:
    sat: SatelliteClient
    tenant_id: str

    async def report_bad_piece(self, source: PieceSource, segment: SegmentSource, reason: str) -> None:
        await self.sat.report_bad_piece(
            self.tenant_id, source.node_id, source.piece_id, reason,
            segment_id=segment.index, piece_number=source.piece_num,
        )  # fmt: skip


def segment_json(seg: SegmentUpload) -> dict[str, Any]:
    """A landed segment as commit-object / commit-part take it (docs/satellite.md)."""
    out: dict[str, Any] = {
        "plain_size": seg.plain_size,
        "wrapped_key": b64(seg.wrapped_key),
        "nonce": b64(seg.segment_id),
    }
    if seg.inline_data is not None:
        out["inline_data"] = b64(seg.inline_data)
        return out
    if seg.layout is None or seg.token is None:
        raise ValueError(f"segment {seg.index} is neither inline nor placed")
    out["token"] = seg.token
    out["layout"] = seg.layout.to_dict()
    out["pieces"] = [{"number": p.piece_num, "root": b64(p.root), "receipt": p.receipt.to_json()} for p in seg.pieces]
    return out


def segment_sources(segments: list[dict[str, Any]]) -> list[SegmentSource]:
    """Get-object's segments as the downloader reads them (offsets within the object)."""
    out = []
    for i, s in enumerate(segments):
        layout = SegmentLayout.from_dict(s["layout"]) if s.get("layout") and not s.get("inline_data") else None
        pieces = [
            PieceSource(int(p["number"]), str(p["node_id"]), str(p["address"]),
                        Signed.from_json(p["order_limit"], OrderLimit), unb64(p["root"]))
            for p in s.get("pieces") or ()
        ]  # fmt: skip
        out.append(
            SegmentSource(
                index=int(s.get("id", i)),
                offset=int(s["plain_offset"]),
                plain_size=int(s["plain_size"]),
                segment_id=unb64(s["nonce"]),
                wrapped_key=unb64(s["wrapped_key"]),
                inline_data=unb64(s["inline_data"]) if s.get("inline_data") else None,
                layout=layout,
                pieces=pieces,
            )
        )
    return out


# --- object metadata ------------------------------------------------------------------------


def created_at(obj: Mapping[str, Any]) -> datetime:
    """An object's ``created`` time (ISO 8601 from the satellite; UTC when it names no zone)."""
    t = datetime.fromisoformat(str(obj["created"]))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def metadata_from_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """What an object stores of its request's headers: user metadata (``x-amz-meta-*``,
    names lower-cased as AWS does, at most 2 KB), the standard headers, and the canned ACL
    of ``x-amz-acl`` (checked by the satellite when the object is committed)."""
    meta = {META_PREFIX + name: value for name, value in user_metadata(headers).items()}
    for name in STANDARD_HEADERS:
        if name in headers:
            meta[name] = headers[name]
    acl = requested_acl(headers)
    if acl is not None:
        meta[ACL_MARK] = acl
    return meta
