"""AWS's exact behaviour at the edges, through a real gateway, satellite and nodes.

Buckets that are gone or taken, LocationConstraints that name nothing or an AWS region an
admin aliased, ``+`` in query strings, URL-encoded listings and UTF-8 user metadata.
"""

from __future__ import annotations

import base64
from email.header import decode_header

import aiohttp
from botocore.credentials import Credentials

from tests.integration.test_gateway_objects import code
from tests.planet import Planet, fails, planet, status
from tests.s3_requests import send, sign


async def _admin(net: Planet, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
    async with aiohttp.ClientSession() as s, s.request(method, net.satellite.admin_url + path, json=body,
                                                        headers=headers) as r:  # fmt: skip
        return r.status, await r.json()


async def test_deleted_and_taken_buckets_answer_as_aws(tmp_path):
    async with planet(tmp_path) as net:
        owner, other = net.client(0), net.client(1)
        await net.s3(owner.create_bucket, Bucket="gone-bucket")
        err = await fails(net, owner.create_bucket, Bucket="gone-bucket")
        assert (code(err), status(err)) == ("BucketAlreadyOwnedByYou", 409)
        err = await fails(net, other.create_bucket, Bucket="gone-bucket")
        assert (code(err), status(err)) == ("BucketAlreadyExists", 409)
        err = await fails(net, other.list_objects_v2, Bucket="gone-bucket")
        assert (code(err), status(err)) == ("AccessDenied", 403)  # it exists, and is not theirs
        await net.s3(owner.delete_bucket, Bucket="gone-bucket")
        for client in (owner, other):
            for call, kw in ((client.list_objects_v2, {}), (client.put_object, {"Key": "k", "Body": b"x"}),
                             (client.get_object, {"Key": "k"})):  # fmt: skip
                err = await fails(net, call, Bucket="gone-bucket", **kw)
                assert (code(err), status(err)) == ("NoSuchBucket", 404)
            err = await fails(net, client.head_bucket, Bucket="gone-bucket")
            assert status(err) == 404
        # The name is free again, for anyone.
        await net.s3(other.create_bucket, Bucket="gone-bucket")


async def test_unknown_location_constraint_names_it_and_lists_the_valid_policies(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        err = await fails(net, s3.create_bucket, Bucket="mars-bucket",
                           CreateBucketConfiguration={"LocationConstraint": "mars-1"})  # fmt: skip
        assert (code(err), status(err)) == ("InvalidLocationConstraint", 400)
        message = err.response["Error"]["Message"]
        assert message.startswith("The specified location-constraint is not valid")
        assert "'mars-1'" in message and "eu, global, na" in message
        assert err.response["Error"]["LocationConstraint"] == "mars-1"
        assert not (await net.s3(s3.list_buckets)).get("Buckets")  # nothing was created


async def test_aws_region_names_map_to_the_policy_the_admin_aliased(tmp_path):
    async with planet(tmp_path) as net:
        status, body = await _admin(net, "PUT", "/v1/policies/eu/aliases", {"aliases": ["eu-west-1", "EU-Central-1"]})
        assert (status, body) == (200, {"policy": "eu", "aliases": ["eu-central-1", "eu-west-1"]})
        s3 = net.client()
        ireland = {"LocationConstraint": "eu-west-1"}
        await net.s3(s3.create_bucket, Bucket="in-ireland", CreateBucketConfiguration=ireland)
        assert (await net.s3(s3.get_bucket_location, Bucket="in-ireland"))["LocationConstraint"] == "eu"
        # An alias is unique and never another policy's name; a region nobody aliased is refused.
        status, body = await _admin(net, "PUT", "/v1/policies/na/aliases", {"aliases": ["eu-west-1"]})
        assert status == 400 and "already names policy 'eu'" in body["error"]["message"]
        status, body = await _admin(net, "PUT", "/v1/policies/na/aliases", {"aliases": ["global"]})
        assert status == 400 and "is the name of policy 'global'" in body["error"]["message"]
        ohio = {"LocationConstraint": "us-east-2"}
        err = await fails(net, s3.create_bucket, Bucket="in-ohio", CreateBucketConfiguration=ohio)
        assert code(err) == "InvalidLocationConstraint"
        assert "valid: eu, eu-central-1, eu-west-1, global, na" in err.response["Error"]["Message"]
        assert (await _admin(net, "GET", "/v1/policies/eu/aliases"))[1]["aliases"] == ["eu-central-1", "eu-west-1"]
        await _admin(net, "PUT", "/v1/policies/eu/aliases", {"aliases": []})
        err = await fails(net, s3.create_bucket, Bucket="in-frankfurt",
                           CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})  # fmt: skip
        assert code(err) == "InvalidLocationConstraint"


async def test_plus_in_the_query_is_a_space_and_listings_percent_encode(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        t = net.tenants[0]
        await net.s3(s3.create_bucket, Bucket="edges")
        keys = ["my data/a.txt", "my+data/b.txt", "ctl\x01/c.txt", "tab\tkey"]
        for k in keys:
            await net.s3(s3.put_object, Bucket="edges", Key=k, Body=b"x")
        # boto3 asks for encoding-type=url itself and decodes what it gets back.
        listed = await net.s3(s3.list_objects_v2, Bucket="edges")
        assert sorted(o["Key"] for o in listed["Contents"]) == sorted(keys)
        creds = Credentials(t.access_key, t.secret_key)
        # Signed as SDKs sign a space (%20), sent with "+", as a Rust client sends it.
        req = sign("v4", "GET", f"{net.endpoint}/edges?list-type=2&prefix=my%20data%2F&encoding-type=url",
                   credentials=creds)  # fmt: skip
        req.url = req.url.replace("my%20data", "my+data")
        status, _, body = await send(req)
        assert status == 200, body
        assert b"<Key>my%20data/a.txt</Key>" in body and b"b.txt" not in body
        req = sign("v4", "GET", f"{net.endpoint}/edges?list-type=2&prefix=ctl&encoding-type=url", credentials=creds)
        status, _, body = await send(req)
        assert b"<Key>ctl%01/c.txt</Key>" in body


async def test_utf8_user_metadata_round_trips_as_rfc_2047(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        t = net.tenants[0]
        await net.s3(s3.create_bucket, Bucket="meta")
        # boto3 sends only ASCII metadata: an RFC 2047 word is stored and returned as sent.
        word = "=?UTF-8?B?" + base64.b64encode("Grüße ✓".encode()).decode() + "?="
        await net.s3(s3.put_object, Bucket="meta", Key="boto", Body=b"x", Metadata={"title": word, "plain": "ascii"})
        head = await net.s3(s3.head_object, Bucket="meta", Key="boto")
        assert head["Metadata"] == {"title": word, "plain": "ascii"}
        # A client that sends raw UTF-8 gets it back RFC 2047-encoded (ASCII on the wire), as AWS does.
        text = "Grüße ✓ 東京"
        req = sign("v4", "PUT", f"{net.endpoint}/meta/raw", body=b"x", headers={"x-amz-meta-title": text},
                   credentials=Credentials(t.access_key, t.secret_key))  # fmt: skip
        prepared = req.prepare()
        async with aiohttp.ClientSession() as session:
            headers = {k: v for k, v in prepared.headers.items()}
            async with session.put(prepared.url, data=b"x", headers=headers) as r:
                assert r.status == 200, await r.text()
        head = await net.s3(s3.head_object, Bucket="meta", Key="raw")
        sent = head["Metadata"]["title"]
        assert sent.isascii() and sent.startswith("=?UTF-8?B?")
        (decoded, charset), = decode_header(sent)
        assert decoded.decode(charset) == text
