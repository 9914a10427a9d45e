"""boto3 against a real gateway, satellite and nodes: what retrying and racing clients rely on.

Idempotent CompleteMultipartUpload, re-sent parts, conditional writes (``If-None-Match: *``,
``If-Match``) on PutObject, CopyObject and CompleteMultipartUpload, and GET/HEAD of one part
(``?partNumber=N``). The races run on SQLite and on PostgreSQL: the condition is checked in
the satellite's commit transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.integration.test_gateway_objects import code
from tests.planet import Planet, fails, planet, status
from tests.s3_requests import error_code, sign
from tests.satellite_fixtures import db_backend, drop_database, fresh_database  # noqa: F401

MIB = 1024 * 1024


async def _body(net: Planet, s3: Any, bucket: str, key: str) -> bytes:
    return (await net.get(s3, Bucket=bucket, Key=key))[1]


async def _multipart(net: Planet, s3: Any, bucket: str, key: str, parts: list[bytes]) -> tuple[str, list[dict]]:
    uid = (await net.s3(s3.create_multipart_upload, Bucket=bucket, Key=key))["UploadId"]
    listed = []
    for n, data in enumerate(parts, 1):
        r = await net.s3(s3.upload_part, Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=data)
        listed.append({"PartNumber": n, "ETag": r["ETag"]})
    return uid, listed


async def test_put_if_none_match_and_if_match_answer_as_aws_and_change_nothing_when_refused(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="cond")
        first = await net.s3(s3.put_object, Bucket="cond", Key="k", Body=b"first", IfNoneMatch="*")
        err = await fails(net, s3.put_object, Bucket="cond", Key="k", Body=b"second", IfNoneMatch="*")
        assert (code(err), status(err)) == ("PreconditionFailed", 412)
        assert err.response["Error"].get("Condition") == "If-None-Match"
        assert await _body(net, s3, "cond", "k") == b"first"
        # If-Match: the current ETag replaces; a stale one is refused; no object at all is NoSuchKey.
        second = await net.s3(s3.put_object, Bucket="cond", Key="k", Body=b"second", IfMatch=first["ETag"])
        err = await fails(net, s3.put_object, Bucket="cond", Key="k", Body=b"third", IfMatch=first["ETag"])
        assert (code(err), status(err), err.response["Error"].get("Condition")) == ("PreconditionFailed", 412,
                                                                                      "If-Match")  # fmt: skip
        assert await _body(net, s3, "cond", "k") == b"second"
        assert (await net.s3(s3.head_object, Bucket="cond", Key="k"))["ETag"] == second["ETag"]
        err = await fails(net, s3.put_object, Bucket="cond", Key="absent", Body=b"x", IfMatch=first["ETag"])
        assert (code(err), status(err)) == ("NoSuchKey", 404)
        # If-None-Match takes only "*" on a write.
        err = await fails(net, s3.put_object, Bucket="cond", Key="other", Body=b"x", IfNoneMatch=second["ETag"])
        assert (code(err), status(err)) == ("NotImplemented", 501)
        listed = await net.s3(s3.list_objects_v2, Bucket="cond")
        assert [o["Key"] for o in listed["Contents"]] == ["k"]


def _race(s3: Any, bucket: str, key: str, bodies: list[bytes]) -> list[tuple[bytes, str]]:
    """PUT every body with If-None-Match: * at once; (body, outcome) per writer."""

    def put(body: bytes) -> tuple[bytes, str]:
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
            return body, "won"
        except ClientError as e:
            return body, code(e)

    with ThreadPoolExecutor(len(bodies)) as pool:
        return list(pool.map(put, bodies))


@pytest.mark.timeout(300)
async def test_sixteen_racing_if_none_match_writers_exactly_one_wins(tmp_path, db_backend):  # noqa: F811
    database, schema = await fresh_database(db_backend, tmp_path)
    try:
        async with planet(tmp_path, database=database) as net:
            s3 = net.client(max_pool_connections=32)
            await net.s3(s3.create_bucket, Bucket="delta")
            for rnd in range(3):  # a few rounds: one lucky interleaving proves little
                key = f"_delta_log/{rnd:020d}.json"
                bodies = [f"writer {i} commits version {rnd}".encode() for i in range(16)]
                outcomes = await asyncio.to_thread(_race, s3, "delta", key, bodies)
                winners = [b for b, o in outcomes if o == "won"]
                assert len(winners) == 1, outcomes
                assert sorted(o for _, o in outcomes if o != "won") == ["PreconditionFailed"] * 15
                assert await _body(net, s3, "delta", key) == winners[0]
    finally:
        await drop_database(database, schema)


async def test_if_match_object_deleted_during_the_upload_is_409_conditional_request_conflict(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        t = net.tenants[0]
        await net.s3(s3.create_bucket, Bucket="cond")
        etag = (await net.s3(s3.put_object, Bucket="cond", Key="k", Body=b"v1"))["ETag"]
        deleted = asyncio.Event()

        # The DELETE must land after the gateway's precheck (before it, 404 NoSuchKey is the right
        # answer). aiohttp resumes the generator only once its write of the first part has drained,
        # and loopback buffers hold a few MiB at most while the gateway does not read: so a 16 MiB
        # first part means the gateway is reading the body, past its precheck, before the DELETE.
        first = 16 << 20

        async def body():  # the body's second half waits until the object is deleted
            yield b"a" * first
            await net.s3(s3.delete_object, Bucket="cond", Key="k")
            deleted.set()
            yield b"b" * 1000

        length = str(first + 1000)
        req = sign("v4", "PUT", f"{net.endpoint}/cond/k", headers={"If-Match": etag, "Content-Length": length},
                   credentials=Credentials(t.access_key, t.secret_key), payload="UNSIGNED-PAYLOAD")  # fmt: skip
        prepared = req.prepare()
        import aiohttp

        async with aiohttp.ClientSession() as session:
            headers = dict(prepared.headers.items())
            async with session.put(prepared.url, headers=headers, data=body(), skip_auto_headers=("Content-Type",)
                                   ) as resp:  # fmt: skip
                answer = await resp.read()
        assert deleted.is_set()
        assert (resp.status, error_code(answer)) == (409, "ConditionalRequestConflict")
        err = await fails(net, s3.head_object, Bucket="cond", Key="k")
        assert status(err) == 404  # the deleted object stays deleted: the conditional PUT stored nothing


async def test_retried_complete_multipart_upload_answers_200_and_the_same_etag(tmp_path):
    async with planet(tmp_path, segment_size=MIB) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="multi")
        parts = [os.urandom(5 * MIB), os.urandom(1000)]
        uid, listed = await _multipart(net, s3, "multi", "big", parts)
        kw = {"Bucket": "multi", "Key": "big", "UploadId": uid, "MultipartUpload": {"Parts": listed}}
        done = await net.s3(s3.complete_multipart_upload, **kw)
        again = await net.s3(s3.complete_multipart_upload, **kw)  # the SDK lost the first answer
        assert again["ETag"] == done["ETag"]
        # A retry with If-None-Match: * is still the same Complete, not a write over an existing key.
        assert (await net.s3(s3.complete_multipart_upload, IfNoneMatch="*", **kw))["ETag"] == done["ETag"]
        assert await _body(net, s3, "multi", "big") == b"".join(parts)
        # Another part list is not a retry of that Complete: the upload is gone.
        err = await fails(net, s3.complete_multipart_upload, Bucket="multi", Key="big", UploadId=uid,
                          MultipartUpload={"Parts": listed[:1]})  # fmt: skip
        assert code(err) == "NoSuchUpload"
        err = await fails(net, s3.complete_multipart_upload, Bucket="multi", Key="other", UploadId=uid,
                          MultipartUpload={"Parts": listed})  # fmt: skip
        assert code(err) == "NoSuchUpload"
        assert (await net.s3(s3.list_multipart_uploads, Bucket="multi")).get("Uploads", []) == []


async def test_racing_completes_of_one_upload_both_succeed_with_one_object(tmp_path):
    async with planet(tmp_path, segment_size=MIB) as net:
        s3 = net.client(max_pool_connections=8)
        await net.s3(s3.create_bucket, Bucket="multi")
        parts = [os.urandom(5 * MIB), b"tail"]
        uid, listed = await _multipart(net, s3, "multi", "k", parts)
        kw = {"Bucket": "multi", "Key": "k", "UploadId": uid, "MultipartUpload": {"Parts": listed}}
        answers = await asyncio.gather(*(net.s3(s3.complete_multipart_upload, **kw) for _ in range(4)))
        assert len({a["ETag"] for a in answers}) == 1
        assert await _body(net, s3, "multi", "k") == b"".join(parts)


async def test_resent_parts_replace_and_parts_complete_in_number_order(tmp_path):
    async with planet(tmp_path, segment_size=MIB) as net:
        s3 = net.client(max_pool_connections=8)
        await net.s3(s3.create_bucket, Bucket="multi")
        uid = (await net.s3(s3.create_multipart_upload, Bucket="multi", Key="k"))["UploadId"]
        p1a, p1b, p2, p3 = os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(5 * MIB), b"last part"

        async def put(n: int, data: bytes) -> str:
            r = await net.s3(s3.upload_part, Bucket="multi", Key="k", UploadId=uid, PartNumber=n, Body=data)
            return str(r["ETag"])

        # Parts finish in the order 3, 2, 1; part 1 is then sent twice at once (a client retry
        # racing its first attempt) and once more with another body.
        e3 = await put(3, p3)
        e2 = await put(2, p2)
        racing = await asyncio.gather(put(1, p1a), put(1, p1a))
        assert racing[0] == racing[1] == f'"{hashlib.md5(p1a).hexdigest()}"'
        e1 = await put(1, p1b)
        listed = await net.s3(s3.list_parts, Bucket="multi", Key="k", UploadId=uid)
        assert [(p["PartNumber"], p["ETag"]) for p in listed["Parts"]] == [(1, e1), (2, e2), (3, e3)]
        # The first body's ETag no longer names part 1.
        err = await fails(net, s3.complete_multipart_upload, Bucket="multi", Key="k", UploadId=uid,
                          MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": racing[0]}]})  # fmt: skip
        assert code(err) == "InvalidPart"
        await net.s3(s3.complete_multipart_upload, Bucket="multi", Key="k", UploadId=uid, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}, {"PartNumber": 3, "ETag": e3}]})  # fmt: skip
        assert await _body(net, s3, "multi", "k") == p1b + p2 + p3


async def test_complete_and_copy_with_conditions_refuse_as_aws_and_keep_the_upload(tmp_path):
    async with planet(tmp_path, segment_size=MIB) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="multi")
        existing = await net.s3(s3.put_object, Bucket="multi", Key="k", Body=b"already here")
        uid, listed = await _multipart(net, s3, "multi", "k", [b"new body"])
        kw = {"Bucket": "multi", "Key": "k", "UploadId": uid, "MultipartUpload": {"Parts": listed}}
        err = await fails(net, s3.complete_multipart_upload, IfNoneMatch="*", **kw)
        assert (code(err), status(err)) == ("PreconditionFailed", 412)
        err = await fails(net, s3.complete_multipart_upload, IfMatch='"0123456789abcdef0123456789abcdef"', **kw)
        assert (code(err), status(err)) == ("PreconditionFailed", 412)
        assert await _body(net, s3, "multi", "k") == b"already here"
        # The refused Complete left the upload as it was: completing it If-Match the current ETag works.
        await net.s3(s3.complete_multipart_upload, IfMatch=existing["ETag"], **kw)
        assert await _body(net, s3, "multi", "k") == b"new body"
        # CopyObject: conditions on the destination.
        src = {"Bucket": "multi", "Key": "k"}
        err = await fails(net, s3.copy_object, Bucket="multi", Key="k", CopySource=src, IfNoneMatch="*",
                          MetadataDirective="REPLACE")  # fmt: skip
        assert (code(err), status(err)) == ("PreconditionFailed", 412)
        await net.s3(s3.copy_object, Bucket="multi", Key="copy", CopySource=src, IfNoneMatch="*")
        err = await fails(net, s3.copy_object, Bucket="multi", Key="copy", CopySource=src, IfNoneMatch="*")
        assert code(err) == "PreconditionFailed"
        err = await fails(net, s3.copy_object, Bucket="multi", Key="nothing", CopySource=src, IfMatch=existing["ETag"])
        assert (code(err), status(err)) == ("NoSuchKey", 404)
        assert await _body(net, s3, "multi", "copy") == b"new body"


async def test_get_and_head_part_number_return_that_part_and_the_parts_count(tmp_path):
    async with planet(tmp_path, segment_size=MIB) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="multi")
        # Part 1 spans several segments; part 3 is short.
        parts = [os.urandom(5 * MIB + 3), os.urandom(5 * MIB), os.urandom(777)]
        uid, listed = await _multipart(net, s3, "multi", "k", parts)
        await net.s3(s3.complete_multipart_upload, Bucket="multi", Key="k", UploadId=uid,
                     MultipartUpload={"Parts": listed})  # fmt: skip
        total = sum(map(len, parts))
        offset = 0
        for n, data in enumerate(parts, 1):
            got, body = await net.get(s3, Bucket="multi", Key="k", PartNumber=n)
            assert body == data
            assert got["PartsCount"] == 3 and got["ContentLength"] == len(data)
            assert got["ContentRange"] == f"bytes {offset}-{offset + len(data) - 1}/{total}"
            assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
            head = await net.s3(s3.head_object, Bucket="multi", Key="k", PartNumber=n)
            assert (head["PartsCount"], head["ContentLength"]) == (3, len(data))
            offset += len(data)
        for call in (s3.get_object, s3.head_object):
            err = await fails(net, call, Bucket="multi", Key="k", PartNumber=4)
            assert status(err) == 416
        err = await fails(net, s3.get_object, Bucket="multi", Key="k", PartNumber=4)
        assert code(err) == "InvalidPartNumber"
        err = await fails(net, s3.get_object, Bucket="multi", Key="k", PartNumber=1, Range="bytes=0-9")
        assert (code(err), status(err)) == ("InvalidRequest", 400)
        # A plain object is one part, and says no parts count.
        await net.s3(s3.put_object, Bucket="multi", Key="plain", Body=b"0123456789")
        got, body = await net.get(s3, Bucket="multi", Key="plain", PartNumber=1)
        assert body == b"0123456789" and "PartsCount" not in got
        err = await fails(net, s3.get_object, Bucket="multi", Key="plain", PartNumber=2)
        assert code(err) == "InvalidPartNumber"
        # Without partNumber, no parts count (AWS sends it only for a part).
        assert "PartsCount" not in await net.s3(s3.head_object, Bucket="multi", Key="k")
