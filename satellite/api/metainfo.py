"""The metainfo API for gateways: JSON ``POST /api/v1/metainfo/<operation>``, bearer token.

Every operation is one POST with a JSON object and answers a JSON object; every request
names the ``tenant_id`` the gateway authenticated. See docs/satellite.md for each body.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from satellite.access.service import Requester
from satellite.accounting.metering import RequestMeter
from satellite.api.access import AccessEndpoint
from satellite.api.errors import error_response
from satellite.api.object_lock import ObjectLockEndpoint
from satellite.api.versioning import VersioningEndpoint
from satellite.errors import InvalidArgument
from satellite.losses import LossService
from satellite.metainfo import MetainfoService, MultipartService
from satellite.tenancy import TenancyService

__all__ = ["MetainfoEndpoint", "bearer_auth"]

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def bearer_auth(token: str, prefix: str) -> Any:
    """Middleware: 401 for requests under ``prefix`` without ``Authorization: Bearer <token>``."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(prefix):
            got = request.headers.get("Authorization", "").encode()
            if not token or not hmac.compare_digest(got, expected):
                return error_response(401, "Unauthorized", "missing or wrong gateway token")
        return await handler(request)

    return middleware


def _who(body: dict[str, Any]) -> Requester:
    """The requester the gateway authenticated (``tenant_id`` empty or null: anonymous) and
    what it saw of the request (``context``: ``source_ip``, ``secure_transport``)."""
    return Requester.from_json(body.get("tenant_id"), body.get("context"))


def _s(body: dict[str, Any], name: str, default: str | None = None) -> str:
    v = body.get(name, default)
    if not isinstance(v, str):
        raise InvalidArgument(f"{name!r} must be a string")
    return v


