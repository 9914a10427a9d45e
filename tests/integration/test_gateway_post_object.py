"""Browser-based uploads (POST Object with a signed policy), posted as a browser posts a form.

Forms come from boto3's ``generate_presigned_post`` (SigV4, and SigV2 with ``signature_version
="s3"``) and are sent with ``requests`` as ``multipart/form-data``, file last.
"""

from __future__ import annotations

import asyncio
import base64
import json
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.planet import Planet, planet

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


async def _post(form: dict[str, Any], file: bytes, *, filename: str = "hello.txt", **kw: Any) -> requests.Response:
    files = {"file": (filename, file, "application/octet-stream")}
    return await asyncio.to_thread(requests.post, form["url"], data=form["fields"], files=files, timeout=30, **kw)


def _code(r: requests.Response) -> str:
    return ET.fromstring(r.content).findtext("Code") or ""


async def _form(net: Planet, s3: Any, key: str, fields: dict[str, str], conditions: list[Any],
                expires: int = 300) -> dict[str, Any]:  # fmt: skip
    return await net.s3(s3.generate_presigned_post, "forms", key, Fields=fields, Conditions=conditions,
                        ExpiresIn=expires)  # fmt: skip


async def test_sigv4_form_upload_with_conditions_and_201(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client(signature_version="s3v4")  # boto3 signs forms with SigV2 for us-east-1 otherwise
        await net.s3(s3.create_bucket, Bucket="forms")
        fields = {"success_action_status": "201", "Content-Type": "text/plain", "x-amz-meta-owner": "ana"}
        conditions: list[Any] = [{"success_action_status": "201"}, ["starts-with", "$key", "uploads/"],
                                 {"Content-Type": "text/plain"}, {"x-amz-meta-owner": "ana"},
                                 ["content-length-range", 1, 1000]]  # fmt: skip
        form = await _form(net, s3, "uploads/${filename}", fields, conditions)
        assert "x-amz-signature" in form["fields"]
        r = await _post(form, b"hello from a browser")
        assert r.status_code == 201, r.text
        doc = ET.fromstring(r.content)
        assert (doc.findtext(f"{NS}Bucket"), doc.findtext(f"{NS}Key")) == ("forms", "uploads/hello.txt")
        got, body = await net.get(s3, Bucket="forms", Key="uploads/hello.txt")
        assert body == b"hello from a browser"
        assert (got["ContentType"], got["Metadata"], got["ETag"]) == ("text/plain", {"owner": "ana"},
                                                                      doc.findtext(f"{NS}ETag"))  # fmt: skip

        # Too big for content-length-range: refused, nothing stored.
        r = await _post(form, b"x" * 1001, filename="big.txt")
        assert (r.status_code, _code(r)) == (400, "EntityTooLarge")
        # A field the policy does not allow, or a key outside the allowed prefix.
        tampered = {**form, "fields": {**form["fields"], "key": "elsewhere/${filename}"}}
        r = await _post(tampered, b"x", filename="evil.txt")
        assert (r.status_code, _code(r)) == (403, "AccessDenied") and "starts-with" in r.text
        extra = {**form, "fields": {**form["fields"], "x-amz-meta-role": "admin"}}
        r = await _post(extra, b"x", filename="extra.txt")
        assert r.status_code == 403 and "Extra input fields: x-amz-meta-role" in r.text
        # A policy changed after signing.
        doc_json = json.loads(base64.b64decode(form["fields"]["policy"]))
        doc_json["conditions"].append(["starts-with", "$x-amz-meta-role", ""])
        policy = base64.b64encode(json.dumps(doc_json).encode()).decode()
        forged = {**form, "fields": {**form["fields"], "policy": policy}}
        r = await _post(forged, b"x", filename="forged.txt")
        assert (r.status_code, _code(r)) == (403, "SignatureDoesNotMatch")
        listed = await net.s3(s3.list_objects_v2, Bucket="forms")
        assert [o["Key"] for o in listed["Contents"]] == ["uploads/hello.txt"]


async def test_expired_and_unsigned_forms_are_refused(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="forms")
        form = await _form(net, s3, "k", {}, [], expires=-60)
        r = await _post(form, b"x")
        assert (r.status_code, _code(r)) == (403, "AccessDenied") and "Policy expired" in r.text
        r = await asyncio.to_thread(requests.post, f"{net.endpoint}/forms", data={"key": "k"},
                                    files={"file": ("a", b"x")}, timeout=30)  # fmt: skip
        assert (r.status_code, _code(r)) == (403, "AccessDenied")
        assert "Contents" not in await net.s3(s3.list_objects_v2, Bucket="forms")


async def test_sigv2_form_with_redirect_and_default_204(tmp_path):
    async with planet(tmp_path) as net:
        s3v2 = net.client(signature_version="s3")
        await net.s3(net.client().create_bucket, Bucket="forms")
        target = "https://app.example.com/uploaded?from=form"
        form = await _form(net, s3v2, "v2/${filename}", {"success_action_redirect": target},
                           [{"success_action_redirect": target}, ["starts-with", "$key", "v2/"]])  # fmt: skip
        assert "signature" in form["fields"] and "AWSAccessKeyId" in form["fields"]
        r = await _post(form, b"version two", filename="two.txt", allow_redirects=False)
        assert r.status_code == 303, r.text
        where = urlsplit(r.headers["Location"])
        assert (where.scheme, where.netloc, where.path) == ("https", "app.example.com", "/uploaded")
        q = parse_qs(where.query)
        assert (q["from"], q["bucket"], q["key"]) == (["form"], ["forms"], ["v2/two.txt"])
        assert (await net.get(net.client(), Bucket="forms", Key="v2/two.txt"))[1] == b"version two"
        plain = await _form(net, s3v2, "plain.bin", {}, [])
        r = await _post(plain, b"\x00\x01")
        assert r.status_code == 204 and r.headers["ETag"]
