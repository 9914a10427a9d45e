"""CORS as browsers meet it, through a real gateway, satellite and nodes.

Rules are set with boto3 (Put/Get/DeleteBucketCors); preflights and actual requests are sent
as a browser sends them, with ``requests``: an ``Origin``, and for preflights
``Access-Control-Request-Method`` / ``-Headers``, unsigned.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

import requests

from tests.integration.test_gateway_objects import code
from tests.planet import fails, planet

APP = "https://app.example.com"
RULES = [
    {"ID": "app", "AllowedOrigins": [APP], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag", "x-amz-request-id"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]  # fmt: skip


async def _http(method: str, url: str, **kwargs: Any) -> requests.Response:
    return await asyncio.to_thread(requests.request, method, url, timeout=30, **kwargs)


def _code(resp: requests.Response) -> str:
    return ET.fromstring(resp.content).findtext("Code") or ""


async def test_preflights_and_responses_follow_the_bucket_rules(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="web")
        await net.s3(s3.put_object, Bucket="web", Key="page.html", Body=b"<p>hi</p>")
        url = f"{net.endpoint}/web/page.html"
        # No rules yet: preflights are refused, actual responses carry no CORS headers.
        r = await _http("OPTIONS", url, headers={"Origin": APP, "Access-Control-Request-Method": "GET"})
        assert (r.status_code, _code(r)) == (403, "AccessForbidden") and "not enabled" in r.text
        err = await fails(net, s3.get_bucket_cors, Bucket="web")
        assert (code(err), err.response["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchCORSConfiguration", 404)

        await net.s3(s3.put_bucket_cors, Bucket="web", CORSConfiguration={"CORSRules": RULES})
        got = await net.s3(s3.get_bucket_cors, Bucket="web")
        assert got["CORSRules"] == RULES

        asking = {"Origin": APP, "Access-Control-Request-Method": "PUT",
                  "Access-Control-Request-Headers": "Content-Type, x-amz-meta-owner"}  # fmt: skip
        r = await _http("OPTIONS", url, headers=asking)
        assert r.status_code == 200, r.text
        assert r.headers["Access-Control-Allow-Origin"] == APP
        assert r.headers["Access-Control-Allow-Credentials"] == "true"
        assert r.headers["Access-Control-Allow-Methods"] == "GET, PUT"
        assert r.headers["Access-Control-Allow-Headers"] == "Content-Type, x-amz-meta-owner"
        assert r.headers["Access-Control-Max-Age"] == "600"
        assert "Origin" in r.headers["Vary"]
        # Another origin: only the wildcard rule, and only for GET.
        other = {"Origin": "https://evil.example.net"}
        r = await _http("OPTIONS", url, headers={**other, "Access-Control-Request-Method": "GET"})
        assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in r.headers
        r = await _http("OPTIONS", url, headers={**other, "Access-Control-Request-Method": "PUT"})
        assert (r.status_code, _code(r)) == (403, "AccessForbidden")
        r = await _http("OPTIONS", url, headers={"Origin": APP, "Access-Control-Request-Method": "PUT",
                                                 "Access-Control-Request-Headers": "authorization"})  # fmt: skip
        assert r.status_code == 403  # a header no rule allows
        r = await _http("OPTIONS", url, headers={"Access-Control-Request-Method": "GET"})
        assert (r.status_code, _code(r)) == (400, "BadRequest")
        get = {"Origin": APP, "Access-Control-Request-Method": "GET"}
        r = await _http("OPTIONS", f"{net.endpoint}/no-such-bucket/x", headers=get)
        assert (r.status_code, _code(r)) == (404, "NoSuchBucket")

        # Actual requests (a presigned GET, as a page would fetch it): headers on success and on errors.
        signed = await net.s3(s3.generate_presigned_url, "get_object", Params={"Bucket": "web", "Key": "page.html"})
        r = await _http("GET", signed, headers={"Origin": APP})
        assert r.status_code == 200 and r.content == b"<p>hi</p>"
        assert r.headers["Access-Control-Allow-Origin"] == APP
        assert r.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
        r = await _http("GET", signed)
        assert "Access-Control-Allow-Origin" not in r.headers
        missing = await net.s3(s3.generate_presigned_url, "get_object", Params={"Bucket": "web", "Key": "gone"})
        r = await _http("GET", missing, headers={"Origin": APP})
        assert r.status_code == 404 and r.headers["Access-Control-Allow-Origin"] == APP

        await net.s3(s3.delete_bucket_cors, Bucket="web")
        r = await _http("OPTIONS", url, headers={"Origin": APP, "Access-Control-Request-Method": "GET"})
        assert r.status_code == 403
        err = await fails(net, s3.get_bucket_cors, Bucket="web")
        assert code(err) == "NoSuchCORSConfiguration"


async def test_bad_cors_configurations_are_refused_as_aws_refuses_them(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="web")
        for rule, wanted in (
            ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "InvalidRequest"),
            ({"AllowedOrigins": ["https://*.*.example.com"], "AllowedMethods": ["GET"]}, "InvalidRequest"),
        ):
            err = await fails(net, s3.put_bucket_cors, Bucket="web", CORSConfiguration={"CORSRules": [rule]})
            assert code(err) == wanted
        err = await fails(net, s3.put_bucket_cors, Bucket="web", CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101})  # fmt: skip
        assert code(err) == "InvalidRequest"
        err = await fails(net, s3.get_bucket_cors, Bucket="web")
        assert code(err) == "NoSuchCORSConfiguration"  # nothing was stored
        # Another tenant cannot read or set this bucket's rules.
        other = net.client(1)
        err = await fails(net, other.put_bucket_cors, Bucket="web", CORSConfiguration={"CORSRules": RULES})
        assert code(err) == "AccessDenied"
