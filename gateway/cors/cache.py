"""Buckets' CORS rules cached in the gateway application, and how a change drops them."""

from __future__ import annotations

from aiohttp import web

from gateway.cors.rules import CorsRule

__all__ = ["CACHE", "forget"]

CACHE: web.AppKey[dict[str, tuple[float, list[CorsRule]]]] = web.AppKey("gateway.cors.cache", dict)


def forget(app: web.Application, bucket: str) -> None:
    """Drop a bucket's cached rules (after Put/DeleteBucketCors through this gateway)."""
    app[CACHE].pop(bucket, None)
