"""Bad input against a real devnet: each request gets AWS's error, and nothing stored changes.

Every test writes a "victim" object first, sends one bad request aimed at it (or at its
bucket), checks the S3 error code and status, and then checks that the victim still
reads back byte for byte and that no other key appeared.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import os
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import botocore.auth
import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.devnet_fixture import Devnet
from tests.s3_requests import error_code, head, raw_exchange, send, sign, signed_chunks, unsigned_trailer_body

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.timeout(300)]


@dataclass
class Victim:
    devnet: Devnet
    s3: object
    bucket: str
    key: str
    data: bytes
    creds: Credentials

    @property
    def url(self) -> str:
        return f"{self.devnet.endpoint}/{self.bucket}/{self.key}"

    def assert_untouched(self) -> None:
        got = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read()  # type: ignore[attr-defined]
        assert got == self.data, "the victim object changed"
        keys = [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])]  # type: ignore[attr-defined]
        assert keys == [self.key], f"unexpected keys appeared: {keys}"
        uploads = self.s3.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])  # type: ignore[attr-defined]
        assert uploads == [], "a multipart upload was left behind"


@pytest.fixture
def victim(devnet: Devnet) -> Iterator[Victim]:
    s3 = devnet.boto3()
    bucket = f"bad-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu"})
    data = os.urandom(200_000)
    s3.put_object(Bucket=bucket, Key="victim.bin", Body=data)
    creds = Credentials(devnet.env["AWS_ACCESS_KEY_ID"], devnet.env["AWS_SECRET_ACCESS_KEY"])
    yield Victim(devnet, s3, bucket, "victim.bin", data, creds)


def _client_error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = exc.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def test_wrong_signature_is_signature_does_not_match(victim: Victim) -> None:
    bad = boto3.client("s3", endpoint_url=victim.devnet.endpoint, region_name="us-east-1",
                       aws_access_key_id=victim.creds.access_key, aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError) as exc:
        bad.put_object(Bucket=victim.bucket, Key=victim.key, Body=b"overwrite")
    assert _client_error(exc) == (403, "SignatureDoesNotMatch")
    victim.assert_untouched()


def test_unknown_access_key_is_invalid_access_key_id(victim: Victim) -> None:
    bad = boto3.client("s3", endpoint_url=victim.devnet.endpoint, region_name="us-east-1",
                       aws_access_key_id="GSNOSUCHKEY000000000", aws_secret_access_key="x")
    with pytest.raises(ClientError) as exc:
        bad.delete_object(Bucket=victim.bucket, Key=victim.key)
    assert _client_error(exc) == (403, "InvalidAccessKeyId")
    victim.assert_untouched()


def _two_hours_ago() -> datetime.datetime:
    """botocore's signer clock, two hours ago (naive UTC, as botocore's own)."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(hours=2)


