"""The gateway's client for the satellite's metainfo API (JSON over HTTP, bearer token).

One method per operation, one typed exception per error code the satellite sends (see
``satellite/api/errors.py``; the two tables are kept in step by the integration tests).
Bytes travel as base64 in JSON; this client leaves them as the satellite sent them, except
where a method says otherwise.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import aiohttp

from common.observability import propagating_trace_config
from gateway import satellite_errors as _errors
from gateway.satellite_errors import *  # noqa: F403  (re-exported: callers name the errors sc.X)
from gateway.satellite_errors import ERRORS as _ERRORS
from gateway.satellite_errors import SatelliteError

__all__ = ["REQUEST_CONTEXT", "SatelliteClient", *(n for n in _errors.__all__ if n != "ERRORS")]


Json = dict[str, Any]


def _versioned(body: Json, version_id: str | None) -> Json:
    return body if version_id is None else {**body, "version_id": version_id}

REQUEST_CONTEXT: ContextVar[Json | None] = ContextVar("geoshard_s3_request_context", default=None)
"""What the gateway saw of the S3 request being served (``source_ip``, ``secure_transport``):
set once per request, sent with every metainfo call it makes as ``context``, because the
satellite decides access and bucket policies condition on these (aws:SourceIp,
aws:SecureTransport)."""


class SatelliteClient:
    """``async with SatelliteClient(url, token) as sat: await sat.get_object(...)``."""

    def __init__(self, base_url: str, token: str, *, session: aiohttp.ClientSession | None = None,
                 timeout: float = 30.0) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session = session
        self._own_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def __aenter__(self) -> SatelliteClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _s(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, trace_configs=[propagating_trace_config()])
        return self._session

    async def call(self, op: str, body: Json) -> Json:
        """POST one metainfo operation; raises the typed :class:`SatelliteError` for an error answer."""
        context = REQUEST_CONTEXT.get()
        if context is not None and "context" not in body:
            body = {**body, "context": context}
        async with self._s().post(f"{self.base_url}/api/v1/metainfo/{op}", json=body, headers=self._headers) as r:
            try:
                data = await r.json(content_type=None)
            except ValueError:
                data = None
            if r.status == 200 and isinstance(data, dict):
                return data
            if not isinstance(data, dict):
                raise SatelliteError(f"satellite answered {r.status} without a JSON error", status=r.status)
            cls = _ERRORS.get(str(data.get("error")), SatelliteError)
            raise cls(str(data.get("message", "")), status=r.status, body=data)

    async def identity(self) -> str:
        async with self._s().get(f"{self.base_url}/api/v1/identity") as r:
            r.raise_for_status()
            return str((await r.json())["id"])

    # --- access keys and buckets -----------------------------------------------------------

    async def get_access_key(self, access_key_id: str, date: str | None = None, region: str | None = None) -> Json:
        """``{access_key_id, tenant_id, status}``, with ``signing_key`` (base64, SigV4's for
        that day and region) when both are given and the key is active; NoSuchAccessKey if
        unknown. The satellite never sends a secret."""
        body: Json = {"access_key_id": access_key_id}
        if date is not None and region is not None:
            body.update(date=date, region=region)
        return await self.call("access-key/get", body)

    async def verify_sigv2(self, access_key_id: str, signature: str, strings: list[str]) -> Json:
        """``{tenant_id, status, match}``: the satellite checks a SigV2 signature (it signs with the secret)."""
        body = {"access_key_id": access_key_id, "signature": signature, "strings_to_sign": strings}
        return await self.call("access-key/verify-v2", body)

    async def access_key_revocations(self, since: str | None) -> Json:
        """``{now, revoked: [access_key_id]}``: keys revoked since ``since`` (a previous ``now``)."""
        return await self.call("access-key/revocations", {"since": since})

    async def create_bucket(self, tenant_id: str, bucket: str, policy: str = "", *, ownership: str | None = None,
                            acl: str | None = None, object_lock: bool = False) -> Json:  # fmt: skip
        body = {"tenant_id": tenant_id, "bucket": bucket, "policy": policy, "ownership": ownership, "acl": acl,
                "object_lock": object_lock}
        return (await self.call("bucket/create", body))["bucket"]

    async def get_bucket(self, tenant_id: str, bucket: str, *, action: str | None = None) -> Json:
        """``{name, policy, created, owner}``; ``policy`` is GetBucketLocation's answer. Without
        ``action`` only the owner gets it; with ``s3:ListBucket`` whoever may list it."""
        body = {"tenant_id": tenant_id, "bucket": bucket}
        if action is not None:
            body["action"] = action
        return (await self.call("bucket/get", body))["bucket"]

    async def get_access(self, tenant_id: str, bucket: str, what: str | None = None) -> Json:
        """The owner's view of the bucket's access configuration (``{owner, ownership, acl,
        public_access_block, policy, tenant_public_access_block}``), or with ``what`` one of
        ``policy``/``public_access_block`` (NoSuchBucketPolicy / NoSuchPublicAccessBlockConfiguration)."""
        return await self.call("bucket/access/get", {"tenant_id": tenant_id, "bucket": bucket, "what": what})

    async def put_access(self, tenant_id: str, bucket: str, what: str, value: Any) -> None:
        """``what``: ownership, acl (canned), public_access_block (four flags) or policy (text)."""
        await self.call("bucket/access/put", {"tenant_id": tenant_id, "bucket": bucket, "what": what, "value": value})

    async def delete_access(self, tenant_id: str, bucket: str, what: str) -> None:
        await self.call("bucket/access/delete", {"tenant_id": tenant_id, "bucket": bucket, "what": what})

    async def get_object_acl(self, tenant_id: str, bucket: str, key: str, version_id: str | None = None) -> Json:
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key}
        return await self.call("object/acl/get", _versioned(body, version_id))

    async def put_object_acl(self, tenant_id: str, bucket: str, key: str, acl: str,
                             version_id: str | None = None) -> str | None:  # fmt: skip
        """Set the canned ACL of the latest version (or of ``version_id``); the version id set, if versioned."""
        body = _versioned({"tenant_id": tenant_id, "bucket": bucket, "key": key, "acl": acl}, version_id)
        return (await self.call("object/acl/put", body)).get("version_id")

    async def list_buckets(self, tenant_id: str) -> list[Json]:
        return list((await self.call("bucket/list", {"tenant_id": tenant_id}))["buckets"])

    async def delete_bucket(self, tenant_id: str, bucket: str) -> None:
        await self.call("bucket/delete", {"tenant_id": tenant_id, "bucket": bucket})

    async def get_setting(self, tenant_id: str | None, bucket: str, name: str) -> Json | None:
        """A bucket setting (``cors``), or None; ``tenant_id`` None looks it up for any owner."""
        answer = await self.call("bucket/setting/get", {"tenant_id": tenant_id, "bucket": bucket, "name": name})
        return answer.get("value")

    async def put_setting(self, tenant_id: str, bucket: str, name: str, value: Json) -> None:
        await self.call("bucket/setting/put", {"tenant_id": tenant_id, "bucket": bucket, "name": name, "value": value})

    async def delete_setting(self, tenant_id: str, bucket: str, name: str) -> None:
        await self.call("bucket/setting/delete", {"tenant_id": tenant_id, "bucket": bucket, "name": name})

    # --- objects -------------------------------------------------------------------------

    async def authorize_write(self, tenant_id: str, bucket: str, key: str, size: int, *, placed: bool,
                              upload_id: str | None = None, acl: str | None = None) -> Json:  # fmt: skip
        """``{scheme}`` if an upload of ``size`` bytes would be accepted now (``placed``: it
        needs pieces; ``acl``: the object's canned ACL); else the error its begin-segment or
        commit would raise."""
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "size": size, "placed": placed,
                "upload_id": upload_id, "acl": acl}  # fmt: skip
        return await self.call("object/authorize-write", body)

    async def begin_segment(self, tenant_id: str, bucket: str, key: str, piece_size: int) -> Json:
        """``{token, scheme: {k, repair, success, total}, limits: [{number, node_id, address, order_limit}]}``."""
        return await self.call(
            "segment/begin", {"tenant_id": tenant_id, "bucket": bucket, "key": key, "piece_size": piece_size}
        )

    async def commit_object(self, tenant_id: str, bucket: str, key: str, meta: Json, segments: list[Json],
                            condition: Json | None = None) -> Json:  # fmt: skip
        """``meta``: {size, etag, content_type, metadata, checksums, tags}; see docs/satellite.md for segments.
        ``condition``: {if_match, if_none_match}, checked in the commit's transaction."""
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "meta": meta, "segments": segments,
                "condition": condition}  # fmt: skip
        return (await self.call("object/commit", body))["object"]

    async def get_object(
        self,
        tenant_id: str,
        bucket: str,
        key: str,
        *,
        range_start: int | None = None,
        range_end: int | None = None,
        suffix_length: int | None = None,
        part_number: int | None = None,
        version_id: str | None = None,
    ) -> Json:
        """``{object, range, segments}`` with GET order limits for the segments covering the range
        (or part ``part_number``; the answer then has ``parts_count``) of the latest version or ``version_id``."""
        body: Json = {"tenant_id": tenant_id, "bucket": bucket, "key": key}
        for name, v in (("range_start", range_start), ("range_end", range_end), ("suffix_length", suffix_length),
                        ("part_number", part_number), ("version_id", version_id)):  # fmt: skip
            if v is not None:
                body[name] = v
        return await self.call("object/get", body)

    async def head_object(self, tenant_id: str, bucket: str, key: str) -> Json:
        return (await self.call("object/head", {"tenant_id": tenant_id, "bucket": bucket, "key": key}))["object"]

    async def head_object_owned(self, tenant_id: str, bucket: str, key: str, version_id: str | None = None) -> Json:
        """``{object, owner}``: HeadObject for any requester the bucket lets read it."""
        return await self.call("object/head", _versioned({"tenant_id": tenant_id, "bucket": bucket, "key": key},
                                                         version_id))  # fmt: skip

    async def head_parts(self, tenant_id: str, bucket: str, key: str, version_id: str | None = None) -> Json:
        """``{object, part_sizes, parts_count}``: the object and the size of each of its parts."""
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "parts": True}
        return await self.call("object/head", _versioned(body, version_id))

    async def head_part(self, tenant_id: str, bucket: str, key: str, part_number: int,
                        version_id: str | None = None) -> Json:  # fmt: skip
        """``{object, range, parts_count}``: the object and the byte range of its part ``part_number``."""
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "part_number": part_number}
        return await self.call("object/head", _versioned(body, version_id))

    async def list_objects(
        self, tenant_id: str, bucket: str, *, prefix: str = "", delimiter: str = "", start_after: str = "",
        max_keys: int = 1000,
    ) -> Json:  # fmt: skip
        """``{objects, prefixes, truncated, next}``; pass ``next`` as ``start_after`` for the next page."""
        return await self.call(
            "object/list",
            {"tenant_id": tenant_id, "bucket": bucket, "prefix": prefix, "delimiter": delimiter,
             "start_after": start_after, "max_keys": max_keys},
        )  # fmt: skip

    async def delete_object(self, tenant_id: str, bucket: str, key: str) -> bool:
        """Whether a version existed; see :meth:`delete_version` for what the delete did."""
        return bool((await self.delete_version(tenant_id, bucket, key))["deleted"])

    async def delete_version(self, tenant_id: str, bucket: str, key: str, version_id: str | None = None, *,
                             bypass_governance: bool = False) -> Json:  # fmt: skip
        """``{deleted, delete_marker, created_marker, version_id?}``: what the delete did (a delete
        marker made, or version ``version_id`` removed for good)."""
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "bypass_governance": bypass_governance}
        return await self.call("object/delete", _versioned(body, version_id))

    async def delete_objects(self, tenant_id: str, bucket: str, keys: list[str]) -> list[str]:
        """Returns the keys that existed (S3 reports every key as deleted either way)."""
        body = {"tenant_id": tenant_id, "bucket": bucket, "keys": keys}
        return list((await self.call("object/delete-many", body))["deleted"])

    async def delete_entries(self, tenant_id: str, bucket: str, entries: list[Json], *,
                             bypass_governance: bool = False) -> list[Json]:  # fmt: skip
        """``entries``: ``{key, version_id?}``; one outcome per entry, in order (see :meth:`delete_version`);
        an entry Object Lock kept has ``error`` ("AccessDenied")."""
        body = {"tenant_id": tenant_id, "bucket": bucket, "keys": entries, "bypass_governance": bypass_governance}
        return list((await self.call("object/delete-many", body))["results"])

    # --- Object Lock (docs/object-lock.md) ---------------------------------------------

    async def get_object_lock(self, tenant_id: str, bucket: str) -> Json:
        """The lock bucket's configuration (``{}``, or ``{mode, days|years}``); a bucket created
        without Object Lock raises ObjectLockConfigurationNotFoundError."""
        return dict((await self.call("bucket/object-lock/get", {"tenant_id": tenant_id, "bucket": bucket}))["config"])

    async def put_object_lock(self, tenant_id: str, bucket: str, config: Json) -> None:
        await self.call("bucket/object-lock/put", {"tenant_id": tenant_id, "bucket": bucket, "config": config})

    async def get_retention(self, tenant_id: str, bucket: str, key: str, version_id: str | None = None) -> Json:
        body = _versioned({"tenant_id": tenant_id, "bucket": bucket, "key": key}, version_id)
        return await self.call("object/retention/get", body)

    async def put_retention(self, tenant_id: str, bucket: str, key: str, retention: Json,
                            version_id: str | None = None, *, bypass_governance: bool = False) -> str:  # fmt: skip
        body = _versioned({"tenant_id": tenant_id, "bucket": bucket, "key": key, "retention": retention,
                           "bypass_governance": bypass_governance}, version_id)  # fmt: skip
        return str((await self.call("object/retention/put", body))["version_id"])

    async def get_legal_hold(self, tenant_id: str, bucket: str, key: str, version_id: str | None = None) -> Json:
        body = _versioned({"tenant_id": tenant_id, "bucket": bucket, "key": key}, version_id)
        return await self.call("object/legal-hold/get", body)

    async def put_legal_hold(self, tenant_id: str, bucket: str, key: str, on: bool,
                             version_id: str | None = None) -> str:  # fmt: skip
        body = _versioned({"tenant_id": tenant_id, "bucket": bucket, "key": key, "legal_hold": on}, version_id)
        return str((await self.call("object/legal-hold/put", body))["version_id"])

    async def get_versioning(self, tenant_id: str, bucket: str) -> str:
        """"Enabled", "Suspended" or "unversioned" (never versioned)."""
        return str((await self.call("bucket/versioning/get", {"tenant_id": tenant_id, "bucket": bucket}))["status"])

    async def put_versioning(self, tenant_id: str, bucket: str, status: str) -> None:
        await self.call("bucket/versioning/put", {"tenant_id": tenant_id, "bucket": bucket, "status": status})

    async def list_versions(self, tenant_id: str, bucket: str, *, prefix: str = "", delimiter: str = "",
                            key_marker: str = "", version_id_marker: str = "",
                            max_keys: int = 1000) -> Json:  # fmt: skip
        """``{versions, prefixes, truncated, next_key_marker?, next_version_id_marker?, owner}``."""
        return await self.call("object/versions", {
            "tenant_id": tenant_id, "bucket": bucket, "prefix": prefix, "delimiter": delimiter,
            "key_marker": key_marker, "version_id_marker": version_id_marker, "max_keys": max_keys,
        })  # fmt: skip

    async def copy_object(
        self, source_tenant_id: str, source_bucket: str, source_key: str, tenant_id: str, bucket: str, key: str,
        *, meta: Json | None = None, segment_keys: list[str] | None = None, condition: Json | None = None,
        source_version_id: str | None = None,
    ) -> Json:  # fmt: skip
        """``meta`` None = COPY directive; ``segment_keys`` = keys re-wrapped for the destination (base64);
        ``condition`` on the destination, as for :meth:`commit_object`."""
        body = {
            "source_tenant_id": source_tenant_id,
            "source_bucket": source_bucket,
            "source_key": source_key,
            "tenant_id": tenant_id,
            "bucket": bucket,
            "key": key,
            "meta": meta,
            "segment_keys": segment_keys,
            "condition": condition,
            "source_version_id": source_version_id,
        }
        return (await self.call("object/copy", body))["object"]

    async def get_tags(self, tenant_id: str, bucket: str, key: str) -> dict[str, str]:
        return dict((await self.get_tagging(tenant_id, bucket, key))["tags"])

    async def get_tagging(self, tenant_id: str, bucket: str, key: str, version_id: str | None = None) -> Json:
        """``{tags, object}``: the tags of the latest version (or ``version_id``) and that version."""
        return await self.call("object/tags/get", _versioned({"tenant_id": tenant_id, "bucket": bucket, "key": key},
                                                             version_id))  # fmt: skip

    async def put_tags(self, tenant_id: str, bucket: str, key: str, tags: dict[str, str],
                       version_id: str | None = None) -> Json:  # fmt: skip
        """The version tagged."""
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "tags": tags}
        return (await self.call("object/tags/put", _versioned(body, version_id)))["object"]

    async def delete_tags(self, tenant_id: str, bucket: str, key: str, version_id: str | None = None) -> Json:
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key}
        return (await self.call("object/tags/delete", _versioned(body, version_id)))["object"]

    async def report_bad_piece(
        self, tenant_id: str, node_id: str, piece_id: str, reason: str, *, segment_id: int | None = None,
        piece_number: int | None = None,
    ) -> None:  # fmt: skip
        await self.call(
            "piece/report-bad",
            {"tenant_id": tenant_id, "node_id": node_id, "piece_id": piece_id, "reason": reason,
             "segment_id": segment_id, "piece_number": piece_number},
        )  # fmt: skip

    # --- multipart -----------------------------------------------------------------------

    async def create_upload(self, tenant_id: str, bucket: str, key: str, meta: Json | None = None,
                            checksum_algorithm: str | None = None) -> Json:  # fmt: skip
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "meta": meta or {},
                "checksum_algorithm": checksum_algorithm}  # fmt: skip
        return (await self.call("multipart/create", body))["upload"]

    async def begin_part_segment(self, tenant_id: str, bucket: str, key: str, upload_id: str, part_number: int,
                                 piece_size: int) -> Json:  # fmt: skip
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "upload_id": upload_id,
                "part_number": part_number, "piece_size": piece_size}  # fmt: skip
        return await self.call("multipart/begin-segment", body)

    async def commit_part(
        self,
        tenant_id: str,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        size: int,
        etag: str,
        segments: list[Json],
        checksums: Json | None = None,
    ) -> Json:
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "upload_id": upload_id,
                "part_number": part_number, "size": size, "etag": etag, "segments": segments,
                "checksums": checksums or {}}  # fmt: skip
        return (await self.call("multipart/commit-part", body))["part"]

    async def list_parts(self, tenant_id: str, bucket: str, key: str, upload_id: str, *,
                         part_number_marker: int = 0, max_parts: int = 1000) -> Json:  # fmt: skip
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "upload_id": upload_id,
                "part_number_marker": part_number_marker, "max_parts": max_parts}  # fmt: skip
        return await self.call("multipart/list-parts", body)

    async def list_uploads(self, tenant_id: str, bucket: str, *, prefix: str = "", key_marker: str = "",
                           upload_id_marker: str = "", max_uploads: int = 1000) -> Json:  # fmt: skip
        body = {"tenant_id": tenant_id, "bucket": bucket, "prefix": prefix, "key_marker": key_marker,
                "upload_id_marker": upload_id_marker, "max_uploads": max_uploads}  # fmt: skip
        return await self.call("multipart/list-uploads", body)

    async def complete_upload(self, tenant_id: str, bucket: str, key: str, upload_id: str,
                              parts: list[tuple[int, str]], checksums: Json | None = None,
                              condition: Json | None = None) -> Json:  # fmt: skip
        """A retry of a Complete that succeeded answers the same object (idempotent, as AWS)."""
        body = {"tenant_id": tenant_id, "bucket": bucket, "key": key, "upload_id": upload_id,
                "parts": [{"part_number": n, "etag": e} for n, e in parts], "checksums": checksums or {},
                "condition": condition}  # fmt: skip
        return (await self.call("multipart/complete", body))["object"]

    async def abort_upload(self, tenant_id: str, bucket: str, key: str, upload_id: str) -> None:
        await self.call(
            "multipart/abort", {"tenant_id": tenant_id, "bucket": bucket, "key": key, "upload_id": upload_id}
        )
