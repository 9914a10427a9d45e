"""Canned ACLs and Block Public Access end to end: boto3 (signed and unsigned), raw HTTP and the AWS CLI.

A bucket's ACLs are disabled (``BucketOwnerEnforced``) unless its ownership enables them;
then ``public-read`` on an object lets unsigned GET/HEAD read it, on a bucket lets unsigned
requests list it, and ``private`` closes it again. The satellite makes the decision: asked
directly with the gateway's own token for an anonymous read of a private object, it refuses.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import aiohttp
import boto3
from botocore import UNSIGNED
from botocore.config import Config

from gateway import satellite_client as sc
from tests.integration.test_gateway_objects import code
from tests.integration.test_real_clients import _tool
from tests.planet import Planet, fails, planet, status

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def anonymous(net: Planet):  # type: ignore[no-untyped-def]
    """A boto3 client that signs nothing, as ``--no-sign-request`` tools do."""
    return boto3.client("s3", endpoint_url=net.endpoint, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))  # fmt: skip


async def raw_get(net: Planet, path: str, method: str = "GET") -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.request(method, net.endpoint + path) as r:
        return r.status, await r.read()


def grants(acl: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"]) for g in acl["Grants"]]


async def test_public_read_object_acl_lets_unsigned_get_and_head_read_it_and_private_closes_it(tmp_path):
    async with planet(tmp_path) as net:
        s3, anon, owner = net.client(), anonymous(net), net.tenants[0].id
        await net.s3(s3.create_bucket, Bucket="pub", ObjectOwnership="BucketOwnerPreferred")
        body = os.urandom(300_000)  # placed on nodes, not inline: the anonymous read goes through orders
        await net.s3(s3.put_object, Bucket="pub", Key="open.bin", Body=body, ACL="public-read")
        await net.s3(s3.put_object, Bucket="pub", Key="closed.bin", Body=b"secret")

        got, data = await net.get(anon, Bucket="pub", Key="open.bin")
        assert data == body and got["ContentLength"] == len(body)
        assert (await net.s3(anon.head_object, Bucket="pub", Key="open.bin"))["ContentLength"] == len(body)
        _, part = await net.get(anon, Bucket="pub", Key="open.bin", Range="bytes=1000-1999")
        assert part == body[1000:2000]
        err = await fails(net, anon.get_object, Bucket="pub", Key="open.bin", ResponseContentType="text/html")
        assert (code(err), status(err)) == ("InvalidRequest", 400)  # AWS: no response overrides unsigned
        assert grants(await net.s3(s3.get_object_acl, Bucket="pub", Key="open.bin")) == [
            (owner, "FULL_CONTROL"), (ALL_USERS, "READ")]

        err = await fails(net, anon.get_object, Bucket="pub", Key="closed.bin")
        assert (code(err), status(err)) == ("AccessDenied", 403)
        err = await fails(net, anon.get_object, Bucket="pub", Key="missing.bin")  # no probing for names
        assert (code(err), status(err)) == ("AccessDenied", 403)
        err = await fails(net, anon.list_objects_v2, Bucket="pub")  # the bucket itself is private
        assert code(err) == "AccessDenied"
        err = await fails(net, anon.put_object, Bucket="pub", Key="x", Body=b"x")
        assert code(err) == "AccessDenied"
        err = await fails(net, anon.get_object, Bucket="no-such-bucket", Key="k")
        assert (code(err), status(err)) == ("NoSuchBucket", 404)
        http_status, xml_body = await raw_get(net, "/pub/closed.bin")
        assert http_status == 403 and b"<Code>AccessDenied</Code><Message>Access Denied</Message>" in xml_body

        await net.s3(s3.put_object_acl, Bucket="pub", Key="open.bin", ACL="private")
        err = await fails(net, anon.get_object, Bucket="pub", Key="open.bin")
        assert code(err) == "AccessDenied"
        assert grants(await net.s3(s3.get_object_acl, Bucket="pub", Key="open.bin")) == [(owner, "FULL_CONTROL")]
        await net.s3(s3.put_object_acl, Bucket="pub", Key="open.bin", ACL="public-read")
        assert (await net.get(anon, Bucket="pub", Key="open.bin"))[1] == body
        # An overwrite without x-amz-acl is private again, as AWS resets the ACL of a new object.
        await net.s3(s3.put_object, Bucket="pub", Key="open.bin", Body=b"v2")
        assert code(await fails(net, anon.get_object, Bucket="pub", Key="open.bin")) == "AccessDenied"
        # A copy never inherits the source's ACL.
        await net.s3(s3.put_object, Bucket="pub", Key="src", Body=b"s", ACL="public-read")
        await net.s3(s3.copy_object, Bucket="pub", Key="copy", CopySource={"Bucket": "pub", "Key": "src"})
        assert code(await fails(net, anon.get_object, Bucket="pub", Key="copy")) == "AccessDenied"
        await net.s3(s3.copy_object, Bucket="pub", Key="copy", CopySource={"Bucket": "pub", "Key": "closed.bin"},
                     ACL="public-read")  # unless the copy asks for one  # fmt: skip
        assert (await net.get(anon, Bucket="pub", Key="copy"))[1] == b"secret"


async def test_public_read_bucket_acl_lets_unsigned_requests_list_and_head_it_but_not_read_objects(tmp_path):
    async with planet(tmp_path) as net:
        s3, anon, owner = net.client(), anonymous(net), net.tenants[0].id
        await net.s3(s3.create_bucket, Bucket="listing", ACL="public-read", ObjectOwnership="ObjectWriter")
        await net.s3(s3.put_object, Bucket="listing", Key="a/1", Body=b"1")
        listed = await net.s3(anon.list_objects_v2, Bucket="listing", FetchOwner=True)
        assert [o["Key"] for o in listed["Contents"]] == ["a/1"] and listed["Contents"][0]["Owner"]["ID"] == owner
        assert [o["Key"] for o in (await net.s3(anon.list_objects, Bucket="listing"))["Contents"]] == ["a/1"]
        await net.s3(anon.head_bucket, Bucket="listing")
        assert code(await fails(net, anon.get_object, Bucket="listing", Key="a/1")) == "AccessDenied"
        other = net.client(1)  # any signed tenant counts as "everyone" too
        assert [o["Key"] for o in (await net.s3(other.list_objects_v2, Bucket="listing"))["Contents"]] == ["a/1"]
        assert code(await fails(net, other.get_bucket_acl, Bucket="listing")) == "AccessDenied"
        assert code(await fails(net, other.put_object, Bucket="listing", Key="b", Body=b"b")) == "AccessDenied"
        assert grants(await net.s3(s3.get_bucket_acl, Bucket="listing")) == [(owner, "FULL_CONTROL"),
                                                                           (ALL_USERS, "READ")]  # fmt: skip
        await net.s3(s3.put_bucket_acl, Bucket="listing", ACL="private")
        assert code(await fails(net, anon.list_objects_v2, Bucket="listing")) == "AccessDenied"
        err = await fails(net, anon.head_bucket, Bucket="listing")
        assert status(err) == 403
        assert grants(await net.s3(s3.get_bucket_acl, Bucket="listing")) == [(owner, "FULL_CONTROL")]
        # The AccessControlPolicy form of the same ACL works as the header does.
        policy = {"Owner": {"ID": owner}, "Grants": [
            {"Grantee": {"ID": owner, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"}]}  # fmt: skip
        await net.s3(s3.put_bucket_acl, Bucket="listing", AccessControlPolicy=policy)
        assert [o["Key"] for o in (await net.s3(anon.list_objects_v2, Bucket="listing"))["Contents"]] == ["a/1"]


async def test_ownership_controls_enable_acls_and_cannot_disable_them_while_an_acl_is_public(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="own")
        assert code(await fails(net, s3.put_bucket_acl, Bucket="own", ACL="public-read")) == \
            "AccessControlListNotSupported"  # fmt: skip
        enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        preferred = {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]}
        await net.s3(s3.put_bucket_ownership_controls, Bucket="own", OwnershipControls=preferred)
        got = await net.s3(s3.get_bucket_ownership_controls, Bucket="own")
        assert got["OwnershipControls"]["Rules"] == preferred["Rules"]
        await net.s3(s3.put_bucket_acl, Bucket="own", ACL="public-read")
        err = await fails(net, s3.put_bucket_ownership_controls, Bucket="own", OwnershipControls=enforced)
        assert (code(err), status(err)) == ("InvalidBucketAclWithObjectOwnership", 400)
        await net.s3(s3.put_bucket_acl, Bucket="own", ACL="private")
        await net.s3(s3.put_bucket_ownership_controls, Bucket="own", OwnershipControls=enforced)
        err = await fails(net, s3.put_object, Bucket="own", Key="k", Body=b"x", ACL="public-read")
        assert code(err) == "AccessControlListNotSupported"
        err = await fails(net, s3.put_object, Bucket="own", Key="k", Body=b"x", ACL="public-read-wrote")
        assert code(err) == "InvalidArgument"
        assert "Contents" not in await net.s3(s3.list_objects_v2, Bucket="own")  # nothing stored
        await net.s3(s3.put_bucket_ownership_controls, Bucket="own", OwnershipControls=preferred)
        err = await fails(net, s3.put_object, Bucket="own", Key="k", Body=b"x", GrantRead="id=someone")
        assert (code(err), status(err)) == ("NotImplemented", 501)


async def test_satellite_refuses_an_anonymous_read_of_a_private_object_whatever_the_gateway_asks(tmp_path):
    """A gateway (holding the gateway token) asks for GET orders as "anonymous": the satellite
    decides, so a private object yields no orders and a public one does."""
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="guarded", ObjectOwnership="BucketOwnerPreferred")
        await net.s3(s3.put_object, Bucket="guarded", Key="private", Body=os.urandom(100_000))
        await net.s3(s3.put_object, Bucket="guarded", Key="public", Body=os.urandom(100_000), ACL="public-read")
        async with sc.SatelliteClient(net.satellite.api_url, net.satellite.config.gateway_token) as sat:
            for anonymous_tenant in ("", None):
                for op in ("object/get", "object/head"):
                    try:
                        await sat.call(op, {"tenant_id": anonymous_tenant, "bucket": "guarded", "key": "private"})
                    except sc.AccessDenied:
                        pass
                    else:
                        raise AssertionError(f"{op} handed out a private object to an anonymous requester")
                try:
                    await sat.list_objects("", "guarded")
                except sc.AccessDenied:
                    pass
                else:
                    raise AssertionError("a private bucket was listed for an anonymous requester")
            answer = await sat.get_object("", "guarded", "public")
            assert answer["owner"] == net.tenants[0].id and answer["segments"][0]["pieces"]
            try:
                await sat.call("object/tags/get", {"tenant_id": "", "bucket": "guarded", "key": "public"})
            except sc.AccessDenied:
                pass  # a public ACL opens reads, nothing else
            else:
                raise AssertionError("an anonymous requester read a public object's tags")


async def test_block_public_access_refuses_public_acls_ignores_existing_ones_and_has_aws_errors(tmp_path):
    async with planet(tmp_path) as net:
        s3, anon = net.client(), anonymous(net)
        await net.s3(s3.create_bucket, Bucket="blocked", ObjectOwnership="BucketOwnerPreferred")
        err = await fails(net, s3.get_public_access_block, Bucket="blocked")
        assert (code(err), status(err)) == ("NoSuchPublicAccessBlockConfiguration", 404)
        await net.s3(s3.put_object, Bucket="blocked", Key="old", Body=b"old", ACL="public-read")
        assert (await net.get(anon, Bucket="blocked", Key="old"))[1] == b"old"

        config = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
                  "RestrictPublicBuckets": False}  # fmt: skip
        await net.s3(s3.put_public_access_block, Bucket="blocked", PublicAccessBlockConfiguration=config)
        got = await net.s3(s3.get_public_access_block, Bucket="blocked")
        assert got["PublicAccessBlockConfiguration"] == config
        assert code(await fails(net, anon.get_object, Bucket="blocked", Key="old")) == "AccessDenied"  # ignored
        err = await fails(net, s3.put_object, Bucket="blocked", Key="new", Body=b"n", ACL="public-read")
        assert (code(err), status(err)) == ("AccessDenied", 403)
        err = await fails(net, s3.put_object_acl, Bucket="blocked", Key="old", ACL="public-read")
        assert code(err) == "AccessDenied"
        err = await fails(net, s3.put_bucket_acl, Bucket="blocked", ACL="public-read")
        assert code(err) == "AccessDenied"
        assert [o["Key"] for o in (await net.s3(s3.list_objects_v2, Bucket="blocked"))["Contents"]] == ["old"]
        await net.s3(s3.put_object, Bucket="blocked", Key="new", Body=b"n", ACL="private")  # private still goes
        assert code(await fails(net, net.client(1).get_public_access_block, Bucket="blocked")) == "AccessDenied"

        await net.s3(s3.delete_public_access_block, Bucket="blocked")
        assert (await net.get(anon, Bucket="blocked", Key="old"))[1] == b"old"  # the stored ACL counts again
        assert code(await fails(net, s3.get_public_access_block, Bucket="blocked")) == \
            "NoSuchPublicAccessBlockConfiguration"  # fmt: skip


def _aws(argv: list[str], net: Planet, tmp: Path, *, signed: bool = True) -> subprocess.CompletedProcess[str]:
    t = net.tenants[0]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": t.access_key, "AWS_SECRET_ACCESS_KEY": t.secret_key,
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "none"), "AWS_MAX_ATTEMPTS": "1"}  # fmt: skip
    env.pop("AWS_CA_BUNDLE", None)
    extra = [] if signed else ["--no-sign-request"]
    return subprocess.run([_tool("aws"), "--endpoint-url", net.endpoint, *extra, *argv], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


async def test_aws_cli_sets_a_canned_acl_and_reads_it_back_without_credentials(tmp_path):
    async with planet(tmp_path) as net:
        def run(*argv: str, signed: bool = True) -> subprocess.CompletedProcess[str]:
            return _aws(list(argv), net, tmp_path, signed=signed)

        made = await asyncio.to_thread(run, "s3api", "create-bucket", "--bucket", "cli-pub", "--object-ownership",
                                       "BucketOwnerPreferred", "--acl", "public-read")  # fmt: skip
        assert made.returncode == 0, made.stderr
        src = tmp_path / "page.html"
        src.write_bytes(b"<h1>hello</h1>")
        done = await asyncio.to_thread(run, "s3", "cp", str(src), "s3://cli-pub/site/index.html", "--acl",
                                       "public-read")  # fmt: skip
        assert done.returncode == 0, done.stderr
        listed = await asyncio.to_thread(run, "s3", "ls", "s3://cli-pub/site/", signed=False)
        assert listed.returncode == 0 and "index.html" in listed.stdout, listed.stderr
        out = tmp_path / "back.html"
        got = await asyncio.to_thread(run, "s3", "cp", "s3://cli-pub/site/index.html", str(out), signed=False)
        assert got.returncode == 0 and out.read_bytes() == b"<h1>hello</h1>", got.stderr
        acl = await asyncio.to_thread(run, "s3api", "get-object-acl", "--bucket", "cli-pub", "--key", "site/index.html",
                                      "--query", "Grants[].Permission", "--output", "text")  # fmt: skip
        assert acl.stdout.split() == ["FULL_CONTROL", "READ"], acl.stderr
        assert (await asyncio.to_thread(run, "s3api", "put-object-acl", "--bucket", "cli-pub", "--key",
                                        "site/index.html", "--acl", "private")).returncode == 0  # fmt: skip
        refused = await asyncio.to_thread(run, "s3", "cp", "s3://cli-pub/site/index.html", str(out), signed=False)
        assert refused.returncode != 0 and "403" in refused.stderr


async def test_aws_cli_public_access_block_refuses_a_public_acl_and_hides_an_existing_one(tmp_path):
    async with planet(tmp_path) as net:
        def run(*argv: str, signed: bool = True) -> subprocess.CompletedProcess[str]:
            return _aws(list(argv), net, tmp_path, signed=signed)

        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="cli-block", ObjectOwnership="ObjectWriter")
        await net.s3(s3.put_object, Bucket="cli-block", Key="open", Body=b"open", ACL="public-read")
        missing = await asyncio.to_thread(run, "s3api", "get-public-access-block", "--bucket", "cli-block")
        assert missing.returncode != 0 and "NoSuchPublicAccessBlockConfiguration" in missing.stderr
        config = "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=false,RestrictPublicBuckets=false"
        put = await asyncio.to_thread(run, "s3api", "put-public-access-block", "--bucket", "cli-block",
                                      "--public-access-block-configuration", config)  # fmt: skip
        assert put.returncode == 0, put.stderr
        got = await asyncio.to_thread(run, "s3api", "get-public-access-block", "--bucket", "cli-block", "--output",
                                      "json")  # fmt: skip
        assert json.loads(got.stdout)["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False}  # fmt: skip
        refused = await asyncio.to_thread(run, "s3api", "put-object-acl", "--bucket", "cli-block", "--key", "open",
                                          "--acl", "public-read")  # fmt: skip
        assert refused.returncode != 0 and "AccessDenied" in refused.stderr
        out = tmp_path / "open"
        hidden = await asyncio.to_thread(run, "s3", "cp", "s3://cli-block/open", str(out), signed=False)
        assert hidden.returncode != 0 and "403" in hidden.stderr
        assert (await asyncio.to_thread(run, "s3api", "delete-public-access-block", "--bucket",
                                        "cli-block")).returncode == 0  # fmt: skip
        shown = await asyncio.to_thread(run, "s3", "cp", "s3://cli-block/open", str(out), signed=False)
        assert shown.returncode == 0 and out.read_bytes() == b"open", shown.stderr
