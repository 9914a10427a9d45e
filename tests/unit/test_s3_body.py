"""The body reader: every payload mode through a real server, and every way a body lies.

Bodies come from boto3 with its default configuration (HTTP: signed SHA-256 plus an
``x-amz-checksum-crc32`` header; HTTPS: ``STREAMING-UNSIGNED-PAYLOAD-TRAILER`` with a CRC32
trailer), from botocore's signer with hand-framed aws-chunked bodies (the framing and chunk
signatures are computed here from AWS's specification, independently of the code under
test, and checked against AWS's published example), and from raw sockets where a client
must misbehave at the HTTP level.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import ipaddress
import ssl
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from unittest import mock

import pytest
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.s3.body import BodyReader
from gateway.s3.credentials import AuthResult, AuthScheme
from gateway.s3.errors import S3Error
from tests.s3_requests import head, raw_exchange, signed_chunks, unsigned_trailer_body
from tests.unit.test_s3_echo import SECRET, boto_client, echo_of, echo_server, send, sign


def _code(body: bytes) -> str:
    return ET.fromstring(body).findtext("Code") or ""


def _crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


# --- boto3, default configuration ------------------------------------------------------


async def test_boto3_put_over_http_sends_signed_sha256_and_crc32_which_verify():
    data = bytes(range(256)) * 1000
    async with echo_server() as (url, _):
        resp = await asyncio.to_thread(lambda: boto_client(url).put_object(Bucket="bucket", Key="k", Body=data))
        echoed = echo_of(resp["ResponseMetadata"]["HTTPHeaders"])
        assert echoed["payload"] == "SHA256"
        assert echoed["checksums"] == {"CRC32": _crc32_b64(data)}
        assert echoed["etag"] == f'"{hashlib.md5(data).hexdigest()}"' == resp["ETag"]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    return ctx, d / "cert.pem"


async def test_boto3_put_over_https_streams_unsigned_trailer_with_bounded_blocks(tls):
    ctx, ca = tls
    data = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32 + 7)  # > 3 MiB, Expect: 100-continue
    async with echo_server(ctx) as (url, state):

        def put() -> dict:
            import boto3

            client = boto3.client(
                "s3", endpoint_url=url, verify=str(ca), region_name="us-east-1",
                aws_access_key_id="AKIDGEOSHARDTEST", aws_secret_access_key=SECRET,
            )  # fmt: skip
            return client.put_object(Bucket="bucket", Key="big", Body=io.BytesIO(data))

        resp = await asyncio.to_thread(put)
        echoed = echo_of(resp["ResponseMetadata"]["HTTPHeaders"])
        assert echoed["payload"] == "STREAMING_UNSIGNED_TRAILER"
        assert echoed["size"] == len(data) and echoed["sha256"] == hashlib.sha256(data).hexdigest()
        assert echoed["checksums"] == {"CRC32": _crc32_b64(data)}
        assert max(state.block_sizes) <= 64 * 1024  # the echo app's block size: never the whole body


# --- hand-framed aws-chunked bodies ----------------------------------------------------


def _streaming_request(url: str, body: bytes, mode: str, decoded: int, extra: dict[str, str] | None = None):
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(decoded),
        **(extra or {}),
    }
    return sign("v4", "PUT", url, body, headers, payload=mode)


async def test_unsigned_trailer_with_the_right_crc_is_accepted():
    data = b"hello world" * 100
    async with echo_server() as (url, _):
        body = unsigned_trailer_body([data[:500], data[500:]], f"x-amz-checksum-crc32:{_crc32_b64(data)}")
        req = _streaming_request(
            url + "/bucket/k", body, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", len(data),
            {"X-Amz-Trailer": "x-amz-checksum-crc32"},
        )  # fmt: skip
        status, headers, raw = await send(req)
        assert status == 200, raw
        assert echo_of(headers)["checksums"] == {"CRC32": _crc32_b64(data)}


async def test_trailing_checksum_mismatch_is_bad_digest():
    data = b"hello world"
    async with echo_server() as (url, _):
        body = unsigned_trailer_body([data], f"x-amz-checksum-crc32:{_crc32_b64(b'other')}")
        req = _streaming_request(
            url + "/bucket/k", body, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", len(data),
            {"X-Amz-Trailer": "x-amz-checksum-crc32"},
        )  # fmt: skip
        status, _, raw = await send(req)
        root = ET.fromstring(raw)
        assert (status, root.findtext("Code")) == (400, "BadDigest")
        assert root.findtext("Message") == "The CRC32 you specified did not match the calculated checksum."


async def test_declared_trailer_that_never_comes_is_rejected():
    data = b"hello"
    async with echo_server() as (url, _):
        req = _streaming_request(
            url + "/bucket/k", unsigned_trailer_body([data], "")[:-2], "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            len(data), {"X-Amz-Trailer": "x-amz-checksum-crc32"},
        )  # fmt: skip
        status, _, raw = await send(req)
        assert (status, _code(raw)) == (400, "InvalidRequest")


# AWS's "Signature Calculation: Transfer Payload in Multiple Chunks" example.
AWS_CHUNKED_SIGS = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
]


def _aws_chunked_example(corrupt: bool = False) -> tuple[dict[str, str], bytes]:
    parts = []
    for size, sig in zip((65536, 1024, 0), AWS_CHUNKED_SIGS, strict=True):
        data = bytearray(b"a" * size)
        if corrupt and size == 1024:
            data[10] = ord("b")
        parts.append(b"%x;chunk-signature=%s\r\n%s\r\n" % (size, sig.encode(), bytes(data)))
    body = b"".join(parts)
    headers = {
        "Host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        "x-amz-decoded-content-length;x-amz-storage-class,"
        "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "Content-Length": str(len(body)),
    }
    return headers, body


async def test_aws_documented_signed_chunked_upload_is_decoded():
    async with echo_server() as (url, state):
        state.clock = lambda: 1369353600.0
        import tests.unit.test_s3_echo as echo

        echo_lookup = echo.lookup

        async def with_aws_key(key: str):
            if key == "AKIAIOSFODNN7EXAMPLE":
                return "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws-docs"
            return await echo_lookup(key)

        echo.lookup = with_aws_key
        try:
            headers, body = _aws_chunked_example()
            answer = await raw_exchange(url, head("PUT", "/examplebucket/chunkObject.txt", headers), body)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:600]
            assert hashlib.sha256(b"a" * 66560).hexdigest().encode() in answer
            headers, body = _aws_chunked_example(corrupt=True)
            answer = await raw_exchange(url, head("PUT", "/examplebucket/chunkObject.txt", headers), body)
            assert answer.startswith(b"HTTP/1.1 403") and b"<Code>SignatureDoesNotMatch</Code>" in answer
        finally:
            echo.lookup = echo_lookup


async def _signed_streaming_put(url: str, data: bytes, chunks: list[bytes], trailer: str | None, tweak=None):
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer is not None else "")
    extra = {"X-Amz-Trailer": "x-amz-checksum-crc32"} if trailer is not None else {}
    req = _streaming_request(url + "/bucket/k", b"", mode, len(data), extra)
    seed = req.headers["Authorization"].rsplit("Signature=", 1)[1]
    body = signed_chunks(SECRET, seed, req.context["timestamp"], chunks, trailer)
    if tweak is not None:
        body = tweak(body)
    req.data = body
    return await send(req)


async def test_signed_chunks_with_signed_trailer_verify():
    data = b"x" * 9000 + b"y" * 100
    async with echo_server() as (url, _):
        status, headers, raw = await _signed_streaming_put(
            url, data, [data[:9000], data[9000:]], f"x-amz-checksum-crc32:{_crc32_b64(data)}"
        )
        assert status == 200, raw
        echoed = echo_of(headers)
        assert echoed["payload"] == "STREAMING_SIGNED_TRAILER" and echoed["size"] == len(data)


async def test_chunk_with_a_bad_signature_is_signature_does_not_match():
    data = b"x" * 9000
    async with echo_server() as (url, _):
        status, _, raw = await _signed_streaming_put(
            url, data, [data], None, tweak=lambda b: b.replace(b"x" * 10, b"z" * 10, 1)
        )
        assert (status, _code(raw)) == (403, "SignatureDoesNotMatch")


async def test_reordered_chunks_do_not_verify():
    data = b"a" * 100 + b"b" * 100
    async with echo_server() as (url, _):

        def swap(body: bytes) -> bytes:
            first, second, rest = body.split(b"\r\n", 4)[0:2], body.split(b"\r\n", 4)[2:4], body.split(b"\r\n", 4)[4]
            return b"\r\n".join(second + first) + b"\r\n" + rest

        status, _, raw = await _signed_streaming_put(url, data, [data[:100], data[100:]], None, tweak=swap)
        assert (status, _code(raw)) == (403, "SignatureDoesNotMatch")


async def test_signed_trailer_with_a_bad_trailer_signature_is_rejected():
    data = b"q" * 100
    async with echo_server() as (url, _):
        status, _, raw = await _signed_streaming_put(
            url, data, [data], f"x-amz-checksum-crc32:{_crc32_b64(data)}",
            tweak=lambda b: b.replace(b"x-amz-trailer-signature:", b"x-amz-trailer-signature:0", 1)[:-3] + b"\r\n\r\n",
        )  # fmt: skip
        assert (status, _code(raw)) == (403, "SignatureDoesNotMatch")


async def test_aws_chunked_body_shorter_than_decoded_length_is_incomplete_body():
    async with echo_server() as (url, _):
        body = unsigned_trailer_body([b"x" * 50], "")[:-2]
        req = _streaming_request(url + "/bucket/k", body, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", 100)
        status, _, raw = await send(req)
        assert (status, _code(raw)) == (400, "IncompleteBody")


async def test_aws_chunked_body_longer_than_decoded_length_is_rejected():
    async with echo_server() as (url, _):
        body = unsigned_trailer_body([b"x" * 50, b"y" * 50], "")[:-2]
        req = _streaming_request(url + "/bucket/k", body, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", 60)
        status, _, raw = await send(req)
        assert (status, _code(raw)) == (400, "InvalidRequest")


async def test_malformed_chunk_size_is_rejected():
    async with echo_server() as (url, _):
        req = _streaming_request(
            url + "/bucket/k", b"zz\r\nhello\r\n0\r\n\r\n", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", 5
        )
        status, _, raw = await send(req)
        assert (status, _code(raw)) == (400, "InvalidRequest")


# --- plain bodies ----------------------------------------------------------------------


async def test_content_md5_mismatch_is_bad_digest_and_malformed_is_invalid_digest():
    async with echo_server() as (url, _):
        wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
        status, _, raw = await send(sign("v4", "PUT", url + "/bucket/k", b"hello", {"Content-MD5": wrong}))
        assert (status, _code(raw)) == (400, "BadDigest")
        status, _, raw = await send(sign("v4", "PUT", url + "/bucket/k", b"hello", {"Content-MD5": "nope"}))
        assert (status, _code(raw)) == (400, "InvalidDigest")
        right = base64.b64encode(hashlib.md5(b"hello").digest()).decode()
        status, _, raw = await send(sign("v2", "PUT", url + "/bucket/k", b"hello", {"Content-MD5": right}))
        assert status == 200, raw


async def test_checksum_header_mismatch_is_bad_digest_and_two_algorithms_invalid_request():
    async with echo_server() as (url, _):
        claim = {"x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(b"other").digest()).decode()}
        status, _, raw = await send(sign("v4", "PUT", url + "/bucket/k", b"hello", claim))
        assert (
            ET.fromstring(raw).findtext("Message") == "The SHA256 you specified did not match the calculated checksum."
        )
        both = {**claim, "x-amz-checksum-crc32": _crc32_b64(b"hello")}
        status, _, raw = await send(sign("v4", "PUT", url + "/bucket/k", b"hello", both))
        assert (status, _code(raw)) == (400, "InvalidRequest")


async def test_signed_sha256_that_does_not_match_the_body_is_xamz_content_sha256_mismatch():
    async with echo_server() as (url, _):
        claim = hashlib.sha256(b"something else").hexdigest()
        status, _, raw = await send(sign("v4", "PUT", url + "/bucket/k", b"hello", payload=claim))
        root = ET.fromstring(raw)
        assert (status, root.findtext("Code")) == (400, "XAmzContentSHA256Mismatch")
        assert root.findtext("S3ComputedContentSHA256") == hashlib.sha256(b"hello").hexdigest()


async def test_declared_size_over_the_limit_is_entity_too_large_before_reading():
    async with echo_server() as (url, state):
        status, _, raw = await send(sign("v4", "PUT", url + "/bucket/k", b"x" * 100, {"x-test-max-size": "10"}))
        assert (status, _code(raw)) == (400, "EntityTooLarge")
        assert state.block_sizes == []


def _raw_signed_head(url: str, body_len: int | None, extra: dict[str, str] | None = None) -> bytes:
    headers = dict(extra or {})
    if body_len is not None:
        headers["Content-Length"] = str(body_len)
    prepared = sign("v4", "PUT", url + "/bucket/k", b"", headers, payload="UNSIGNED-PAYLOAD").prepare()
    hdrs = dict(prepared.headers.items())
    hdrs["Host"] = url.split("//")[1]
    if body_len is None:
        hdrs.pop("Content-Length", None)
    return head("PUT", "/bucket/k", hdrs)


async def test_missing_content_length_is_411_missing_content_length():
    async with echo_server() as (url, _):
        head = _raw_signed_head(url, None, {"Transfer-Encoding": "chunked"})
        answer = await raw_exchange(url, head, b"5\r\nhello\r\n0\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 411") and b"<Code>MissingContentLength</Code>" in answer


async def test_body_shorter_than_content_length_is_incomplete_body():
    payload = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(b"x" * 50)
    payload.feed_eof()
    request = make_mocked_request("PUT", "/bucket/k", headers={"Content-Length": "100", "Host": "h"}, payload=payload)
    reader = BodyReader(request, AuthResult("k", "t", AuthScheme.SIGV4_HEADER))
    with pytest.raises(S3Error) as e:
        async for _ in reader:
            pass
    assert e.value.code == "IncompleteBody"


async def test_client_that_disconnects_mid_body_never_completes_the_read():
    async with echo_server() as (url, state):
        await raw_exchange(url, _raw_signed_head(url, 100), b"x" * 50, half_close=True)
        for _ in range(100):
            if state.body_errors:
                break
            await asyncio.sleep(0.01)
        assert state.body_errors in (["IncompleteBody"], ["cancelled"]) and state.completed == 0


async def test_bytes_beyond_content_length_never_reach_the_reader():
    # HTTP framing decides: aiohttp hands the reader exactly Content-Length bytes and treats
    # the rest as a next (here malformed) request, which it answers 400 and closes.
    async with echo_server() as (url, state):
        head = _raw_signed_head(url, 5).replace(b"Connection: close\r\n", b"")
        answer = await raw_exchange(url, head, b"helloEXTRA-BYTES")
        assert b"400 Bad Request" in answer
        assert sum(state.block_sizes) <= 5


# --- Expect: 100-continue --------------------------------------------------------------


async def _expect_continue(url: str, head: bytes, body: bytes) -> tuple[bytes, bytes]:
    host, port = url.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head)
        await writer.drain()
        first = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        if first.startswith(b"HTTP/1.1 100"):
            writer.write(body)
            await writer.drain()
        rest = await asyncio.wait_for(reader.read(65536), 5)
        return first, rest
    finally:
        writer.close()


async def test_expect_100_continue_is_sent_only_after_authentication():
    async with echo_server() as (url, _):
        first, rest = await _expect_continue(url, _raw_signed_head(url, 5, {"Expect": "100-continue"}), b"hello")
        assert first.startswith(b"HTTP/1.1 100 Continue") and rest.startswith(b"HTTP/1.1 200")
        head = _raw_signed_head(url, 5, {"Expect": "100-continue"}).replace(b"Signature=", b"Signature=0")
        first, _ = await _expect_continue(url, head, b"hello")
        assert first.startswith(b"HTTP/1.1 403")  # refused without asking for the body


async def test_boto3_large_put_with_expect_continue_succeeds():
    data = b"e" * (2 * 1024 * 1024)
    async with echo_server() as (url, _):
        resp = await asyncio.to_thread(
            lambda: boto_client(url).put_object(Bucket="bucket", Key="k", Body=io.BytesIO(data))
        )
        assert echo_of(resp["ResponseMetadata"]["HTTPHeaders"])["size"] == len(data)


async def test_boto3_upload_part_goes_through_the_body_reader():
    async with echo_server() as (url, _):
        resp = await asyncio.to_thread(
            lambda: boto_client(url).upload_part(
                Bucket="bucket", Key="k", UploadId="abc", PartNumber=3, Body=b"part-data"
            )
        )
        echoed = echo_of(resp["ResponseMetadata"]["HTTPHeaders"])
        assert echoed["operation"] == "UploadPart" and echoed["size"] == 9
        assert time.time() > 0
