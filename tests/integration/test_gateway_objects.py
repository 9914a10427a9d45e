"""boto3 against a real gateway, satellite and nodes: objects end to end."""

from __future__ import annotations

import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from tests.planet import planet

SEGMENT = 256 * 1024


def code(err: ClientError) -> str:
    return str(err.response["Error"]["Code"])


async def test_put_get_head_round_trip_with_metadata(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="photos")
        for size in (0, 1, 4080, 4081, SEGMENT + 17, 3 * SEGMENT + 5):
            data = os.urandom(size)
            key = f"dir/file {size}.bin"
            put = await net.s3(
                s3.put_object, Bucket="photos", Key=key, Body=data, ContentType="image/png",
                Metadata={"camera": "x100"}, CacheControl="max-age=60", ContentDisposition="inline",
            )  # fmt: skip
            assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
            got, body = await net.get(s3, Bucket="photos", Key=key)
            assert body == data
            assert got["ContentType"] == "image/png" and got["Metadata"] == {"camera": "x100"}
            assert got["CacheControl"] == "max-age=60" and got["ContentDisposition"] == "inline"
            assert "VersionId" not in got and "x-amz-version-id" not in got["ResponseMetadata"]["HTTPHeaders"]
            head = await net.s3(s3.head_object, Bucket="photos", Key=key)
            assert head["ContentLength"] == size and head["ETag"] == put["ETag"]


async def test_ranges_and_conditionals(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="bkt")
        data = os.urandom(2 * SEGMENT + 999)
        etag = (await net.s3(s3.put_object, Bucket="bkt", Key="k", Body=data))["ETag"]
        for rng, want in (("bytes=0-0", data[:1]), ("bytes=100-", data[100:]), ("bytes=-500", data[-500:]),
                          (f"bytes={SEGMENT - 3}-{SEGMENT + 3}", data[SEGMENT - 3 : SEGMENT + 4])):  # fmt: skip
            got, body = await net.get(s3, Bucket="bkt", Key="k", Range=rng)
            assert body == want
            assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
            assert got["ContentRange"].endswith(f"/{len(data)}")
        with pytest.raises(ClientError) as e:
            await net.s3(s3.get_object, Bucket="bkt", Key="k", Range=f"bytes={len(data)}-")
        assert code(e.value) == "InvalidRange" and e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
        with pytest.raises(ClientError) as e:
            await net.s3(s3.get_object, Bucket="bkt", Key="k", IfMatch='"nope"')
        assert code(e.value) == "PreconditionFailed"
        with pytest.raises(ClientError) as e:
            await net.s3(s3.get_object, Bucket="bkt", Key="k", IfNoneMatch=etag)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
        got, body = await net.get(s3, Bucket="bkt", Key="k", IfMatch=etag, ResponseContentType="text/plain",
                                  ResponseContentDisposition="attachment")  # fmt: skip
        assert got["ContentType"] == "text/plain" and got["ContentDisposition"] == "attachment"
        assert body == data


async def test_checksum_mode_returns_stored_checksum(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="bkt")
        put = await net.s3(s3.put_object, Bucket="bkt", Key="k", Body=b"hello world", ChecksumAlgorithm="SHA256")
        got, body = await net.get(s3, Bucket="bkt", Key="k", ChecksumMode="ENABLED")
        assert got["ChecksumSHA256"] == put["ChecksumSHA256"]
        assert body == b"hello world"


async def test_overwrite_delete_and_missing_keys(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="bkt")
        await net.s3(s3.put_object, Bucket="bkt", Key="k", Body=b"one")
        await net.s3(s3.put_object, Bucket="bkt", Key="k", Body=b"two" * 5000)
        assert (await net.get(s3, Bucket="bkt", Key="k"))[1] == b"two" * 5000
        await net.s3(s3.delete_object, Bucket="bkt", Key="k")
        with pytest.raises(ClientError) as e:
            await net.s3(s3.get_object, Bucket="bkt", Key="k")
        assert code(e.value) == "NoSuchKey"
        await net.s3(s3.delete_object, Bucket="bkt", Key="never-there")  # 204 either way
