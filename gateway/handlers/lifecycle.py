"""Put/Get/DeleteBucketLifecycle and the headers that announce what the rules will do.

The rules are checked here (``gateway/s3/lifecycle_xml.py``) and stored at the satellite as
the bucket's ``lifecycle`` setting; the satellite's lifecycle chore applies them. GET, HEAD,
PUT and CompleteMultipartUpload answer ``x-amz-expiration`` when an enabled rule expires the
object, CreateMultipartUpload ``x-amz-abort-date`` / ``x-amz-abort-rule-id`` when one aborts
the upload; the dates come from :mod:`common.lifecycle_rules`, as the chore's do. The rules
are cached per bucket for ``credential_cache_ttl`` seconds (a change made through this
gateway takes effect at once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from common.lifecycle_rules import SETTING, LifecycleRule, abort_date, object_expiration, rules_from_json, rules_to_json
from gateway.handlers.bucket import xml_response
from gateway.handlers.common import Call, created_at
from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult
from gateway.s3.errors import S3Error
from gateway.s3.http import http_date
from gateway.s3.lifecycle_xml import expiration_header, lifecycle_configuration, parse_lifecycle_configuration
from gateway.settings_cache import SettingCache

__all__ = [
    "CACHE",
    "abort_headers",
    "delete_bucket_lifecycle",
    "expiration_headers",
    "get_bucket_lifecycle",
    "put_bucket_lifecycle",
]

_MAX_CONFIG = 1024 * 1024  # 1,000 rules with tags fit
CACHE: web.AppKey[SettingCache[list[LifecycleRule]]] = web.AppKey("gateway.lifecycle.cache", SettingCache)


def _cache(call: Call) -> SettingCache[list[LifecycleRule]]:
    return call.request.app[CACHE]


async def _rules(call: Call) -> list[LifecycleRule]:
    """The bucket's rules (whoever owns it: a public reader's GET announces them too)."""

    async def fetch() -> list[LifecycleRule]:
        return rules_from_json(await call.sat.get_setting(None, call.bucket, SETTING))

    return await _cache(call).get(call.bucket, fetch)


async def put_bucket_lifecycle(call: Call, auth: AuthResult) -> web.Response:
    rules = parse_lifecycle_configuration(await BodyReader(call.request, auth).read_all(_MAX_CONFIG))
    await call.sat.put_setting(call.tenant_id, call.bucket, SETTING, rules_to_json(rules))
    _cache(call).forget(call.bucket)
    return web.Response()


async def get_bucket_lifecycle(call: Call) -> web.Response:
    rules = rules_from_json(await call.sat.get_setting(call.tenant_id, call.bucket, SETTING))
    if not rules:
        raise S3Error("NoSuchLifecycleConfiguration", BucketName=call.bucket)
    return xml_response(lifecycle_configuration(rules))


async def delete_bucket_lifecycle(call: Call) -> web.Response:
    await call.sat.delete_setting(call.tenant_id, call.bucket, SETTING)
    _cache(call).forget(call.bucket)
    return web.Response(status=204)


async def expiration_headers(call: Call, obj: Mapping[str, Any]) -> dict[str, str]:
    """``x-amz-expiration`` for a current object (its JSON from the satellite), if a rule expires it."""
    rules = await _rules(call)
    if not rules:
        return {}
    created = created_at(obj) if obj.get("created") else dt.datetime.now(dt.UTC)
    found = object_expiration(rules, str(obj.get("key") or call.key), obj.get("tags"), int(obj.get("size") or 0),
                              created, call.services.config.lifecycle_day_seconds)  # fmt: skip
    return {} if found is None else {"x-amz-expiration": expiration_header(*found)}


async def abort_headers(call: Call, initiated: dt.datetime) -> dict[str, str]:
    """``x-amz-abort-date`` and ``x-amz-abort-rule-id`` for a new upload, if a rule aborts it."""
    rules = await _rules(call)
    found = abort_date(rules, call.key or "", initiated, call.services.config.lifecycle_day_seconds) if rules else None
    if found is None:
        return {}
    return {"x-amz-abort-date": http_date(found[0]), "x-amz-abort-rule-id": found[1]}
