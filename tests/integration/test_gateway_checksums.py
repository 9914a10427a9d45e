"""Checksums as the 2025 SDKs use them, through a real gateway, satellite and nodes.

Stored checksums come back with ``x-amz-checksum-mode: ENABLED``, in listings, ListParts and
GetObjectAttributes; multipart objects get composite (checksum of part checksums, ``-N``)
or full-object (combined CRC) checksums for CRC32, CRC32C, CRC64NVME, SHA1 and SHA256, and
a claim that disagrees is refused with the upload left as it was.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from gateway.s3.checksums import ChecksumAlgorithm, MultiHasher
from tests.integration.test_gateway_objects import code
from tests.planet import fails, planet

MIB = 1024 * 1024


def _checksum(algorithm: str, data: bytes) -> str:
    alg = ChecksumAlgorithm.from_name(algorithm)
    h = MultiHasher((alg,))
    h.update(data)
    return h.checksum(alg)


def _composite(algorithm: str, part_checksums: list[str]) -> str:
    joined = b"".join(base64.b64decode(c) for c in part_checksums)
    return f"{_checksum(algorithm, joined)}-{len(part_checksums)}"


async def test_put_checksums_come_back_when_asked_and_in_listings(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="sums")
        data = os.urandom(70_000)
        await net.s3(s3.put_object, Bucket="sums", Key="k", Body=data, ChecksumAlgorithm="SHA256")
        head = await net.s3(s3.head_object, Bucket="sums", Key="k", ChecksumMode="ENABLED")
        assert (head["ChecksumSHA256"], head["ChecksumType"]) == (_checksum("SHA256", data), "FULL_OBJECT")
        got, body = await net.get(s3, Bucket="sums", Key="k", ChecksumMode="ENABLED")
        assert body == data and got["ChecksumSHA256"] == _checksum("SHA256", data)
        assert "ChecksumSHA256" not in await net.s3(s3.head_object, Bucket="sums", Key="k")  # only when asked
        listed = await net.s3(s3.list_objects_v2, Bucket="sums")
        assert listed["Contents"][0]["ChecksumAlgorithm"] == ["SHA256"]
        assert listed["Contents"][0]["ChecksumType"] == "FULL_OBJECT"
        every = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
        attrs = await net.s3(s3.get_object_attributes, Bucket="sums", Key="k", ObjectAttributes=every)
        assert attrs["ETag"] == head["ETag"].strip('"') and attrs["ObjectSize"] == len(data)
        assert attrs["Checksum"]["ChecksumSHA256"] == _checksum("SHA256", data)
        assert attrs["StorageClass"] == "STANDARD" and "ObjectParts" not in attrs
        err = await fails(net, s3.get_object_attributes, Bucket="sums", Key="absent", ObjectAttributes=["ETag"])
        assert code(err) == "NoSuchKey"


@pytest.mark.parametrize(("algorithm", "kind"), [
    ("CRC32", "COMPOSITE"), ("CRC32", "FULL_OBJECT"), ("CRC32C", "COMPOSITE"), ("CRC32C", "FULL_OBJECT"),
    ("CRC64NVME", "FULL_OBJECT"), ("SHA1", "COMPOSITE"), ("SHA256", "COMPOSITE"),
])  # fmt: skip
async def test_multipart_checksums_composite_and_full_object(tmp_path, algorithm: str, kind: str):
    async with planet(tmp_path, segment_size=MIB) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="sums")
        up = await net.s3(s3.create_multipart_upload, Bucket="sums", Key="mp", ChecksumAlgorithm=algorithm,
                          ChecksumType=kind)  # fmt: skip
        assert (up["ChecksumAlgorithm"], up["ChecksumType"]) == (algorithm, kind)
        uid = up["UploadId"]
        data = [os.urandom(5 * MIB), os.urandom(5 * MIB + 1), os.urandom(1234)]
        parts = []
        for n, chunk in enumerate(data, 1):
            r = await net.s3(s3.upload_part, Bucket="sums", Key="mp", UploadId=uid, PartNumber=n, Body=chunk,
                             ChecksumAlgorithm=algorithm)  # fmt: skip
            assert r[f"Checksum{algorithm}"] == _checksum(algorithm, chunk)
            parts.append({"PartNumber": n, "ETag": r["ETag"], f"Checksum{algorithm}": r[f"Checksum{algorithm}"]})
        listed = await net.s3(s3.list_parts, Bucket="sums", Key="mp", UploadId=uid)
        assert (listed["ChecksumAlgorithm"], listed["ChecksumType"]) == (algorithm, kind)
        assert [p[f"Checksum{algorithm}"] for p in listed["Parts"]] == [p[f"Checksum{algorithm}"] for p in parts]
        whole = b"".join(data)
        expected = _checksum(algorithm, whole) if kind == "FULL_OBJECT" else _composite(
            algorithm, [p[f"Checksum{algorithm}"] for p in parts])  # fmt: skip
        extra = {f"Checksum{algorithm}": expected} if kind == "FULL_OBJECT" else {}
        done = await net.s3(s3.complete_multipart_upload, Bucket="sums", Key="mp", UploadId=uid,
                            MultipartUpload={"Parts": parts}, **extra)  # fmt: skip
        assert (done[f"Checksum{algorithm}"], done["ChecksumType"]) == (expected, kind)
        head = await net.s3(s3.head_object, Bucket="sums", Key="mp", ChecksumMode="ENABLED")
        assert (head[f"Checksum{algorithm}"], head["ChecksumType"]) == (expected, kind)
        listed_objects = await net.s3(s3.list_objects_v2, Bucket="sums")
        assert listed_objects["Contents"][0]["ChecksumAlgorithm"] == [algorithm]
        attrs = await net.s3(s3.get_object_attributes, Bucket="sums", Key="mp", MaxParts=2,
                             ObjectAttributes=["Checksum", "ObjectParts", "ObjectSize"])  # fmt: skip
        assert attrs["Checksum"][f"Checksum{algorithm}"] == expected and attrs["ObjectSize"] == len(whole)
        op = attrs["ObjectParts"]
        assert (op["TotalPartsCount"], op["IsTruncated"], op["NextPartNumberMarker"]) == (3, True, 2)
        assert [(p["PartNumber"], p["Size"]) for p in op["Parts"]] == [(1, 5 * MIB), (2, 5 * MIB + 1)]
        assert [p[f"Checksum{algorithm}"] for p in op["Parts"]] == [p[f"Checksum{algorithm}"] for p in parts[:2]]
        rest = await net.s3(s3.get_object_attributes, Bucket="sums", Key="mp", PartNumberMarker=2,
                            ObjectAttributes=["ObjectParts"])  # fmt: skip
        assert [(p["PartNumber"], p["Size"]) for p in rest["ObjectParts"]["Parts"]] == [(3, 1234)]


async def test_checksum_claims_that_disagree_are_refused_and_keep_the_upload(tmp_path):
    async with planet(tmp_path, segment_size=MIB) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="sums")
        err = await fails(net, s3.create_multipart_upload, Bucket="sums", Key="x", ChecksumAlgorithm="SHA256",
                           ChecksumType="FULL_OBJECT")  # fmt: skip
        assert code(err) == "InvalidRequest"
        uid = (await net.s3(s3.create_multipart_upload, Bucket="sums", Key="mp", ChecksumAlgorithm="CRC32",
                            ChecksumType="FULL_OBJECT"))["UploadId"]  # fmt: skip
        err = await fails(net, s3.upload_part, Bucket="sums", Key="mp", UploadId=uid, PartNumber=1, Body=b"x",
                           ChecksumAlgorithm="SHA1")  # fmt: skip
        assert code(err) == "InvalidRequest" and "mismatch" in err.response["Error"]["Message"]
        chunk = os.urandom(1000)
        r = await net.s3(s3.upload_part, Bucket="sums", Key="mp", UploadId=uid, PartNumber=1, Body=chunk)
        part = {"PartNumber": 1, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]}
        err = await fails(net, s3.complete_multipart_upload, Bucket="sums", Key="mp", UploadId=uid,
                           MultipartUpload={"Parts": [part]}, ChecksumCRC32=_checksum("CRC32", b"other"))  # fmt: skip
        assert code(err) == "BadDigest"
        wrong = {**part, "ChecksumCRC32": _checksum("CRC32", b"other")}
        err = await fails(net, s3.complete_multipart_upload, Bucket="sums", Key="mp", UploadId=uid,
                           MultipartUpload={"Parts": [wrong]})  # fmt: skip
        assert code(err) == "InvalidPart"
        assert "Contents" not in await net.s3(s3.list_objects_v2, Bucket="sums")
        done = await net.s3(s3.complete_multipart_upload, Bucket="sums", Key="mp", UploadId=uid,
                            MultipartUpload={"Parts": [part]}, ChecksumCRC32=_checksum("CRC32", chunk))  # fmt: skip
        assert done["ChecksumCRC32"] == _checksum("CRC32", chunk)


async def test_aws_cli_multipart_upload_with_a_checksum_reads_it_back(tmp_path):
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    assert aws, "the AWS CLI comes with the [test] extra"
    async with planet(tmp_path, segment_size=MIB) as net:
        t = net.tenants[0]
        await net.s3(net.client().create_bucket, Bucket="cli-sums")
        data = os.urandom(9 * MIB + 5)  # over the CLI's 8 MiB multipart threshold
        (tmp_path / "big.bin").write_bytes(data)
        env = {**os.environ, "AWS_ACCESS_KEY_ID": t.access_key, "AWS_SECRET_ACCESS_KEY": t.secret_key,
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": net.endpoint}  # fmt: skip
        env.pop("AWS_CA_BUNDLE", None)

        async def run(*argv: str) -> str:
            proc = await asyncio.create_subprocess_exec(aws, *argv, env=env, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.STDOUT)  # fmt: skip
            out, _ = await proc.communicate()
            assert proc.returncode == 0, out.decode()
            return out.decode()

        await run("s3", "cp", str(tmp_path / "big.bin"), "s3://cli-sums/big.bin", "--checksum-algorithm", "CRC32")
        head = await run("s3api", "head-object", "--bucket", "cli-sums", "--key", "big.bin", "--checksum-mode",
                         "ENABLED", "--output", "json")  # fmt: skip
        answer = json.loads(head)
        assert answer["ContentLength"] == len(data) and "ChecksumCRC32" in answer
        if answer["ChecksumType"] == "FULL_OBJECT":
            assert answer["ChecksumCRC32"] == _checksum("CRC32", data)
        else:
            assert answer["ChecksumCRC32"].endswith("-2")
