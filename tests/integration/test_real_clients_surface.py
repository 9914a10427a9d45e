"""The S3 surface beyond the core, through unmodified clients against a real devnet.

Conditional writes and idempotent multipart Completes with boto3 and the AWS CLI;
``?partNumber=N`` reads with boto3 and the MinIO SDK; an admin's region alias used by the
AWS CLI; raw UTF-8 metadata from curl read back by boto3.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from email.header import decode_header
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.devnet_fixture import Devnet
from tests.integration.test_real_clients import _bucket, _run, _tool

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.timeout(600)]

MIB = 2**20


def test_boto3_put_if_absent_race_and_retried_complete_on_devnet(devnet: Devnet) -> None:
    s3 = devnet.boto3()
    bucket = _bucket("cond")
    s3.create_bucket(Bucket=bucket)

    def put(i: int) -> str:
        try:
            s3.put_object(Bucket=bucket, Key="_delta_log/00000000000000000001.json", Body=f"writer {i}".encode(),
                          IfNoneMatch="*")  # fmt: skip
            return "won"
        except ClientError as e:
            return str(e.response["Error"]["Code"])

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(put, range(16)))
    assert sorted(outcomes) == ["PreconditionFailed"] * 15 + ["won"]
    winner = outcomes.index("won")
    body = s3.get_object(Bucket=bucket, Key="_delta_log/00000000000000000001.json")["Body"].read()
    assert body == f"writer {winner}".encode()

    uid = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    parts = [os.urandom(5 * MIB), b"end"]
    listed = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=n,
                                                       Body=d)["ETag"]} for n, d in enumerate(parts, 1)]  # fmt: skip
    kw = {"Bucket": bucket, "Key": "mp", "UploadId": uid, "MultipartUpload": {"Parts": listed}}
    first = s3.complete_multipart_upload(**kw)
    assert s3.complete_multipart_upload(**kw)["ETag"] == first["ETag"]
    got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert got["Body"].read() == b"end" and got["PartsCount"] == 2


def test_aws_cli_if_none_match_and_if_match_on_devnet(devnet: Devnet, tmp_path: Path) -> None:
    aws = _tool("aws")
    env = devnet.client_env()
    bucket = _bucket("clicond")
    _run([aws, "s3api", "create-bucket", "--bucket", bucket], env)
    (tmp_path / "one").write_bytes(b"one")
    (tmp_path / "two").write_bytes(b"two")
    put = [aws, "s3api", "put-object", "--bucket", bucket, "--key", "k", "--body"]
    _run([*put, str(tmp_path / "one"), "--if-none-match", "*"], env)
    refused = subprocess.run([*put, str(tmp_path / "two"), "--if-none-match", "*"], env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    assert refused.returncode != 0 and "PreconditionFailed" in refused.stderr
    head = _run([aws, "s3api", "head-object", "--bucket", bucket, "--key", "k", "--query", "ETag",
                 "--output", "text"], env).stdout.strip()  # fmt: skip
    _run([*put, str(tmp_path / "two"), "--if-match", head], env)
    stale = subprocess.run([*put, str(tmp_path / "one"), "--if-match", head], env=env, capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert stale.returncode != 0 and "PreconditionFailed" in stale.stderr
    _run([aws, "s3api", "get-object", "--bucket", bucket, "--key", "k", str(tmp_path / "back")], env)
    assert (tmp_path / "back").read_bytes() == b"two"


def test_minio_sdk_reads_one_part_of_a_multipart_object(devnet: Devnet) -> None:
    from minio import Minio

    s3 = devnet.boto3()
    bucket = _bucket("miniopart")
    s3.create_bucket(Bucket=bucket)
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"short tail"]
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    listed = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=n,
                                                       Body=d)["ETag"]} for n, d in enumerate(parts, 1)]  # fmt: skip
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={"Parts": listed})
    client = Minio(devnet.endpoint.split("://", 1)[1], access_key=devnet.env["AWS_ACCESS_KEY_ID"],
                   secret_key=devnet.env["AWS_SECRET_ACCESS_KEY"], secure=False)  # fmt: skip
    resp = client.get_object(bucket, "k", extra_query_params={"partNumber": "2"})
    try:
        assert resp.read() == parts[1]
        assert resp.headers["x-amz-mp-parts-count"] == "3"
        assert resp.headers["Content-Range"] == f"bytes {5 * MIB}-{10 * MIB - 1}/{10 * MIB + len(parts[2])}"
    finally:
        resp.close()
        resp.release_conn()


def test_admin_cli_alias_lets_the_aws_cli_create_a_bucket_in_its_region(devnet: Devnet) -> None:
    aws = _tool("aws")
    env = devnet.client_env()
    geoshard = [sys.executable, "-m", "geoshard.cli", "admin"]
    out = _run([*geoshard, "policy", "aliases", "eu", "eu-west-1", "eu-north-1"], env).stdout
    assert "aliases eu-north-1, eu-west-1" in out
    bucket = _bucket("stockholm")
    _run([aws, "s3", "mb", f"s3://{bucket}", "--region", "eu-north-1"], env)  # sends LocationConstraint=eu-north-1
    where = _run([aws, "s3api", "get-bucket-location", "--bucket", bucket, "--output", "text"], env).stdout
    assert where.strip() == "eu"
    refused = subprocess.run([aws, "s3", "mb", f"s3://{_bucket('ohio')}", "--region", "us-east-2"], env=env,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode != 0 and "InvalidLocationConstraint" in refused.stderr and "us-east-2" in refused.stderr


def test_curl_raw_utf8_metadata_comes_back_rfc_2047_to_boto3(devnet: Devnet, tmp_path: Path) -> None:
    s3 = devnet.boto3()
    bucket = _bucket("curlmeta")
    s3.create_bucket(Bucket=bucket)
    (tmp_path / "body").write_bytes(b"hello")
    text = "Grüße ✓ 東京"
    _run(["curl", "-sS", "--fail-with-body", "-X", "PUT", "--data-binary", f"@{tmp_path / 'body'}",
          "--aws-sigv4", "aws:amz:us-east-1:s3",
          "--user", f"{devnet.env['AWS_ACCESS_KEY_ID']}:{devnet.env['AWS_SECRET_ACCESS_KEY']}",
          "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-H", f"x-amz-meta-title: {text}",
          f"{devnet.endpoint}/{bucket}/k"], devnet.client_env())  # fmt: skip
    sent = s3.head_object(Bucket=bucket, Key="k")["Metadata"]["title"]
    ((decoded, charset),) = decode_header(sent)
    assert sent.isascii() and decoded.decode(charset) == text
    listed = s3.list_objects_v2(Bucket=bucket)  # boto3 asks for encoding-type=url and decodes it
    assert [o["Key"] for o in listed["Contents"]] == ["k"]
