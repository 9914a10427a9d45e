"""Buckets' CORS rules cached in the gateway application, and how a change drops them."""

from __future__ import annotations

from aiohttp import web

from gateway.cors.rules import CorsRule
from gateway.settings_cache import SettingCache

__all__ = ["CACHE", "forget"]

CACHE: web.AppKey[SettingCache[list[CorsRule]]] = web.AppKey("gateway.cors.cache", SettingCache)


def forget(app: web.Application, bucket: str) -> None:
    """Drop a bucket's cached rules here and in every worker (after Put/DeleteBucketCors)."""
    app[CACHE].forget(bucket)
