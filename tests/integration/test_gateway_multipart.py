"""boto3 against a real gateway, satellite and nodes: multipart, copies, and bad input."""

from __future__ import annotations

import asyncio
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_gateway_objects import code
from tests.planet import planet

MIB = 1024 * 1024


async def test_multipart_upload_etag_list_and_abort(tmp_path):
    async with planet(tmp_path, segment_size=MIB) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="multi")
        up = await net.s3(s3.create_multipart_upload, Bucket="multi", Key="big", ContentType="video/mp4")
        uid = up["UploadId"]
        parts_data = [os.urandom(5 * MIB), os.urandom(123_457)]
        etags = []
        for n, data in enumerate(parts_data, 1):
            r = await net.s3(s3.upload_part, Bucket="multi", Key="big", UploadId=uid, PartNumber=n, Body=data)
            etags.append(r["ETag"])
        listed = await net.s3(s3.list_parts, Bucket="multi", Key="big", UploadId=uid)
        assert [p["ETag"] for p in listed["Parts"]] == etags
        uploads = await net.s3(s3.list_multipart_uploads, Bucket="multi")
        assert [u["UploadId"] for u in uploads["Uploads"]] == [uid]
        done = await net.s3(s3.complete_multipart_upload, Bucket="multi", Key="big", UploadId=uid,
                            MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
        md5s = b"".join(hashlib.md5(d).digest() for d in parts_data)
        assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-2"'
        got, body = await net.get(s3, Bucket="multi", Key="big")
        assert body == b"".join(parts_data) and got["ContentType"] == "video/mp4"
        # LIST quotes the multipart ETag as GET, HEAD and Complete do (it is stored bare).
        listed_objects = await net.s3(s3.list_objects_v2, Bucket="multi")
        assert [o["ETag"] for o in listed_objects["Contents"]] == [done["ETag"]] == [got["ETag"]]
        # Abort: the upload disappears.
        up2 = await net.s3(s3.create_multipart_upload, Bucket="multi", Key="gone")
        await net.s3(s3.abort_multipart_upload, Bucket="multi", Key="gone", UploadId=up2["UploadId"])
        with pytest.raises(ClientError) as e:
            await net.s3(s3.list_parts, Bucket="multi", Key="gone", UploadId=up2["UploadId"])
        assert code(e.value) == "NoSuchUpload"


async def test_entity_too_small_and_wrong_part_etag(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="multi")
        uid = (await net.s3(s3.create_multipart_upload, Bucket="multi", Key="k"))["UploadId"]
        etags = [(await net.s3(s3.upload_part, Bucket="multi", Key="k", UploadId=uid, PartNumber=n,
                               Body=b"x" * 1000))["ETag"] for n in (1, 2)]  # fmt: skip
        parts = [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]
        with pytest.raises(ClientError) as e:
            await net.s3(s3.complete_multipart_upload, Bucket="multi", Key="k", UploadId=uid,
                         MultipartUpload={"Parts": parts})  # fmt: skip
        assert code(e.value) == "EntityTooSmall"
        with pytest.raises(ClientError) as e:
            await net.s3(s3.complete_multipart_upload, Bucket="multi", Key="k", UploadId=uid,
                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]})  # fmt: skip
        assert code(e.value) == "InvalidPart"


async def test_copy_object_within_and_across_buckets_and_upload_part_copy(tmp_path):
    # Ten nodes: four in "na", enough for 2/3/3/4 there, so the cross-policy copy can be placed.
    async with planet(tmp_path, nodes=10, scheme="2/3/3/4") as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="src-bkt")
        await net.s3(s3.create_bucket, Bucket="dst-bkt", CreateBucketConfiguration={"LocationConstraint": "na"})
        data = os.urandom(600_000)
        await net.s3(s3.put_object, Bucket="src-bkt", Key="key with spaces ü", Body=data, Metadata={"a": "1"})
        src = {"Bucket": "src-bkt", "Key": "key with spaces ü"}
        await net.s3(s3.copy_object, Bucket="src-bkt", Key="same-bucket", CopySource=src)
        got, body = await net.get(s3, Bucket="src-bkt", Key="same-bucket")
        assert body == data and got["Metadata"] == {"a": "1"}
        # Another bucket (another bucket key) under a policy the source's nodes may not satisfy.
        await net.s3(s3.copy_object, Bucket="dst-bkt", Key="copy", CopySource=src, MetadataDirective="REPLACE",
                     Metadata={"b": "2"})  # fmt: skip
        got, body = await net.get(s3, Bucket="dst-bkt", Key="copy")
        assert body == data and got["Metadata"] == {"b": "2"}
        with pytest.raises(ClientError) as e:
            await net.s3(s3.copy_object, Bucket="src-bkt", Key="x", CopySource=src, CopySourceIfMatch='"nope"')
        assert code(e.value) == "PreconditionFailed"
        uid = (await net.s3(s3.create_multipart_upload, Bucket="dst-bkt", Key="assembled"))["UploadId"]
        part = await net.s3(s3.upload_part_copy, Bucket="dst-bkt", Key="assembled", UploadId=uid, PartNumber=1,
                            CopySource=src, CopySourceRange="bytes=1000-200999")  # fmt: skip
        assert part["CopyPartResult"]["ETag"] == f'"{hashlib.md5(data[1000:201000]).hexdigest()}"'


async def test_missing_content_length_and_client_disconnect_keep_old_version(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="safe")
        await net.s3(s3.put_object, Bucket="safe", Key="k", Body=b"old version")
        # A presigned PUT sent by hand: chunked with no length, then one that stops halfway.
        url = await net.s3(s3.generate_presigned_url, "put_object", Params={"Bucket": "safe", "Key": "k"})
        host, port = net.gateway.url.removeprefix("http://").split(":")
        path = url.split(port, 1)[1]

        async def raw(request: bytes, *, close_early: bool) -> bytes:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(request)
            await writer.drain()
            if close_early:
                await asyncio.sleep(0.3)
                writer.transport.abort()
                return b""
            answer = await reader.read(65536)
            writer.close()
            return answer

        answer = await raw(f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "5\r\nhello\r\n0\r\n\r\n".encode(), close_early=False)  # fmt: skip
        assert b" 411 " in answer.split(b"\r\n")[0] and b"MissingContentLength" in answer
        body = os.urandom(1_000_000)
        await raw(f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                  + body[: len(body) // 2], close_early=True)  # fmt: skip
        await asyncio.sleep(0.3)
        assert (await net.get(s3, Bucket="safe", Key="k"))[1] == b"old version"
        listed = await net.s3(s3.list_objects_v2, Bucket="safe")
        assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [("k", 11)]


async def test_placement_failure_is_503_naming_the_policy(tmp_path):
    # Five nodes: the default scheme 2/3/4/5 fits "global", but "eu" has only three nodes.
    async with planet(tmp_path, nodes=5) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="eu-only", CreateBucketConfiguration={"LocationConstraint": "eu"})
        with pytest.raises(ClientError) as e:
            await net.s3(s3.put_object, Bucket="eu-only", Key="k", Body=os.urandom(100_000))
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert code(e.value) == "ServiceUnavailable" and "eu" in e.value.response["Error"]["Message"]