class MetainfoEndpoint:
    PREFIX = "/api/v1/metainfo/"

    def __init__(
        self,
        metainfo: MetainfoService,
        multipart: MultipartService,
        tenancy: TenancyService,
        losses: LossService | None = None,
        meter: RequestMeter | None = None,
        *,
        on_setting_changed: Callable[[str], None] | None = None,
    ) -> None:
        self.on_setting_changed = on_setting_changed  # a bucket setting (its name) was put or deleted
        self.meter = meter  # customer metering: counts each answered operation per tenant
        self.m = metainfo
        self.losses = losses
        self.mp = multipart
        self.tenancy = tenancy
        self.ops: dict[str, Handler] = {
            "access-key/get": self.access_key,
            "access-key/revocations": self.access_key_revocations,
            "access-key/verify-v2": self.access_key_verify_v2,
            "bucket/create": self.bucket_create,
            "bucket/get": self.bucket_get,
            "bucket/list": self.bucket_list,
            "bucket/delete": self.bucket_delete,
            "object/authorize-write": self.authorize_write,
            "bucket/setting/get": self.setting_get,
            "bucket/setting/put": self.setting_put,
            "bucket/setting/delete": self.setting_delete,
            "segment/begin": self.segment_begin,
            "object/commit": self.object_commit,
            "object/get": self.object_get,
            "object/head": self.object_head,
            "object/list": self.object_list,
            "object/copy": self.object_copy,
            "object/tags/get": self.tags_get,
            "object/tags/put": self.tags_put,
            "object/tags/delete": self.tags_delete,
            "multipart/create": self.mp_create,
            "multipart/begin-segment": self.mp_begin,
            "multipart/commit-part": self.mp_commit_part,
            "multipart/list-parts": self.mp_list_parts,
            "multipart/list-uploads": self.mp_list_uploads,
            "multipart/complete": self.mp_complete,
            "multipart/abort": self.mp_abort,
            "piece/report-bad": self.report_bad,
            **AccessEndpoint(metainfo).ops(),
            **VersioningEndpoint(metainfo).ops(),
            **ObjectLockEndpoint(metainfo).ops(),
        }

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.PREFIX + "{op:.+}", self.dispatch)]

    async def dispatch(self, request: web.Request) -> web.Response:
        handler = self.ops.get(request.match_info["op"])
        if handler is None:
            return error_response(404, "UnknownOperation", f"no metainfo operation {request.match_info['op']!r}")
        body = await request.json()
        if not isinstance(body, dict):
            raise InvalidArgument("the request body must be a JSON object")
        answer = await handler(body)
        if self.meter is not None:
            # The bucket's owner pays for reads of its bucket, anonymous or another tenant's, as AWS bills them.
            owner = answer.get("owner")
            billed = {**body, "tenant_id": owner} if isinstance(owner, str) and owner else body
            self.meter.observe(request.match_info["op"], billed, answer)
        return web.json_response(answer)

    # --- handlers: unpack, call the service, pack ----------------------------------------

    async def access_key(self, b: dict[str, Any]) -> dict[str, Any]:
        """The key's tenant and status, and with ``date`` and ``region`` its SigV4 signing key
        for that scope; never its secret (docs/security.md)."""
        akid = _s(b, "access_key_id")
        if b.get("date") is None and b.get("region") is None:
            key, status = await self.tenancy.lookup_access_key(akid)
            return {"access_key_id": akid, "tenant_id": key.tenant_id, "status": status}
        tenant, status, signing = await self.tenancy.signing_key(akid, _s(b, "date"), _s(b, "region"))
        out = {"access_key_id": akid, "tenant_id": tenant, "status": status}
        if signing:
            out["signing_key"] = base64.b64encode(signing).decode()
        return out

    async def access_key_verify_v2(self, b: dict[str, Any]) -> dict[str, Any]:
        strings = b.get("strings_to_sign")
        if not isinstance(strings, list) or not 1 <= len(strings) <= 4 or not all(isinstance(x, str) for x in strings):
            raise InvalidArgument("'strings_to_sign' must be a list of 1 to 4 strings")
        tenant, status, match = await self.tenancy.verify_sigv2(_s(b, "access_key_id"), _s(b, "signature"), strings)
        return {"tenant_id": tenant, "status": status, "match": match}

    async def access_key_revocations(self, b: dict[str, Any]) -> dict[str, Any]:
        raw = b.get("since")
        since = None
        if raw is not None:
            try:
                since = dt.datetime.fromisoformat(_s(b, "since"))
            except ValueError:
                raise InvalidArgument("'since' must be an ISO 8601 time from a previous answer") from None
            if since.tzinfo is None:
                raise InvalidArgument("'since' must name its time zone")
        now, revoked = await self.tenancy.revocations(since)
        return {"now": now.isoformat(), "revoked": revoked}

    async def bucket_create(self, b: dict[str, Any]) -> dict[str, Any]:
        bucket = await self.m.create_bucket(_s(b, "tenant_id"), _s(b, "bucket"), _s(b, "policy", ""),
                                            ownership=b.get("ownership"), acl=b.get("acl"),
                                            object_lock=b.get("object_lock") is True)  # fmt: skip
        return {"bucket": bucket.to_json()}

    async def bucket_get(self, b: dict[str, Any]) -> dict[str, Any]:
        """The owner's bucket; with ``action`` ``s3:ListBucket`` (HeadBucket), any requester
        its ACL or policy lets list it."""
        if b.get("action") == "s3:ListBucket":
            bucket = await self.m.bucket_for(_who(b), _s(b, "bucket"), "s3:ListBucket")
        else:
            bucket = await self.m.bucket(_s(b, "tenant_id"), _s(b, "bucket"))
        return {"bucket": {**bucket.to_json(), "owner": bucket.tenant_id}}

    async def bucket_list(self, b: dict[str, Any]) -> dict[str, Any]:
        return {"buckets": [x.to_json() for x in await self.m.list_buckets(_s(b, "tenant_id"))]}

    async def bucket_delete(self, b: dict[str, Any]) -> dict[str, Any]:
        await self.m.delete_bucket(_s(b, "tenant_id"), _s(b, "bucket"))
        return {}

    async def authorize_write(self, b: dict[str, Any]) -> dict[str, Any]:
        _s(b, "tenant_id")  # a string: uploads are the owner's, never anonymous
        bucket, key, size, placed = _s(b, "bucket"), _s(b, "key"), b.get("size"), b.get("placed", True)
        if b.get("upload_id") is not None:
            return await self.mp.authorize_part(_who(b), bucket, key, b.get("upload_id"), size, placed=placed)
        return await self.m.authorize_write(_who(b), bucket, key, size, placed=placed, acl=b.get("acl"))

    async def setting_get(self, b: dict[str, Any]) -> dict[str, Any]:
        tenant = b.get("tenant_id")  # null: the bucket's owner, whoever it is (CORS preflight)
        if tenant is not None and not isinstance(tenant, str):
            raise InvalidArgument("'tenant_id' must be a string or null")
        return {"value": await self.m.setting(tenant, _s(b, "bucket"), b.get("name"))}

    async def setting_put(self, b: dict[str, Any]) -> dict[str, Any]:
        await self.m.put_setting(_s(b, "tenant_id"), _s(b, "bucket"), b.get("name"), b.get("value"))
        if self.on_setting_changed is not None:
            self.on_setting_changed(str(b.get("name")))
        return {}

    async def setting_delete(self, b: dict[str, Any]) -> dict[str, Any]:
        await self.m.delete_setting(_s(b, "tenant_id"), _s(b, "bucket"), b.get("name"))
        if self.on_setting_changed is not None:
            self.on_setting_changed(str(b.get("name")))
        return {}

    async def segment_begin(self, b: dict[str, Any]) -> dict[str, Any]:
        return await self.m.begin_segment(_s(b, "tenant_id"), _s(b, "bucket"), _s(b, "key"), b.get("piece_size"))  # type: ignore[arg-type]

    async def object_commit(self, b: dict[str, Any]) -> dict[str, Any]:
        info = await self.m.commit_object(
            _who(b), _s(b, "bucket"), _s(b, "key"), b.get("meta"), b.get("segments"), b.get("condition")
        )
        return {"object": info.to_json()}

    async def object_get(self, b: dict[str, Any]) -> dict[str, Any]:
        return await self.m.get_object(
            _who(b),
            _s(b, "bucket"),
            _s(b, "key"),
            range_start=b.get("range_start"),
            range_end=b.get("range_end"),
            suffix_length=b.get("suffix_length"),
            part_number=b.get("part_number"),
            version_id=b.get("version_id"),
        )

    async def object_head(self, b: dict[str, Any]) -> dict[str, Any]:
        bucket, info = await self.m.readable_object(_who(b), _s(b, "bucket"), _s(b, "key"), b.get("version_id"))
        if b.get("parts"):  # GetObjectAttributes: every part's size
            bounds, count = await self.m.part_bounds(info)
            sizes = [stop - start for start, stop in bounds]
            return {"object": info.to_json(), "part_sizes": sizes, "parts_count": count, "owner": bucket.tenant_id}
        if b.get("part_number") is None:
            return {"object": info.to_json(), "owner": bucket.tenant_id}
        rng, count = await self.m.part_range(info, b.get("part_number"))
        return {"object": info.to_json(), "range": list(rng) if rng else None, "parts_count": count,
                "owner": bucket.tenant_id}  # fmt: skip

    async def object_list(self, b: dict[str, Any]) -> dict[str, Any]:
        return await self.m.list_objects(
            _who(b),
            _s(b, "bucket"),
            prefix=_s(b, "prefix", ""),
            delimiter=_s(b, "delimiter", ""),
            start_after=_s(b, "start_after", ""),
            max_keys=b.get("max_keys", 1000),
        )

    async def object_copy(self, b: dict[str, Any]) -> dict[str, Any]:
        src, info = await self.m.copy_object(
            Requester.from_json(b.get("source_tenant_id", b.get("tenant_id")), b.get("context")),
            _s(b, "source_bucket"),
            _s(b, "source_key"),
            _who(b),
            _s(b, "bucket"),
            _s(b, "key"),
            meta=b.get("meta"),
            segment_keys=b.get("segment_keys"),
            condition=b.get("condition"),
            source_version_id=b.get("source_version_id"),
        )
        return {"object": info.to_json(), "source_version_id": src.version_id}

    async def tags_get(self, b: dict[str, Any]) -> dict[str, Any]:
        _, info = await self.m.object(_s(b, "tenant_id"), _s(b, "bucket"), _s(b, "key"), b.get("version_id"))
        return {"tags": info.tags, "object": info.to_json()}

    async def tags_put(self, b: dict[str, Any]) -> dict[str, Any]:
        info = await self.m.put_tags(_s(b, "tenant_id"), _s(b, "bucket"), _s(b, "key"), b.get("tags"),
                                     b.get("version_id"))  # fmt: skip
        return {"object": info.to_json()}

    async def tags_delete(self, b: dict[str, Any]) -> dict[str, Any]:
        info = await self.m.put_tags(_s(b, "tenant_id"), _s(b, "bucket"), _s(b, "key"), {}, b.get("version_id"))
        return {"object": info.to_json()}

    async def mp_create(self, b: dict[str, Any]) -> dict[str, Any]:
        up = await self.mp.create(
            _who(b), _s(b, "bucket"), _s(b, "key"), b.get("meta") or {}, b.get("checksum_algorithm")
        )
        return {"upload": up.to_json()}

    async def mp_begin(self, b: dict[str, Any]) -> dict[str, Any]:
        return await self.mp.begin_segment(
            _s(b, "tenant_id"),
            _s(b, "bucket"),
            _s(b, "key"),
            _s(b, "upload_id"),
            b.get("part_number"),
            b.get("piece_size"),  # type: ignore[arg-type]
        )

    async def mp_commit_part(self, b: dict[str, Any]) -> dict[str, Any]:
        part = await self.mp.commit_part(
            _s(b, "tenant_id"),
            _s(b, "bucket"),
            _s(b, "key"),
            _s(b, "upload_id"),
            b.get("part_number"),
            size=b.get("size"),
            etag=b.get("etag"),
            checksums=b.get("checksums"),
            segments=b.get("segments"),
        )
        return {"part": part.to_json()}

    async def mp_list_parts(self, b: dict[str, Any]) -> dict[str, Any]:
        return await self.mp.list_parts(
            _s(b, "tenant_id"),
            _s(b, "bucket"),
            _s(b, "key"),
            _s(b, "upload_id"),
            marker=int(b.get("part_number_marker") or 0),
            max_parts=int(b.get("max_parts") or 1000),
        )

    async def mp_list_uploads(self, b: dict[str, Any]) -> dict[str, Any]:
        return await self.mp.list_uploads(
            _s(b, "tenant_id"),
            _s(b, "bucket"),
            prefix=_s(b, "prefix", ""),
            key_marker=_s(b, "key_marker", ""),
            upload_id_marker=_s(b, "upload_id_marker", ""),
            max_uploads=int(b.get("max_uploads") or 1000),
        )

    async def mp_complete(self, b: dict[str, Any]) -> dict[str, Any]:
        info = await self.mp.complete(
            _s(b, "tenant_id"), _s(b, "bucket"), _s(b, "key"), _s(b, "upload_id"), b.get("parts"), b.get("checksums"),
            b.get("condition"),
        )  # fmt: skip
        return {"object": info.to_json()}

    async def mp_abort(self, b: dict[str, Any]) -> dict[str, Any]:
        await self.mp.abort(_s(b, "tenant_id"), _s(b, "bucket"), _s(b, "key"), _s(b, "upload_id"))
        return {}

    async def report_bad(self, b: dict[str, Any]) -> dict[str, Any]:
        await self.m.report_bad_piece(
            _s(b, "tenant_id", ""),
            b.get("node_id"),
            b.get("piece_id"),
            b.get("reason", ""),
            b.get("segment_id"),
            b.get("piece_number"),
        )
        # Every bad share a reader sees counts: the segment's health falls and repair is queued.
        dropped = await self.losses.reader_report(b["node_id"], b["piece_id"], str(b.get("reason", ""))) if (
            self.losses is not None
        ) else []  # fmt: skip
        return {"segments_queued": len({d.segment_id for d in dropped})}
