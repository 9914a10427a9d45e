"""The S3 error table, the XML error body and the request-id stamping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.s3 import errors
from gateway.s3.errors import ERRORS, S3Error, install, map_domain_error, register_domain_error


def test_error_table_has_aws_statuses_and_words():
    assert ERRORS["NoSuchKey"].status == 404
    assert ERRORS["NoSuchKey"].message == "The specified key does not exist."
    assert ERRORS["NotModified"].status == 304
    assert ERRORS["InvalidRange"].status == 416
    assert ERRORS["MissingContentLength"].status == 411
    assert ERRORS["PreconditionFailed"].status == 412
    assert ERRORS["SignatureDoesNotMatch"].status == 403
    assert ERRORS["NotImplemented"].status == 501
    assert ERRORS["SlowDown"].status == 503


def test_unknown_code_is_a_programming_error():
    with pytest.raises(KeyError):
        S3Error("NoSuchThing")


def test_error_xml_has_code_message_fields_resource_and_request_id_in_aws_order():
    err = S3Error("NoSuchKey", resource="/b/a&b", Key="a&b")
    root = ET.fromstring(err.to_xml("REQ1", "HOST1"))
    assert [c.tag for c in root] == ["Code", "Message", "Key", "Resource", "RequestId", "HostId"]
    assert root.findtext("Key") == "a&b"
    assert root.findtext("RequestId") == "REQ1"


class DomainGone(Exception):
    pass


class DomainGoneForever(DomainGone):
    pass


def test_domain_errors_map_through_their_mro():
    register_domain_error(DomainGone, lambda e: S3Error("NoSuchBucket", BucketName=str(e)))
    err = map_domain_error(DomainGoneForever("b1"))
    assert err is not None and err.code == "NoSuchBucket" and err.fields["BucketName"] == "b1"
    assert map_domain_error(ValueError()) is None
    same = S3Error("AccessDenied")
    assert map_domain_error(same) is same


async def _app_client(handler) -> TestClient:
    app = web.Application()
    install(app)
    app.router.add_route("*", "/{tail:.*}", handler)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_every_response_carries_request_ids_and_errors_are_aws_xml():
    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path == "/ok":
            resp = web.StreamResponse()
            await resp.prepare(request)
            await resp.write(b"streamed")
            return resp
        if request.path == "/boom":
            raise RuntimeError("bug")
        raise S3Error(
            "InvalidRange",
            headers={"Content-Range": "bytes */10"},
            RangeRequested="bytes=20-",
            ActualObjectSize=10,
        )

    client = await _app_client(handler)
    try:
        ok = await client.get("/ok")
        assert ok.status == 200 and len(ok.headers["x-amz-request-id"]) == 16
        assert ok.headers["x-amz-id-2"]
        bad = await client.get("/b/k")
        body = await bad.read()
        root = ET.fromstring(body)
        assert bad.status == 416 and bad.headers["Content-Range"] == "bytes */10"
        assert root.findtext("Code") == "InvalidRange"
        assert root.findtext("Resource") == "/b/k"
        assert root.findtext("RequestId") == bad.headers["x-amz-request-id"]
        head = await client.head("/b/k")
        assert head.status == 416 and await head.read() == b""
        boom = await client.get("/boom")
        assert boom.status == 500
        assert ET.fromstring(await boom.read()).findtext("Code") == "InternalError"
    finally:
        await client.close()


def test_request_id_is_stable_per_request():
    class Fake(dict):
        pass

    r = Fake()
    assert errors.request_id(r) == errors.request_id(r)  # type: ignore[arg-type]
