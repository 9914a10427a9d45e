"""S3 versioning end to end: boto3 against a real gateway, satellite and nodes."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import re
import threading

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
            entries = [(v, False) for v in page.get("Versions", [])]
            entries += [(d, True) for d in page.get("DeleteMarkers", [])]
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
        err = await fails(net, s3.put_bucket_versioning, Bucket="nobucket",
                          VersioningConfiguration={"Status": "Enabled"})
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
            attrs = await net.s3(s3.get_object_attributes, Bucket="vers", Key="k", VersionId=vid,
                                 ObjectAttributes=["ObjectSize"])  # fmt: skip
            assert (attrs["ObjectSize"], attrs["VersionId"]) == (len(expected), vid)
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


async def _history(net: Planet, s3) -> list[tuple[str, str, bool, bool]]:  # type: ignore[no-untyped-def]
    """Keys with many versions and delete markers, some under common prefixes; the expected listing."""
    await net.s3(s3.create_bucket, Bucket="hist")
    await enable(net, s3, "hist")
    expected: list[tuple[str, str, bool, bool]] = []
    for key, count in (("a", 5), ("b/1", 3), ("b/2", 1), ("c d+é", 4), ("e/f/g", 2), ("z", 1)):
        made = []
        for i in range(count):
            if key in ("c d+é", "b/2") and i == count - 1:
                made.append(((await net.s3(s3.delete_object, Bucket="hist", Key=key))["VersionId"], True))
            else:
                made.append(((await net.s3(s3.put_object, Bucket="hist", Key=key, Body=b"%d" % i))["VersionId"], False))
        expected.extend((key, vid, i == 0, marker) for i, (vid, marker) in enumerate(reversed(made)))
    return expected


async def _pages(net: Planet, s3, **kw) -> tuple[list[tuple[str, str, bool, bool]], list[str], int]:  # type: ignore[no-untyped-def]
    """ListObjectVersions page by page with the raw markers: entries, prefixes, pages."""
    entries: list[tuple[str, str, bool, bool]] = []
    prefixes: list[str] = []
    pages = 0
    marker: dict[str, str] = {}
    while True:
        page = await net.s3(s3.list_object_versions, Bucket="hist", **kw, **marker)
        pages += 1
        got = [(v, False) for v in page.get("Versions", [])] + [(d, True) for d in page.get("DeleteMarkers", [])]
        got.sort(key=lambda e: (e[0]["Key"], -e[0]["LastModified"].timestamp()))
        entries.extend((e["Key"], e["VersionId"], e["IsLatest"], m) for e, m in got)
        prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        if not page["IsTruncated"]:
            return entries, prefixes, pages
        marker = {"KeyMarker": page["NextKeyMarker"]}
        if "NextVersionIdMarker" in page:
            marker["VersionIdMarker"] = page["NextVersionIdMarker"]
        assert pages < 100


async def test_list_object_versions_paginates_at_any_page_size(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        expected = await _history(net, s3)
        assert len(expected) == 16
        assert await versions(net, s3, "hist") == expected
        for size in (1, 3, 1000):
            entries, prefixes, pages = await _pages(net, s3, MaxKeys=size)
            assert (entries, prefixes) == (expected, []), size
            assert pages == -(-16 // size), size
        assert await versions(net, s3, "hist", PaginationConfig={"PageSize": 2}) == expected
        # With a delimiter, each common prefix once, however many versions its keys hold.
        top = [e for e in expected if "/" not in e[0]]
        for size in (1, 3, 1000):
            entries, prefixes, _ = await _pages(net, s3, Delimiter="/", MaxKeys=size)
            assert (entries, prefixes) == (top, ["b/", "e/"]), size
        entries, prefixes, _ = await _pages(net, s3, Prefix="b/", MaxKeys=1)
        assert (entries, prefixes) == ([e for e in expected if e[0].startswith("b/")], [])
        entries, prefixes, _ = await _pages(net, s3, Prefix="e/", Delimiter="/", MaxKeys=1)
        assert (entries, prefixes) == ([], ["e/f/"])
        page = await net.s3(s3.list_object_versions, Bucket="hist", Prefix="c", EncodingType="url")
        assert {d["Key"] for d in page["DeleteMarkers"]} == {"c%20d%2B%C3%A9"}  # asked for by the caller: as sent
        raw = await _raw_list(net, s3, "versions&encoding-type=url&prefix=c")
        assert b"<Key>c%20d%2B%C3%A9</Key>" in raw and b"<EncodingType>url</EncodingType>" in raw
        page = await net.s3(s3.list_object_versions, Bucket="hist", MaxKeys=2)
        assert page["MaxKeys"] == 2 and page["IsTruncated"] and page["NextKeyMarker"] == "a"
        assert page["Versions"][0]["Owner"]["ID"] and page["Versions"][0]["StorageClass"] == "STANDARD"
        assert page["Versions"][0]["ETag"] == f'"{hashlib.md5(b"4").hexdigest()}"'
        err = await fails(net, s3.list_object_versions, Bucket="hist", VersionIdMarker=expected[0][1])
        assert (code(err), status(err)) == ("InvalidArgument", 400)


async def _raw_list(net: Planet, s3, query: str) -> bytes:  # type: ignore[no-untyped-def]
    """A signed GET of ``/hist?<query>``, its body as sent."""
    import botocore.auth
    import botocore.awsrequest
    import requests

    creds = s3._request_signer._credentials
    req = botocore.awsrequest.AWSRequest(method="GET", url=f"{net.endpoint}/hist?{query}")
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    resp = await asyncio.to_thread(requests.get, req.url, headers=dict(req.headers), timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.content


async def test_delete_objects_with_version_ids_reports_markers_as_aws(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await enable(net, s3, "vers")
        a1 = (await net.s3(s3.put_object, Bucket="vers", Key="a", Body=b"1"))["VersionId"]
        a2 = (await net.s3(s3.put_object, Bucket="vers", Key="a", Body=b"2"))["VersionId"]
        await net.s3(s3.put_object, Bucket="vers", Key="b", Body=b"b")
        marker = (await net.s3(s3.delete_object, Bucket="vers", Key="c"))["VersionId"]  # a marker, no object ever
        answer = await net.s3(s3.delete_objects, Bucket="vers", Delete={"Objects": [
            {"Key": "a", "VersionId": a1}, {"Key": "b"}, {"Key": "c", "VersionId": marker},
            {"Key": "d", "VersionId": "bad"},
        ]})  # fmt: skip
        deleted = {d["Key"]: d for d in answer["Deleted"]}
        assert deleted["a"] == {"Key": "a", "VersionId": a1}
        assert deleted["b"]["DeleteMarker"] is True and VERSION_ID.match(deleted["b"]["DeleteMarkerVersionId"])
        assert deleted["c"] == {"Key": "c", "VersionId": marker, "DeleteMarker": True, "DeleteMarkerVersionId": marker}
        assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("d", "InvalidArgument")]
        listed = await versions(net, s3, "vers")
        assert [(k, latest, m) for k, _, latest, m in listed] == [("a", True, False), ("b", True, True),
                                                                  ("b", False, False)]  # c's marker is gone
        assert listed[0][1] == a2 and listed[1][1] == deleted["b"]["DeleteMarkerVersionId"]


async def test_copy_tagging_and_multipart_name_their_versions(tmp_path) -> None:
    async with planet(tmp_path, segment_size=SEGMENT) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await enable(net, s3, "vers")
        v1 = (await net.s3(s3.put_object, Bucket="vers", Key="src", Body=b"first"))["VersionId"]
        await net.s3(s3.put_object, Bucket="vers", Key="src", Body=b"second")
        copied = await net.s3(s3.copy_object, Bucket="vers", Key="dst", CopySource={"Bucket": "vers", "Key": "src",
                                                                                    "VersionId": v1})  # fmt: skip
        assert copied["CopySourceVersionId"] == v1 and VERSION_ID.match(copied["VersionId"])
        got, body = await net.get(s3, Bucket="vers", Key="dst")
        assert (body, got["VersionId"]) == (b"first", copied["VersionId"])
        err = await fails(net, s3.copy_object, Bucket="vers", Key="dst",
                          CopySource={"Bucket": "vers", "Key": "src", "VersionId": "B" * 32})
        assert code(err) == "NoSuchVersion"
        # Tagging one version leaves the others' tags alone.
        tagged = await net.s3(s3.put_object_tagging, Bucket="vers", Key="src", VersionId=v1,
                              Tagging={"TagSet": [{"Key": "t", "Value": "old"}]})  # fmt: skip
        assert tagged["VersionId"] == v1
        got = await net.s3(s3.get_object_tagging, Bucket="vers", Key="src", VersionId=v1)
        assert (got["TagSet"], got["VersionId"]) == ([{"Key": "t", "Value": "old"}], v1)
        assert (await net.s3(s3.get_object_tagging, Bucket="vers", Key="src"))["TagSet"] == []
        await net.s3(s3.delete_object_tagging, Bucket="vers", Key="src", VersionId=v1)
        assert (await net.s3(s3.get_object_tagging, Bucket="vers", Key="src", VersionId=v1))["TagSet"] == []
        acl = await net.s3(s3.get_object_acl, Bucket="vers", Key="src", VersionId=v1)
        assert acl["Grants"][0]["Permission"] == "FULL_CONTROL"
        err = await fails(net, s3.get_object_acl, Bucket="vers", Key="src", VersionId="C" * 32)
        assert code(err) == "NoSuchVersion"
        # Multipart Complete makes a version; UploadPartCopy reads a source version.
        up = await net.s3(s3.create_multipart_upload, Bucket="vers", Key="mp")
        part = await net.s3(s3.upload_part_copy, Bucket="vers", Key="mp", UploadId=up["UploadId"], PartNumber=1,
                            CopySource={"Bucket": "vers", "Key": "src", "VersionId": v1})  # fmt: skip
        done = await net.s3(s3.complete_multipart_upload, Bucket="vers", Key="mp", UploadId=up["UploadId"],
                            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
        assert VERSION_ID.match(done["VersionId"])
        got, body = await net.get(s3, Bucket="vers", Key="mp", VersionId=done["VersionId"])
        assert body == b"first"
        # A delete marker has no tags.
        marker = (await net.s3(s3.delete_object, Bucket="vers", Key="src"))["VersionId"]
        err = await fails(net, s3.get_object_tagging, Bucket="vers", Key="src", VersionId=marker)
        assert status(err) == 405
        err = await fails(net, s3.get_object_tagging, Bucket="vers", Key="src")
        assert code(err) == "NoSuchKey"
        # A copy source naming a delete marker is refused as AWS refuses it; the latest being one is NoSuchKey.
        for call, extra in ((s3.copy_object, {}), (s3.upload_part_copy, {"PartNumber": 1})):
            if extra:
                extra["UploadId"] = (await net.s3(s3.create_multipart_upload, Bucket="vers", Key="mp2"))["UploadId"]
            err = await fails(net, call, Bucket="vers", Key="mp2" if extra else "dst2",
                              CopySource={"Bucket": "vers", "Key": "src", "VersionId": marker}, **extra)
            assert (code(err), status(err)) == ("InvalidRequest", 400)
        err = await fails(net, s3.copy_object, Bucket="vers", Key="dst2", CopySource={"Bucket": "vers", "Key": "src"})
        assert code(err) == "NoSuchKey"


async def test_conditional_writes_see_a_delete_marker_as_no_object(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await enable(net, s3, "vers")
        put = await net.s3(s3.put_object, Bucket="vers", Key="k", Body=b"1")
        err = await fails(net, s3.put_object, Bucket="vers", Key="k", Body=b"2", IfNoneMatch="*")
        assert status(err) == 412
        await net.s3(s3.delete_object, Bucket="vers", Key="k")
        err = await fails(net, s3.put_object, Bucket="vers", Key="k", Body=b"2", IfMatch=put["ETag"])
        assert status(err) == 404  # If-Match on a key without an object, as AWS answers
        again = await net.s3(s3.put_object, Bucket="vers", Key="k", Body=b"3", IfNoneMatch="*")
        assert (await net.get(s3, Bucket="vers", Key="k"))[1] == b"3"
        assert (await versions(net, s3, "vers"))[0][1] == again["VersionId"]


async def test_a_bucket_holding_only_old_versions_or_markers_is_not_empty(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vers")
        await enable(net, s3, "vers")
        v = (await net.s3(s3.put_object, Bucket="vers", Key="k", Body=b"1"))["VersionId"]
        marker = (await net.s3(s3.delete_object, Bucket="vers", Key="k"))["VersionId"]
        assert "Contents" not in await net.s3(s3.list_objects_v2, Bucket="vers")
        err = await fails(net, s3.delete_bucket, Bucket="vers")
        assert (code(err), status(err)) == ("BucketNotEmpty", 409)
        await net.s3(s3.delete_object, Bucket="vers", Key="k", VersionId=v)
        err = await fails(net, s3.delete_bucket, Bucket="vers")  # the marker alone still holds it
        assert code(err) == "BucketNotEmpty"
        await net.s3(s3.delete_object, Bucket="vers", Key="k", VersionId=marker)
        await net.s3(s3.delete_bucket, Bucket="vers")


async def test_sixteen_racing_writers_each_leave_one_listed_version(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, database=db) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="race")
        await enable(net, s3, "race")
        start = threading.Barrier(16)

        def write(i: int) -> dict:  # type: ignore[type-arg]
            start.wait(timeout=30)  # all 16 requests leave at once
            return s3.put_object(Bucket="race", Key="k", Body=b"writer %02d" % i)

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            puts = await asyncio.gather(*(asyncio.wrap_future(pool.submit(write, i)) for i in range(16)))
        acked = {p["VersionId"]: p["ETag"] for p in puts}
        assert len(acked) == 16
        listed = await versions(net, s3, "race")
        assert sorted(v[1] for v in listed) == sorted(acked)  # each exactly once
        assert [v[2] for v in listed] == [True] + [False] * 15
        for vid, etag in acked.items():
            assert (await net.s3(s3.head_object, Bucket="race", Key="k", VersionId=vid))["ETag"] == etag


async def test_lifecycle_expiry_in_a_versioned_bucket_leaves_a_delete_marker(tmp_path) -> None:
    """AWS's Expiration on a versioned bucket: the current version becomes noncurrent under a
    delete marker, nothing is deleted for good, and a key already delete-marked is left alone."""
    day = 1
    async with planet(tmp_path, satellite_config={"lifecycle_day_seconds": day, "lifecycle_batch_size": 2},
                      lifecycle_day_seconds=day) as net:  # fmt: skip
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="life")
        await enable(net, s3, "life")
        made = {k: [(await net.s3(s3.put_object, Bucket="life", Key=k, Body=b"%d" % i))["VersionId"]
                    for i in range(2)] for k in ("tmp/a", "tmp/b", "keep/c")}  # fmt: skip
        gone = (await net.s3(s3.delete_object, Bucket="life", Key="tmp/b"))["VersionId"]
        rules = [{"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}}]
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life", LifecycleConfiguration={"Rules": rules})
        sat = net.satellite
        async with asyncio.timeout(30):
            while True:
                listed = await net.s3(s3.list_objects_v2, Bucket="life")
                if [o["Key"] for o in listed.get("Contents", [])] == ["keep/c"]:
                    break
                await sat.lifecycle.run_once()
                await asyncio.sleep(0.2)
        after = await versions(net, s3, "life")
        a = [(v, latest, m) for k, v, latest, m in after if k == "tmp/a"]
        assert len(a) == 3 and a[0][1:] == (True, True) and [v for v, _, _ in a[1:]] == list(reversed(made["tmp/a"]))
        assert [(v, m) for k, v, _, m in after if k == "tmp/b"] == [(gone, True), *((v, False) for v in
                                                                    reversed(made["tmp/b"]))]  # fmt: skip
        assert (await net.get(s3, Bucket="life", Key="tmp/a", VersionId=made["tmp/a"][1]))[1] == b"1"


async def test_reading_or_listing_old_versions_needs_the_version_actions(tmp_path) -> None:
    """As on AWS: a policy granting s3:GetObject opens the current version only; old versions
    need s3:GetObjectVersion, and listing them s3:ListBucketVersions."""
    from tests.integration.test_gateway_access_acls import anonymous
    from tests.integration.test_gateway_access_policies import allow, doc

    async with planet(tmp_path) as net:
        s3, anon = net.client(), anonymous(net)
        await net.s3(s3.create_bucket, Bucket="pub")
        await enable(net, s3, "pub")
        old = (await net.s3(s3.put_object, Bucket="pub", Key="k", Body=b"old"))["VersionId"]
        await net.s3(s3.put_object, Bucket="pub", Key="k", Body=b"new")
        await net.s3(s3.put_bucket_policy, Bucket="pub", Policy=doc(allow("pub")))
        assert (await net.get(anon, Bucket="pub", Key="k"))[1] == b"new"
        assert code(await fails(net, anon.get_object, Bucket="pub", Key="k", VersionId=old)) == "AccessDenied"
        assert code(await fails(net, anon.list_object_versions, Bucket="pub")) == "AccessDenied"
        await net.s3(s3.put_bucket_policy, Bucket="pub", Policy=doc(
            allow("pub", action=["s3:GetObject", "s3:GetObjectVersion"]),
            allow("pub", "", action="s3:ListBucketVersions")))  # fmt: skip
        assert (await net.get(anon, Bucket="pub", Key="k", VersionId=old))[1] == b"old"
        assert [v[1] for v in await versions(net, anon, "pub")][1] == old


async def test_put_object_acl_with_a_version_id_sets_that_versions_acl_only(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="vacl", ObjectOwnership="BucketOwnerPreferred")
        await enable(net, s3, "vacl")
        v1 = (await net.s3(s3.put_object, Bucket="vacl", Key="k", Body=b"one"))["VersionId"]
        v2 = (await net.s3(s3.put_object, Bucket="vacl", Key="k", Body=b"two"))["VersionId"]
        put = await net.s3(s3.put_object_acl, Bucket="vacl", Key="k", VersionId=v1, ACL="public-read")
        assert headers(put)["x-amz-version-id"] == v1

        def public(acl: dict) -> bool:  # type: ignore[type-arg]
            return any(g["Grantee"].get("URI", "").endswith("/AllUsers") for g in acl["Grants"])

        assert public(await net.s3(s3.get_object_acl, Bucket="vacl", Key="k", VersionId=v1))
        assert not public(await net.s3(s3.get_object_acl, Bucket="vacl", Key="k", VersionId=v2))
        assert not public(await net.s3(s3.get_object_acl, Bucket="vacl", Key="k"))
        err = await fails(net, s3.put_object_acl, Bucket="vacl", Key="k", VersionId="D" * 32, ACL="public-read")
        assert code(err) == "NoSuchVersion"
