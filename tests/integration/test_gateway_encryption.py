"""Encryption as S3 clients see it, through a real gateway, satellite and nodes.

SSE-S3 headers on every write and read, Get/Put/DeleteBucketEncryption, and SSE-C over TLS
with boto3 and the AWS CLI: round trips, ranges, copies, multipart, AWS's errors for a
missing or wrong key — and that the gateway's own keys cannot open an SSE-C object.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from erasure import DecryptionError, unwrap_key
from geoshard.tls import ensure_self_signed
from tests.integration.test_gateway_objects import code
from tests.planet import Planet, fails, planet, status

MIB = 1024 * 1024


def _tls_client(net: Planet, cert: Path) -> Any:
    t = net.tenants[0]
    return boto3.client("s3", endpoint_url=net.endpoint, aws_access_key_id=t.access_key,
                        aws_secret_access_key=t.secret_key, region_name="us-east-1", verify=str(cert),
                        config=Config(retries={"max_attempts": 1}))  # fmt: skip


async def test_responses_say_aes256_and_bucket_encryption_is_the_aes256_default(tmp_path):
    async with planet(tmp_path, segment_size=MIB) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="sse-s3")
        put = await net.s3(s3.put_object, Bucket="sse-s3", Key="k", Body=b"data")
        assert put["ServerSideEncryption"] == "AES256"
        asked = await net.s3(s3.put_object, Bucket="sse-s3", Key="asked", Body=b"data", ServerSideEncryption="AES256")
        assert asked["ServerSideEncryption"] == "AES256"
        got, _ = await net.get(s3, Bucket="sse-s3", Key="k")
        assert got["ServerSideEncryption"] == "AES256"
        assert (await net.s3(s3.head_object, Bucket="sse-s3", Key="k"))["ServerSideEncryption"] == "AES256"
        copied = await net.s3(s3.copy_object, Bucket="sse-s3", Key="copy", CopySource={"Bucket": "sse-s3", "Key": "k"})
        assert copied["ServerSideEncryption"] == "AES256"
        up = await net.s3(s3.create_multipart_upload, Bucket="sse-s3", Key="mp")
        assert up["ServerSideEncryption"] == "AES256"
        part = await net.s3(s3.upload_part, Bucket="sse-s3", Key="mp", UploadId=up["UploadId"], PartNumber=1,
                            Body=b"part")  # fmt: skip
        assert part["ServerSideEncryption"] == "AES256"
        done = await net.s3(s3.complete_multipart_upload, Bucket="sse-s3", Key="mp", UploadId=up["UploadId"],
                            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})  # fmt: skip
        assert done["ServerSideEncryption"] == "AES256"
        # KMS is not offered: refused before anything is stored.
        err = await fails(net, s3.put_object, Bucket="sse-s3", Key="kms", Body=b"x", ServerSideEncryption="aws:kms")
        assert (code(err), status(err)) == ("NotImplemented", 501)
        assert "Contents" not in await net.s3(s3.list_objects_v2, Bucket="sse-s3", Prefix="kms")

        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}
        got = await net.s3(s3.get_bucket_encryption, Bucket="sse-s3")
        assert got["ServerSideEncryptionConfiguration"]["Rules"] == [rule]
        await net.s3(s3.put_bucket_encryption, Bucket="sse-s3",
                     ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault":
                                                                   {"SSEAlgorithm": "AES256"}}]})  # fmt: skip
        err = await fails(net, s3.put_bucket_encryption, Bucket="sse-s3", ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})  # fmt: skip
        assert (code(err), status(err)) == ("NotImplemented", 501)
        await net.s3(s3.delete_bucket_encryption, Bucket="sse-s3")
        got = await net.s3(s3.get_bucket_encryption, Bucket="sse-s3")
        assert got["ServerSideEncryptionConfiguration"]["Rules"] == [rule]  # still encrypted, as at AWS
        err = await fails(net, s3.get_bucket_encryption, Bucket="no-such-bucket")
        assert code(err) == "NoSuchBucket"


async def test_sse_c_is_refused_on_plain_http_as_aws_refuses_it(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="plain-http")
        err = await fails(net, s3.put_object, Bucket="plain-http", Key="k", Body=b"x", SSECustomerAlgorithm="AES256",
                           SSECustomerKey=os.urandom(32))  # fmt: skip
        assert (code(err), status(err)) == ("InvalidRequest", 400)
        assert "secure connection" in err.response["Error"]["Message"]
        assert "Contents" not in await net.s3(s3.list_objects_v2, Bucket="plain-http")


async def test_sse_c_objects_open_only_with_their_key(tmp_path):
    cert, key = ensure_self_signed(tmp_path / "tls")
    async with planet(tmp_path, segment_size=MIB, tls_cert=str(cert), tls_key=str(key)) as net:
        s3 = _tls_client(net, cert)
        await net.s3(s3.create_bucket, Bucket="ssec")
        secret, other = secrets.token_hex(16), secrets.token_hex(16)  # boto3 takes the 32 key bytes as text
        ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": secret}
        data = os.urandom(3 * MIB + 5)  # several segments
        put = await net.s3(s3.put_object, Bucket="ssec", Key="k", Body=data, **ssec)
        md5 = base64.b64encode(hashlib.md5(secret.encode()).digest()).decode()
        assert (put["SSECustomerAlgorithm"], put["SSECustomerKeyMD5"]) == ("AES256", md5)
        assert "ServerSideEncryption" not in put
        got, body = await net.get(s3, Bucket="ssec", Key="k", **ssec)
        assert body == data and got["SSECustomerKeyMD5"] == md5
        _, part = await net.get(s3, Bucket="ssec", Key="k", Range=f"bytes={MIB - 3}-{2 * MIB + 10}", **ssec)
        assert part == data[MIB - 3 : 2 * MIB + 11]
        head = await net.s3(s3.head_object, Bucket="ssec", Key="k", **ssec)
        assert (head["ContentLength"], head["SSECustomerAlgorithm"]) == (len(data), "AES256")

        err = await fails(net, s3.get_object, Bucket="ssec", Key="k")
        assert (code(err), status(err)) == ("InvalidRequest", 400)
        err = await fails(net, s3.get_object, Bucket="ssec", Key="k", SSECustomerAlgorithm="AES256",
                           SSECustomerKey=other)  # fmt: skip
        assert (code(err), status(err)) == ("AccessDenied", 403)
        err = await fails(net, s3.head_object, Bucket="ssec", Key="k", SSECustomerAlgorithm="AES256",
                           SSECustomerKey=other)  # fmt: skip
        assert status(err) == 403
        err = await fails(net, s3.head_object, Bucket="ssec", Key="k")
        assert status(err) == 400
        # Malformed key headers: AWS's errors, nothing stored.
        # (With an MD5 given, botocore sends the key as given: base64 already.)
        err = await fails(net, s3.put_object, Bucket="ssec", Key="bad", Body=b"x", SSECustomerAlgorithm="AES256",
                           SSECustomerKey=base64.b64encode(secret.encode()).decode(),
                           SSECustomerKeyMD5=base64.b64encode(b"0" * 16).decode())  # fmt: skip
        assert code(err) == "InvalidArgument" and "MD5" in err.response["Error"]["Message"]
        err = await fails(net, s3.put_object, Bucket="ssec", Key="bad", Body=b"x", SSECustomerAlgorithm="AES128",
                           SSECustomerKey=secret)  # fmt: skip
        assert code(err) == "InvalidEncryptionAlgorithmError"
        err = await fails(net, s3.put_object, Bucket="ssec", Key="bad", Body=b"x", SSECustomerAlgorithm="AES256",
                           SSECustomerKey=secrets.token_hex(8))  # fmt: skip
        assert code(err) == "InvalidArgument"
        assert "Contents" not in await net.s3(s3.list_objects_v2, Bucket="ssec", Prefix="bad")
        # A key for an object that has none.
        await net.s3(s3.put_object, Bucket="ssec", Key="plain", Body=b"plain")
        err = await fails(net, s3.get_object, Bucket="ssec", Key="plain", **ssec)
        assert (code(err), status(err)) == ("InvalidRequest", 400)

        # Neither the gateway's bucket key nor the satellite's metadata opens the object.
        services = net.gateway.services_state
        answer = await services.satellite.get_object(net.tenants[0].id, "ssec", "k")
        bucket_key = services.bucket_key(net.tenants[0].id, "ssec")
        for seg in answer["segments"]:
            with pytest.raises(DecryptionError):
                unwrap_key(bucket_key, base64.b64decode(seg["wrapped_key"]))
        stored = json.dumps(answer["object"])
        assert base64.b64encode(secret.encode()).decode() not in stored and secret not in stored and md5 not in stored


async def test_sse_c_copies_and_multipart_uploads(tmp_path):
    cert, key = ensure_self_signed(tmp_path / "tls")
    async with planet(tmp_path, segment_size=MIB, tls_cert=str(cert), tls_key=str(key)) as net:
        s3 = _tls_client(net, cert)
        await net.s3(s3.create_bucket, Bucket="ssec")
        await net.s3(s3.create_bucket, Bucket="other-bucket")
        k1, k2 = secrets.token_hex(16), secrets.token_hex(16)
        c1 = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": k1}
        c2 = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": k2}
        src1 = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": k1}
        data = os.urandom(MIB + 7)
        await net.s3(s3.put_object, Bucket="ssec", Key="src", Body=data, **c1)
        source = {"Bucket": "ssec", "Key": "src"}
        # SSE-C to another key, in place (changing the key is a change) and to another bucket.
        await net.s3(s3.copy_object, Bucket="ssec", Key="src", CopySource=source, **src1, **c2)
        assert (await net.get(s3, Bucket="ssec", Key="src", **c2))[1] == data
        err = await fails(net, s3.get_object, Bucket="ssec", Key="src", **c1)
        assert status(err) == 403
        src2 = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": k2}
        await net.s3(s3.copy_object, Bucket="other-bucket", Key="x", CopySource=source, **src2, **c1)
        assert (await net.get(s3, Bucket="other-bucket", Key="x", **c1))[1] == data
        # SSE-C to SSE-S3 and back; a copy without the source's key is refused.
        await net.s3(s3.copy_object, Bucket="ssec", Key="plain", CopySource=source, **src2)
        assert (await net.get(s3, Bucket="ssec", Key="plain"))[1] == data
        err = await fails(net, s3.copy_object, Bucket="ssec", Key="nope", CopySource=source)
        assert (code(err), status(err)) == ("InvalidRequest", 400)
        await net.s3(s3.copy_object, Bucket="ssec", Key="again", CopySource={"Bucket": "ssec", "Key": "plain"}, **c1)
        assert (await net.get(s3, Bucket="ssec", Key="again", **c1))[1] == data

        # Multipart: every part brings the key; UploadPartCopy reads an SSE-C source.
        up = await net.s3(s3.create_multipart_upload, Bucket="ssec", Key="mp", **c1)
        assert up["SSECustomerAlgorithm"] == "AES256"
        uid = up["UploadId"]
        p1 = os.urandom(5 * MIB)
        err = await fails(net, s3.upload_part, Bucket="ssec", Key="mp", UploadId=uid, PartNumber=1, Body=p1)
        assert (code(err), status(err)) == ("InvalidRequest", 400)
        err = await fails(net, s3.upload_part, Bucket="ssec", Key="mp", UploadId=uid, PartNumber=1, Body=p1, **c2)
        assert status(err) == 403
        e1 = (await net.s3(s3.upload_part, Bucket="ssec", Key="mp", UploadId=uid, PartNumber=1, Body=p1, **c1))["ETag"]
        copied = await net.s3(s3.upload_part_copy, Bucket="ssec", Key="mp", UploadId=uid, PartNumber=2,
                              CopySource=source, CopySourceRange="bytes=0-99", **src2, **c1)  # fmt: skip
        parts = [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": copied["CopyPartResult"]["ETag"]}]
        await net.s3(s3.complete_multipart_upload, Bucket="ssec", Key="mp", UploadId=uid,
                     MultipartUpload={"Parts": parts})  # fmt: skip
        whole = p1 + data[:100]
        assert (await net.get(s3, Bucket="ssec", Key="mp", **c1))[1] == whole
        _, tail = await net.get(s3, Bucket="ssec", Key="mp", Range=f"bytes={5 * MIB - 10}-", **c1)
        assert tail == whole[5 * MIB - 10 :]
        got, part2 = await net.get(s3, Bucket="ssec", Key="mp", PartNumber=2, **c1)
        assert part2 == data[:100] and got["PartsCount"] == 2
        err = await fails(net, s3.get_object, Bucket="ssec", Key="mp")
        assert status(err) == 400


async def test_aws_cli_sse_c_upload_and_download(tmp_path):
    aws = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    assert aws, "the AWS CLI comes with the [test] extra"
    cert, key = ensure_self_signed(tmp_path / "tls")
    async with planet(tmp_path, tls_cert=str(cert), tls_key=str(key)) as net:
        t = net.tenants[0]
        s3 = _tls_client(net, cert)
        await net.s3(s3.create_bucket, Bucket="cli-ssec")
        secret = secrets.token_hex(16)
        (tmp_path / "key.bin").write_bytes(secret.encode())
        data = os.urandom(300_000)
        (tmp_path / "up.bin").write_bytes(data)
        env = {**os.environ, "AWS_ACCESS_KEY_ID": t.access_key, "AWS_SECRET_ACCESS_KEY": t.secret_key,
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_CA_BUNDLE": str(cert),
               "AWS_ENDPOINT_URL": net.endpoint}  # fmt: skip
        ssec = ["--sse-c", "AES256", "--sse-c-key", f"fileb://{tmp_path / 'key.bin'}"]

        async def run(*argv: str) -> tuple[int, str]:
            proc = await asyncio.create_subprocess_exec(aws, *argv, env=env, stdout=asyncio.subprocess.PIPE,
                                                        stderr=asyncio.subprocess.STDOUT)  # fmt: skip
            out, _ = await proc.communicate()
            return int(proc.returncode or 0), out.decode()

        rc, out = await run("s3", "cp", str(tmp_path / "up.bin"), "s3://cli-ssec/secret.bin", *ssec)
        assert rc == 0, out
        rc, out = await run("s3", "cp", "s3://cli-ssec/secret.bin", str(tmp_path / "down.bin"), *ssec)
        assert rc == 0, out
        assert (tmp_path / "down.bin").read_bytes() == data
        rc, out = await run("s3", "cp", "s3://cli-ssec/secret.bin", str(tmp_path / "nokey.bin"))
        assert rc != 0 and "400" in out
        _, body = await net.get(s3, Bucket="cli-ssec", Key="secret.bin", SSECustomerAlgorithm="AES256",
                                  SSECustomerKey=secret)  # fmt: skip
        assert body == data
