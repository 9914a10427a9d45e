"""S3 versioning end to end: boto3 against a real gateway, satellite and nodes."""

from __future__ import annotations

import asyncio
import os
import re

import pytest
from botocore.exceptions import ClientError

from tests.planet import Planet, fails, planet, status
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

SEGMENT = 64 * 1024
VERSION_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")


def code(err: ClientError) -> str:
    return str(err.response["Error"]["Code"])


def headers(answer: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return dict(answer["ResponseMetadata"]["HTTPHeaders"])


async def enable(net: Planet, s3, bucket: str, status_: str = "Enabled") -> None:  # type: ignore[no-untyped-def]
    await net.s3(s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": status_})


async def versions(net: Planet, s3, bucket: str, **kw) -> list[tuple[str, str, bool, bool]]:  # type: ignore[no-untyped-def]
    """Every (key, version id, is latest, is delete marker) in listing order, through the paginator."""
    out: list[tuple[str, str, bool, bool]] = []

    def run() -> None:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, **kw):
            entries = [(v, False) for v in page.get("Versions", [])] + [(d, True) for d in page.get("DeleteMarkers", [])]
            # boto3 splits the two element kinds; their order in the page is key, then newest first.
            entries.sort(key=lambda e: (e[0]["Key"], -e[0]["LastModified"].timestamp()))
            out.extend((e["Key"], e["VersionId"], e["IsLatest"], m) for e, m in entries)

    await asyncio.to_thread(run)
    return out


async def test_versioning_status_round_trips_and_bad_documents_change_nothing(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vbk")
        got = await net.s3(s3.get_bucket_versioning, Bucket="vbk")
        assert "Status" not in got and "MFADelete" not in got  # never versioned: an empty configuration
        for body in (b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>",
                     b"<VersioningConfiguration/>", b"not xml", b"<Other><Status>Enabled</Status></Other>"):
            err = await _raw_put_versioning(net, s3, body)
            assert (code(err), status(err)) == ("MalformedXML", 400), body
        err = await fails(net, s3.put_bucket_versioning, Bucket="vbk",
                          VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}, MFA="dev 123456")
        assert (code(err), status(err)) == ("NotImplemented", 501)
        assert "Status" not in await net.s3(s3.get_bucket_versioning, Bucket="vbk")  # nothing changed
        await enable(net, s3, "vbk")
        assert (await net.s3(s3.get_bucket_versioning, Bucket="vbk"))["Status"] == "Enabled"
        await enable(net, s3, "vbk", "Suspended")
        assert (await net.s3(s3.get_bucket_versioning, Bucket="vbk"))["Status"] == "Suspended"
        err = await fails(net, s3.put_bucket_versioning, Bucket="nobucket", VersioningConfiguration={"Status": "Enabled"})
        assert code(err) == "NoSuchBucket"
        other = net.client(1)
        err = await fails(net, other.put_bucket_versioning, Bucket="vbk", VersioningConfiguration={"Status": "Enabled"})
        assert code(err) == "AccessDenied"
        assert (await net.s3(s3.get_bucket_versioning, Bucket="vbk"))["Status"] == "Suspended"


async def _raw_put_versioning(net: Planet, s3, body: bytes) -> ClientError:  # type: ignore[no-untyped-def]
    """PutBucketVersioning with ``body`` as sent (boto3 would only send valid documents)."""

    def swap(request, **_):  # type: ignore[no-untyped-def]
        request.data = body
        request.headers["Content-Length"] = str(len(body))
        for name in ("Content-MD5", "x-amz-checksum-crc32", "x-amz-sdk-checksum-algorithm"):
            if name in request.headers:
                del request.headers[name]

    s3.meta.events.register("before-sign.s3.PutBucketVersioning", swap)
    try:
        return await fails(net, s3.put_bucket_versioning, Bucket="vbk", VersioningConfiguration={"Status": "Enabled"})
    finally:
        s3.meta.events.unregister("before-sign.s3.PutBucketVersioning", swap)


async def test_enabled_bucket_keeps_every_version_readable_by_id(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, database=db, segment_size=SEGMENT) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await net.s3(s3.put_object, Bucket="vers", Key="k", Body=b"before")  # the null version
        await enable(net, s3, "vers")
        bodies = [b"one", os.urandom(SEGMENT + 5), b""]
        ids = []
        for body in bodies:
            put = await net.s3(s3.put_object, Bucket="vers", Key="k", Body=body)
            assert VERSION_ID.match(put["VersionId"]), put["VersionId"]
            ids.append(put["VersionId"])
        assert len(set(ids)) == 3
        got, body = await net.get(s3, Bucket="vers", Key="k")
        assert (body, got["VersionId"]) == (b"", ids[-1])
        for vid, expected in zip(ids, bodies, strict=True):
            got, body = await net.get(s3, Bucket="vers", Key="k", VersionId=vid)
            assert (body, got["VersionId"]) == (expected, vid)
            head = await net.s3(s3.head_object, Bucket="vers", Key="k", VersionId=vid)
            assert (head["ContentLength"], head["VersionId"]) == (len(expected), vid)
        got, body = await net.get(s3, Bucket="vers", Key="k", VersionId="null")
        assert (body, got["VersionId"]) == (b"before", "null")
        assert await versions(net, s3, "vers") == [("k", v, v == ids[-1], False) for v in [*reversed(ids), "null"]]
        listed = await net.s3(s3.list_objects_v2, Bucket="vers")
        assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [("k", 0)]


async def test_delete_markers_hide_the_key_and_deleting_them_restores_it(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await enable(net, s3, "vers")
        v1 = (await net.s3(s3.put_object, Bucket="vers", Key="dir/k", Body=b"v1"))["VersionId"]
        gone = await net.s3(s3.delete_object, Bucket="vers", Key="dir/k")
        marker = gone["VersionId"]
        assert gone["DeleteMarker"] is True and VERSION_ID.match(marker) and marker != v1
        err = await fails(net, s3.get_object, Bucket="vers", Key="dir/k")
        assert (code(err), status(err)) == ("NoSuchKey", 404)
        assert err.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
        err = await fails(net, s3.head_object, Bucket="vers", Key="dir/k")
        assert status(err) == 404 and err.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
        for call in (s3.get_object, s3.head_object):
            err = await fails(net, call, Bucket="vers", Key="dir/k", VersionId=marker)
            assert status(err) == 405
            assert err.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
        err = await fails(net, s3.get_object, Bucket="vers", Key="dir/k", VersionId=marker)
        assert code(err) == "MethodNotAllowed"
        # A prefix holding only delete-marked keys is no common prefix, and the key is not listed.
        listed = await net.s3(s3.list_objects_v2, Bucket="vers", Delimiter="/")
        assert "Contents" not in listed and "CommonPrefixes" not in listed
        assert "Contents" not in await net.s3(s3.list_objects_v2, Bucket="vers")
        assert (await net.get(s3, Bucket="vers", Key="dir/k", VersionId=v1))[1] == b"v1"
        assert await versions(net, s3, "vers") == [("dir/k", marker, True, True), ("dir/k", v1, False, False)]
        # Deleting the marker for good makes v1 the latest again.
        removed = await net.s3(s3.delete_object, Bucket="vers", Key="dir/k", VersionId=marker)
        assert (removed["VersionId"], removed["DeleteMarker"]) == (marker, True)
        got, body = await net.get(s3, Bucket="vers", Key="dir/k")
        assert (body, got["VersionId"]) == (b"v1", v1)
        listed = await net.s3(s3.list_objects_v2, Bucket="vers", Delimiter="/")
        assert [p["Prefix"] for p in listed["CommonPrefixes"]] == ["dir/"]
        # Deleting the last version for good leaves the key without any version.
        removed = await net.s3(s3.delete_object, Bucket="vers", Key="dir/k", VersionId=v1)
        assert removed["VersionId"] == v1 and "DeleteMarker" not in removed
        assert await versions(net, s3, "vers") == []
        err = await fails(net, s3.get_object, Bucket="vers", Key="dir/k")
        assert code(err) == "NoSuchKey" and "x-amz-delete-marker" not in err.response["ResponseMetadata"]["HTTPHeaders"]


async def test_unknown_and_malformed_version_ids_get_aws_errors(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await enable(net, s3, "vers")
        await net.s3(s3.put_object, Bucket="vers", Key="k", Body=b"x")
        unknown = "A" * 32
        for call in (s3.get_object, s3.head_object, s3.get_object_tagging):
            err = await fails(net, call, Bucket="vers", Key="k", VersionId=unknown)
            assert status(err) == 404, call
            if call.__name__ != "head_object":
                assert code(err) == "NoSuchVersion"
        for bad in ("abc", "3HL4kqtJlcpXroDTDmJ+", "A" * 33):
            for call in (s3.get_object, s3.delete_object, s3.get_object_tagging):
                err = await fails(net, call, Bucket="vers", Key="k", VersionId=bad)
                assert (code(err), status(err)) == ("InvalidArgument", 400)
                assert err.response["Error"]["Message"] == "Invalid version id specified"
        assert len(await versions(net, s3, "vers")) == 1  # nothing was deleted


async def test_suspended_bucket_replaces_only_the_null_version(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await net.s3(s3.put_object, Bucket="vers", Key="k", Body=b"null-1")
        await enable(net, s3, "vers")
        v1 = (await net.s3(s3.put_object, Bucket="vers", Key="k", Body=b"v1"))["VersionId"]
        await enable(net, s3, "vers", "Suspended")
        put = await net.s3(s3.put_object, Bucket="vers", Key="k", Body=b"null-2")
        assert put["VersionId"] == "null"
        assert await versions(net, s3, "vers") == [("k", "null", True, False), ("k", v1, False, False)]
        assert (await net.get(s3, Bucket="vers", Key="k", VersionId="null"))[1] == b"null-2"
        gone = await net.s3(s3.delete_object, Bucket="vers", Key="k")
        assert (gone["VersionId"], gone["DeleteMarker"]) == ("null", True)
        assert await versions(net, s3, "vers") == [("k", "null", True, True), ("k", v1, False, False)]
        assert (await net.get(s3, Bucket="vers", Key="k", VersionId=v1))[1] == b"v1"


async def test_unversioned_buckets_name_no_versions(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="plain")
        put = await net.s3(s3.put_object, Bucket="plain", Key="k", Body=b"x")
        assert "VersionId" not in put
        got, _ = await net.get(s3, Bucket="plain", Key="k")
        assert "VersionId" not in got
        gone = await net.s3(s3.delete_object, Bucket="plain", Key="k")
        assert "VersionId" not in gone and "DeleteMarker" not in gone
        assert await versions(net, s3, "plain") == []
        await net.s3(s3.put_object, Bucket="plain", Key="k", Body=b"y")
        await net.s3(s3.put_object, Bucket="plain", Key="k", Body=b"z")  # replaces: one null version
        assert await versions(net, s3, "plain") == [("k", "null", True, False)]