async def test_expired_presigned_urls_v4_and_v2_are_access_denied(victim: Victim, monkeypatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(botocore.auth, "get_current_datetime", _two_hours_ago)
        v4 = sign("v4-query", "DELETE", victim.url, credentials=victim.creds, expires=3600)
    status, _, body = await send(v4)
    assert (status, error_code(body)) == (403, "AccessDenied") and b"expired" in body.lower()
    v2 = sign("v2-query", "DELETE", victim.url, credentials=victim.creds, expires=-60)
    status, _, body = await send(v2)
    assert (status, error_code(body)) == (403, "AccessDenied")
    victim.assert_untouched()


async def test_tampered_presigned_url_is_signature_does_not_match(victim: Victim) -> None:
    url = victim.s3.generate_presigned_url(  # type: ignore[attr-defined]
        "get_object", Params={"Bucket": victim.bucket, "Key": victim.key}, ExpiresIn=600
    )
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(url) as ok:
            assert ok.status == 200 and await ok.read() == victim.data
        tampered = url.replace(victim.key, "other.bin")
        async with session.get(tampered) as resp:
            assert (resp.status, error_code(await resp.read())) == (403, "SignatureDoesNotMatch")
    v4 = sign("v4-query", "PUT", victim.url, credentials=victim.creds)
    v4.url = v4.url.replace("X-Amz-Expires=3600", "X-Amz-Expires=3599")
    status, _, body = await send(v4)
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    victim.assert_untouched()


async def test_skewed_clock_is_request_time_too_skewed(victim: Victim, monkeypatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(botocore.auth, "get_current_datetime", _two_hours_ago)
        req = sign("v4", "PUT", victim.url, b"from the past", credentials=victim.creds)
    status, _, body = await send(req)
    assert (status, error_code(body)) == (403, "RequestTimeTooSkewed")
    victim.assert_untouched()


async def _signed_streaming_put(victim: Victim, data: bytes, tweak=None) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(len(data))}
    req = sign("v4", "PUT", victim.url, b"", headers, credentials=victim.creds,
               payload="STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    seed = req.headers["Authorization"].rsplit("Signature=", 1)[1]
    body = signed_chunks(victim.creds.secret_key, seed, req.context["timestamp"], [data[:65536], data[65536:]], None)
    req.data = tweak(body) if tweak else body
    status, _, raw = await send(req)
    return status, raw


async def test_signed_chunks_verify_and_a_bad_chunk_signature_changes_nothing(victim: Victim) -> None:
    data = os.urandom(100_000)
    ok_status, raw = await _signed_streaming_put(victim, data)
    assert ok_status == 200, raw
    victim.data = data  # a correctly signed chunked PUT is the new victim
    victim.assert_untouched()
    corrupt = await _signed_streaming_put(victim, os.urandom(100_000),
                                          tweak=lambda b: b[:200] + bytes([b[200] ^ 1]) + b[201:])
    assert (corrupt[0], error_code(corrupt[1])) == (403, "SignatureDoesNotMatch")
    victim.assert_untouched()


async def test_trailing_checksum_mismatch_is_bad_digest(victim: Victim) -> None:
    data = os.urandom(50_000)
    wrong = base64.b64encode(zlib.crc32(data + b"!").to_bytes(4, "big")).decode()
    headers = {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(len(data)),
               "X-Amz-Trailer": "x-amz-checksum-crc32"}
    req = sign("v4", "PUT", victim.url, unsigned_trailer_body([data], f"x-amz-checksum-crc32:{wrong}"), headers,
               credentials=victim.creds, payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    status, _, body = await send(req)
    assert (status, error_code(body)) == (400, "BadDigest")
    victim.assert_untouched()


def test_content_md5_mismatch_is_bad_digest(victim: Victim) -> None:
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as exc:
        victim.s3.put_object(Bucket=victim.bucket, Key=victim.key, Body=b"new", ContentMD5=wrong)  # type: ignore[attr-defined]
    assert _client_error(exc) == (400, "BadDigest")
    victim.assert_untouched()


async def test_malformed_complete_multipart_xml_is_malformed_xml(victim: Victim) -> None:
    upload = victim.s3.create_multipart_upload(Bucket=victim.bucket, Key=victim.key)["UploadId"]  # type: ignore[attr-defined]
    victim.s3.upload_part(Bucket=victim.bucket, Key=victim.key, UploadId=upload,  # type: ignore[attr-defined]
                          PartNumber=1, Body=b"part one")
    req = sign("v4", "POST", f"{victim.url}?uploadId={upload}", b"<CompleteMultipartUpload><Part>",
               credentials=victim.creds)
    status, _, body = await send(req)
    assert (status, error_code(body)) == (400, "MalformedXML")
    victim.s3.abort_multipart_upload(Bucket=victim.bucket, Key=victim.key, UploadId=upload)  # type: ignore[attr-defined]
    victim.assert_untouched()


async def test_malformed_delete_objects_xml_is_malformed_xml(victim: Victim) -> None:
    body = b"<Delete><Object><Key>victim.bin</Key></Object"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    req = sign("v4", "POST", f"{victim.devnet.endpoint}/{victim.bucket}?delete", body, {"Content-MD5": md5},
               credentials=victim.creds)
    status, _, answer = await send(req)
    assert (status, error_code(answer)) == (400, "MalformedXML")
    victim.assert_untouched()


@pytest.mark.parametrize("name", ["Bad_Name", "ab", "a" * 64, "-leading", "192.168.1.1", "two..dots"])
async def test_invalid_bucket_names_are_refused(victim: Victim, name: str) -> None:
    req = sign("v4", "PUT", f"{victim.devnet.endpoint}/{name}", credentials=victim.creds)
    status, _, body = await send(req)
    assert (status, error_code(body)) == (400, "InvalidBucketName")
    names = [b["Name"] for b in victim.s3.list_buckets()["Buckets"]]  # type: ignore[attr-defined]
    assert name not in names


def test_key_over_1024_bytes_is_key_too_long(victim: Victim) -> None:
    with pytest.raises(ClientError) as exc:
        victim.s3.put_object(Bucket=victim.bucket, Key="k" * 1025, Body=b"x")  # type: ignore[attr-defined]
    assert _client_error(exc) == (400, "KeyTooLongError")
    victim.assert_untouched()


def test_bad_ranges_serve_whole_object_and_unsatisfiable_is_416(victim: Victim) -> None:
    for bad in ("bytes=abc", "items=0-1", "bytes=5-2"):
        got = victim.s3.get_object(Bucket=victim.bucket, Key=victim.key, Range=bad)  # type: ignore[attr-defined]
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert got["Body"].read() == victim.data
    with pytest.raises(ClientError) as exc:
        victim.s3.get_object(Bucket=victim.bucket, Key=victim.key, Range=f"bytes={len(victim.data)}-")  # type: ignore[attr-defined]
    assert _client_error(exc) == (416, "InvalidRange")
    victim.assert_untouched()


async def test_missing_content_length_is_411(victim: Victim) -> None:
    req = sign("v4", "PUT", victim.url, b"", {"Transfer-Encoding": "chunked"}, credentials=victim.creds,
               payload="UNSIGNED-PAYLOAD")
    headers = {k: v for k, v in req.prepare().headers.items() if k.lower() != "content-length"}
    headers["Host"] = victim.devnet.endpoint.split("//")[1]
    answer = await raw_exchange(victim.devnet.endpoint, head("PUT", f"/{victim.bucket}/{victim.key}", headers),
                                b"5\r\nhello\r\n0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 411") and error_code(answer) == "MissingContentLength", answer[:300]
    victim.assert_untouched()


async def _put_with_declared_length(victim: Victim, body: bytes, declared: int, *, half_close: bool) -> bytes:
    req = sign("v4", "PUT", victim.url, b"", credentials=victim.creds, payload="UNSIGNED-PAYLOAD")
    headers = dict(req.prepare().headers.items())
    headers["Content-Length"] = str(declared)
    headers["Host"] = victim.devnet.endpoint.split("//")[1]
    return await raw_exchange(victim.devnet.endpoint, head("PUT", f"/{victim.bucket}/{victim.key}", headers), body,
                              half_close=half_close)


async def test_body_shorter_than_declared_changes_nothing(victim: Victim) -> None:
    answer = await _put_with_declared_length(victim, os.urandom(1000), 5000, half_close=True)
    assert not answer.startswith(b"HTTP/1.1 200"), answer[:300]
    victim.assert_untouched()


async def test_body_longer_than_declared_never_stores_the_extra_bytes(victim: Victim) -> None:
    body = os.urandom(3000)
    answer = await _put_with_declared_length(victim, body, 1000, half_close=False)
    # HTTP frames a request by its Content-Length: the extra bytes are the start of a next
    # request on the connection, which is garbage and answered 400. The object is either
    # untouched or exactly the declared 1,000 bytes, never the 3,000 sent.
    assert b"HTTP/1.1 400" in answer or b"HTTP/1.0 400" in answer, answer[:300]
    stored = victim.s3.get_object(Bucket=victim.bucket, Key=victim.key)["Body"].read()  # type: ignore[attr-defined]
    assert stored in (victim.data, body[:1000])
    victim.data = stored
    victim.assert_untouched()


async def test_client_that_disconnects_mid_upload_leaves_old_version(victim: Victim) -> None:
    import asyncio

    req = sign("v4", "PUT", victim.url, b"", credentials=victim.creds, payload="UNSIGNED-PAYLOAD")
    headers = dict(req.prepare().headers.items())
    headers["Content-Length"] = str(20 * 2**20)
    headers["Host"] = victim.devnet.endpoint.split("//")[1]
    host, port = victim.devnet.endpoint.split("//")[1].split(":")
    _reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head("PUT", f"/{victim.bucket}/{victim.key}", headers))
    writer.write(os.urandom(6 * 2**20))
    await writer.drain()
    writer.transport.abort()
    await asyncio.sleep(0.5)  # let the gateway notice; what is checked is the stored state, not timing
    victim.assert_untouched()


def test_another_tenant_cannot_read_or_write_the_bucket(victim: Victim) -> None:
    from satellite.admin.client import AdminClient

    admin = AdminClient(victim.devnet.env["GEOSHARD_ADMIN_URL"], victim.devnet.env["GEOSHARD_ADMIN_TOKEN"])
    tenant = admin.call("POST", "/v1/tenants", {"name": f"other-{uuid.uuid4().hex[:8]}"})
    key = admin.call("POST", admin.path("v1", "tenants", tenant["id"], "keys"))
    other = boto3.client("s3", endpoint_url=victim.devnet.endpoint, region_name="us-east-1",
                         aws_access_key_id=key["access_key_id"], aws_secret_access_key=key["secret_access_key"])
    for call in (
        lambda: other.get_object(Bucket=victim.bucket, Key=victim.key),
        lambda: other.put_object(Bucket=victim.bucket, Key=victim.key, Body=b"mine now"),
        lambda: other.delete_object(Bucket=victim.bucket, Key=victim.key),
        lambda: other.list_objects_v2(Bucket=victim.bucket),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _client_error(exc) == (403, "AccessDenied")
    victim.assert_untouched()
