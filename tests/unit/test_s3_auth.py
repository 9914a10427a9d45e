"""Signature verification: botocore's real signers and boto3's presigned URLs against the
echo app, AWS's published SigV4 examples as known answers, and each bad input AWS names."""

from __future__ import annotations

import asyncio
import json
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import pytest
from aiohttp import ClientSession
from botocore.credentials import Credentials
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from gateway.s3.credentials import AuthConfig, AuthScheme
from gateway.s3.errors import S3Error
from gateway.s3.sigv4 import verify_sigv4_header, verify_sigv4_query
from tests.unit.test_s3_echo import ACCESS_KEY, TENANT, boto_client, echo_of, echo_server, send, sign


def _code(body: bytes) -> str:
    return ET.fromstring(body).findtext("Code") or ""


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async with ClientSession() as s, s.get(URL(url, encoded=True), headers=headers) as r:
        return r.status, await r.read()


# --- AWS's published examples (Signature Version 4, "Examples: Signature Calculations") --

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MAY_24_2013 = 1369353600.0  # 20130524T000000Z


async def _aws_lookup(key: str) -> tuple[str, str] | None:
    return (AWS_SECRET, "aws-docs") if key == AWS_KEY else None


def _hdrs(**kv: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in kv.items()}))


async def test_aws_documented_get_object_signature_verifies():
    headers = _hdrs(
        Host="examplebucket.s3.amazonaws.com",
        Range="bytes=0-9",
        x_amz_content_sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        x_amz_date="20130524T000000Z",
        Authorization="AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    )
    result = await verify_sigv4_header("GET", "/test.txt", headers, _aws_lookup, AuthConfig(clock=lambda: MAY_24_2013))
    assert result.tenant_id == "aws-docs" and result.scheme is AuthScheme.SIGV4_HEADER


async def test_aws_documented_presigned_url_verifies_and_then_expires():
    target = (
        "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    query = dict(parse_qsl(target.split("?", 1)[1]))
    headers = _hdrs(Host="examplebucket.s3.amazonaws.com")
    ok = await verify_sigv4_query(
        "GET", target, query, headers, _aws_lookup, AuthConfig(clock=lambda: MAY_24_2013 + 3600)
    )
    assert ok.scheme is AuthScheme.SIGV4_QUERY
    with pytest.raises(S3Error) as e:
        await verify_sigv4_query(
            "GET", target, query, headers, _aws_lookup, AuthConfig(clock=lambda: MAY_24_2013 + 86401)
        )
    assert (e.value.code, e.value.message) == ("AccessDenied", "Request has expired")


async def test_region_is_enforced_when_configured():
    req = sign("v4", "GET", "http://127.0.0.1:1/bucket/k", region="eu-central-1")
    headers = CIMultiDictProxy(CIMultiDict(req.prepare().headers.items()))
    with pytest.raises(S3Error) as e:
        await verify_sigv4_header(
            "GET", "/bucket/k", _hdrs(Host="127.0.0.1:1", **{k.replace("-", "_"): v for k, v in headers.items()}),
            lambda k: _aws_lookup(k), AuthConfig(region="us-east-1"),
        )  # fmt: skip
    assert e.value.code == "AuthorizationHeaderMalformed" and e.value.fields["Region"] == "us-east-1"


# --- botocore's signers through a real server ------------------------------------------


@pytest.mark.parametrize("signer", ["v4", "v4-query", "v2", "v2-query"])
@pytest.mark.parametrize("key", ["plain.txt", "my file (1).txt", "a+b=c&d", "dir/sub/", "été/✓ ~*'!"])
async def test_botocore_signers_are_accepted_for_awkward_keys(signer, key):
    async with echo_server() as (url, _):
        status, _, body = await send(sign(signer, "GET", f"{url}/bucket/{quote(key, safe='/~')}"))
        assert status == 200, body
        echoed = json.loads(body)
        assert (echoed["key"], echoed["tenant"]) == (key, TENANT)


async def test_query_parameters_are_canonicalised_like_aws():
    async with echo_server() as (url, _):
        target = url + "/bucket?list-type=2&prefix=a%20b%2Bc&delimiter=%2F&empty=&flag&x-id=ListObjectsV2"
        status, _, body = await send(sign("v4", "GET", target))
        assert status == 200, body
        assert b'"operation": "ListObjectsV2"' in body


async def test_virtual_host_requests_verify_with_v4_and_v2():
    async with echo_server() as (url, _):
        port = urlsplit(url).port
        for signer in ("v4", "v2"):
            # SigV2 signs the bucket as part of the resource path even in the host name.
            req = sign(signer, "GET", f"http://bucket.s3.localhost:{port}/k%20y", auth_path="/bucket/k%20y")
            prepared = req.prepare()
            headers = dict(prepared.headers.items())
            headers["Host"] = f"bucket.s3.localhost:{port}"
            async with ClientSession() as s, s.get(URL(f"{url}/k%20y", encoded=True), headers=headers) as r:
                body = await r.read()
                assert r.status == 200, body
                assert b'"bucket": "bucket"' in body and b'"key": "k y"' in body


async def test_wrong_secret_is_signature_does_not_match_with_string_to_sign():
    async with echo_server() as (url, _):
        bad = Credentials(ACCESS_KEY, "not-the-secret")
        status, _, body = await send(sign("v4", "GET", url + "/bucket/k", credentials=bad))
        root = ET.fromstring(body)
        assert status == 403 and root.findtext("Code") == "SignatureDoesNotMatch"
        assert root.findtext("StringToSign", "").startswith("AWS4-HMAC-SHA256\n")
        assert root.findtext("AWSAccessKeyId") == ACCESS_KEY


@pytest.mark.parametrize("signer", ["v4", "v2", "v4-query", "v2-query"])
async def test_unknown_access_key_is_invalid_access_key_id(signer):
    async with echo_server() as (url, _):
        stranger = Credentials("AKIDNOBODY", "whatever")
        status, _, body = await send(sign(signer, "GET", url + "/bucket/k", credentials=stranger))
        assert (status, _code(body)) == (403, "InvalidAccessKeyId")


@pytest.mark.parametrize("signer", ["v4", "v2"])
async def test_skewed_clock_is_request_time_too_skewed(signer):
    async with echo_server() as (url, state):
        state.clock = lambda: time.time() + 16 * 60
        status, _, body = await send(sign(signer, "GET", url + "/bucket/k"))
        assert (status, _code(body)) == (403, "RequestTimeTooSkewed")
        state.clock = lambda: time.time() + 14 * 60
        status, _, _ = await send(sign(signer, "GET", url + "/bucket/k"))
        assert status == 200


async def test_header_added_after_signing_changes_the_signature():
    async with echo_server() as (url, _):
        req = sign("v4", "GET", url + "/bucket/k", headers={"Range": "bytes=0-1"})
        req.headers.replace_header("Range", "bytes=0-100")
        status, _, body = await send(req)
        assert (status, _code(body)) == (403, "SignatureDoesNotMatch")


async def test_unsigned_amz_header_is_access_denied():
    async with echo_server() as (url, _):
        req = sign("v4", "GET", url + "/bucket/k")
        req.headers["x-amz-meta-sneaky"] = "1"
        status, _, body = await send(req)
        root = ET.fromstring(body)
        assert (status, root.findtext("Code")) == (403, "AccessDenied")
        assert root.findtext("HeadersNotSigned") == "x-amz-meta-sneaky"


async def test_missing_content_sha256_header_is_invalid_request():
    async with echo_server() as (url, _):
        req = sign("v4", "GET", url + "/bucket/k")
        del req.headers["X-Amz-Content-SHA256"]
        status, _, body = await send(req)
        assert (status, _code(body)) == (400, "InvalidRequest")


async def test_unsigned_request_is_access_denied_and_unknown_scheme_invalid_argument():
    async with echo_server() as (url, _):
        assert (await _get(url + "/bucket/k"))[0] == 403
        status, body = await _get(url + "/bucket/k", {"Authorization": "Bearer abc"})
        assert (status, _code(body)) == (400, "InvalidArgument")


async def test_header_and_presigned_auth_together_are_rejected():
    async with echo_server() as (url, _):
        presigned = sign("v4-query", "GET", url + "/bucket/k").prepare().url
        req = sign("v4", "GET", presigned)
        status, _, body = await send(req)
        assert (status, _code(body)) == (400, "InvalidArgument")


# --- presigned URLs from boto3 ---------------------------------------------------------


def _presign(url: str, expires: int = 3600, **config) -> str:
    client = boto_client(url, **config)
    return client.generate_presigned_url(
        "get_object", Params={"Bucket": "bucket", "Key": "photos/a b+c.jpg"}, ExpiresIn=expires
    )


async def test_boto3_default_presigned_url_is_sigv2_and_verifies():
    async with echo_server() as (url, _):
        presigned = await asyncio.to_thread(_presign, url)
        assert "AWSAccessKeyId=" in presigned and "Signature=" in presigned
        status, body = await _get(presigned)
        assert status == 200, body
        assert b'"scheme": "SIGV2_QUERY"' in body and b'"key": "photos/a b+c.jpg"' in body


async def test_boto3_sigv4_presigned_url_verifies():
    async with echo_server() as (url, _):
        presigned = await asyncio.to_thread(_presign, url, 600, signature_version="s3v4")
        assert "X-Amz-Signature=" in presigned
        status, body = await _get(presigned)
        assert status == 200 and b'"scheme": "SIGV4_QUERY"' in body, body


@pytest.mark.parametrize("version", ["s3", "s3v4"])
async def test_expired_presigned_url_is_access_denied_request_has_expired(version):
    async with echo_server() as (url, state):
        presigned = await asyncio.to_thread(_presign, url, 60, signature_version=version)
        state.clock = lambda: time.time() + 61
        status, body = await _get(presigned)
        root = ET.fromstring(body)
        assert (status, root.findtext("Code"), root.findtext("Message")) == (
            403,
            "AccessDenied",
            "Request has expired",
        )


def _tamper(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.mark.parametrize(
    ("version", "change"),
    [
        ("s3", {"Expires": str(int(time.time()) + 99999)}),
        ("s3v4", {"X-Amz-Expires": "7200"}),
        ("s3v4", {"response-content-type": "text/html"}),
        ("s3", {"response-content-type": "text/html"}),
    ],
)
async def test_tampered_presigned_url_is_signature_does_not_match(version, change):
    async with echo_server() as (url, _):
        presigned = await asyncio.to_thread(_presign, url, 600, signature_version=version)
        status, body = await _get(_tamper(presigned, **change))
        assert (status, _code(body)) == (403, "SignatureDoesNotMatch")


async def test_presigned_url_for_another_key_does_not_verify():
    async with echo_server() as (url, _):
        presigned = await asyncio.to_thread(_presign, url, 600, signature_version="s3v4")
        status, body = await _get(presigned.replace("/photos/", "/secret/"))
        assert (status, _code(body)) == (403, "SignatureDoesNotMatch")


async def test_presigned_url_longer_than_a_week_is_rejected_with_403():
    async with echo_server() as (url, _):
        presigned = sign("v4-query", "GET", url + "/bucket/k", expires=604801).prepare().url
        status, body = await _get(presigned)
        root = ET.fromstring(body)
        assert (status, root.findtext("Code")) == (403, "AuthorizationQueryParametersError")
        assert root.findtext("Message") == (
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less "
            "than 604800 seconds"
        )


@pytest.mark.parametrize(("expires", "code", "message"), [
    ("0", "AccessDenied", "Request has expired"),
    ("-1", "AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative"),
])  # fmt: skip
async def test_presigned_url_expiring_below_one_second_is_403(expires: str, code: str, message: str):
    async with echo_server() as (url, _):
        presigned = sign("v4-query", "GET", url + "/bucket/k", expires=600).prepare().url
        status, body = await _get(presigned.replace("X-Amz-Expires=600", f"X-Amz-Expires={expires}"))
        root = ET.fromstring(body)
        assert (status, root.findtext("Code"), root.findtext("Message")) == (403, code, message)


async def test_empty_authorization_header_is_access_denied():
    async with echo_server() as (url, _):
        async with ClientSession() as s, s.get(url + "/bucket/k", headers={"Authorization": ""}) as r:
            status, body = r.status, await r.read()
        assert (status, _code(body)) == (403, "AccessDenied")


async def test_presigned_put_with_sigv2_reads_the_body():
    async with echo_server() as (url, _):
        client = boto_client(url)
        presigned = await asyncio.to_thread(
            client.generate_presigned_url, "put_object", Params={"Bucket": "bucket", "Key": "up"}
        )
        async with (
            ClientSession() as s,
            s.put(URL(presigned, encoded=True), data=b"payload", skip_auto_headers=("Content-Type",)) as r,
        ):
            assert r.status == 200, await r.read()
            echoed = echo_of(dict(r.headers))
        assert echoed["size"] == 7 and echoed["tenant"] == TENANT


async def test_plus_in_the_query_is_a_space_for_the_signature_as_sdks_sign_it():
    # A Rust/Go SDK sends "prefix=my+data%2F" having signed the canonical "prefix=my%20data%2F".
    async with echo_server() as (url, _):
        req = sign("v4", "GET", url + "/bucket?list-type=2&prefix=my%20data%2F")
        prepared = req.prepare()
        status, body = await _get(prepared.url.replace("my%20data", "my+data"), dict(prepared.headers.items()))
        assert status == 200, body
        assert json.loads(body)["operation"] == "ListObjectsV2"


async def test_sigv2_header_signed_bucket_request_verifies_as_botocore_signs_it():
    # botocore's HmacV1 signs a path-style bucket request as "/bucket/" (trailing slash).
    async with echo_server() as (url, _):
        client = boto_client(url, signature_version="s3")
        await asyncio.to_thread(client.create_bucket, Bucket="bucket")
        await asyncio.to_thread(client.delete_bucket, Bucket="bucket")
