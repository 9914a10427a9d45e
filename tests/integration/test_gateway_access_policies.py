"""Bucket policies end to end, through boto3 and the AWS CLI: what they open, what they deny, AWS's errors.

The satellite evaluates the policy on every read and write it authorizes, for signed and
unsigned requests alike: an explicit deny refuses even the owner, a grant to another
tenant's canonical id is the only way across tenants, and conditions see the client's
address (``aws:SourceIp``), TLS (``aws:SecureTransport``) and the listing prefix
(``s3:prefix``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

from tests.integration.test_gateway_access_acls import _aws, anonymous
from tests.integration.test_gateway_objects import code
from tests.planet import fails, planet, status


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(bucket: str, resource: str = "/*", action: Any = "s3:GetObject", principal: Any = "*",
          **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"Effect": "Allow", "Principal": principal, "Action": action,
            "Resource": f"arn:aws:s3:::{bucket}{resource}", **extra}  # fmt: skip


def keys(listing: dict[str, Any]) -> list[str]:
    return [o["Key"] for o in listing.get("Contents", [])]


async def test_policy_operations_round_trip_and_refuse_malformed_documents_with_aws_messages(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="pol")
        err = await fails(net, s3.get_bucket_policy, Bucket="pol")
        assert (code(err), status(err)) == ("NoSuchBucketPolicy", 404)
        assert err.response["Error"]["Message"] == "The bucket policy does not exist"
        await net.s3(s3.delete_bucket_policy, Bucket="pol")  # nothing to delete: 204, as AWS

        cases = [
            ("not json", "Policies must be valid JSON and the first byte must be '{'"),
            (doc(allow("pol", action="s3:GetObjekt")), "Policy has invalid action"),
            (doc(allow("other-bucket")), "Policy has invalid resource"),
            (doc(allow("pol", resource="")), "Action does not apply to any resource(s) in statement"),
            (doc(allow("pol", principal={"AWS": "no-such-tenant"})), "Invalid principal in policy"),
            (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
        ]
        for text, message in cases:
            err = await fails(net, s3.put_bucket_policy, Bucket="pol", Policy=text)
            assert (code(err), status(err), err.response["Error"]["Message"]) == ("MalformedPolicy", 400, message)
        assert code(await fails(net, s3.get_bucket_policy, Bucket="pol")) == "NoSuchBucketPolicy"  # none stored

        text = doc(allow("pol", "/public/*"))
        await net.s3(s3.put_bucket_policy, Bucket="pol", Policy=text)
        assert json.loads((await net.s3(s3.get_bucket_policy, Bucket="pol"))["Policy"]) == json.loads(text)
        assert (await net.s3(s3.get_bucket_policy_status, Bucket="pol"))["PolicyStatus"]["IsPublic"] is True
        other = net.client(1)
        assert code(await fails(net, other.get_bucket_policy, Bucket="pol")) == "AccessDenied"
        assert code(await fails(net, other.put_bucket_policy, Bucket="pol", Policy=text)) == "AccessDenied"
        assert code(await fails(net, anonymous(net).get_bucket_policy, Bucket="pol")) == "AccessDenied"
        await net.s3(s3.delete_bucket_policy, Bucket="pol")
        assert code(await fails(net, s3.get_bucket_policy, Bucket="pol")) == "NoSuchBucketPolicy"


async def test_public_prefix_policy_opens_only_that_prefix_to_unsigned_reads(tmp_path):
    async with planet(tmp_path) as net:
        s3, anon = net.client(), anonymous(net)
        await net.s3(s3.create_bucket, Bucket="site")
        for key in ("public/index.html", "private/keys.txt"):
            await net.s3(s3.put_object, Bucket="site", Key=key, Body=key.encode())
        await net.s3(s3.put_bucket_policy, Bucket="site", Policy=doc(allow("site", "/public/*")))
        assert (await net.get(anon, Bucket="site", Key="public/index.html"))[1] == b"public/index.html"
        assert code(await fails(net, anon.get_object, Bucket="site", Key="private/keys.txt")) == "AccessDenied"
        assert code(await fails(net, anon.list_objects_v2, Bucket="site")) == "AccessDenied"  # only GetObject
        assert code(await fails(net, anon.delete_object, Bucket="site", Key="public/index.html")) == "AccessDenied"
        # GetObject without ListBucket: a missing key is 403, never a 404 that confirms the name.
        assert code(await fails(net, anon.get_object, Bucket="site", Key="public/missing")) == "AccessDenied"
        await net.s3(s3.put_bucket_policy, Bucket="site", Policy=doc(
            allow("site", "/public/*"), allow("site", "", action="s3:ListBucket")))  # fmt: skip
        assert code(await fails(net, anon.get_object, Bucket="site", Key="public/missing")) == "NoSuchKey"
        assert keys(await net.s3(anon.list_objects_v2, Bucket="site")) == ["private/keys.txt", "public/index.html"]


async def test_cross_tenant_access_only_through_a_policy_naming_the_tenant_with_an_s3_prefix_scope(tmp_path):
    async with planet(tmp_path) as net:
        owner, other = net.client(), net.client(1)
        other_id = net.tenants[1].id
        await net.s3(owner.create_bucket, Bucket="team")
        for key in ("shared/report.csv", "hr/salaries.csv"):
            await net.s3(owner.put_object, Bucket="team", Key=key, Body=key.encode())
        assert code(await fails(net, other.get_object, Bucket="team", Key="shared/report.csv")) == "AccessDenied"
        policy = doc(
            allow("team", "/shared/*", principal={"AWS": f"arn:aws:iam::{other_id}:root"}),
            allow("team", "", action="s3:ListBucket", principal={"AWS": other_id},
                  Condition={"StringLike": {"s3:prefix": "shared/*"}}),
        )  # fmt: skip
        await net.s3(owner.put_bucket_policy, Bucket="team", Policy=policy)
        assert (await net.get(other, Bucket="team", Key="shared/report.csv"))[1] == b"shared/report.csv"
        assert keys(await net.s3(other.list_objects_v2, Bucket="team", Prefix="shared/")) == ["shared/report.csv"]
        assert code(await fails(net, other.list_objects_v2, Bucket="team")) == "AccessDenied"
        assert code(await fails(net, other.list_objects_v2, Bucket="team", Prefix="hr/")) == "AccessDenied"
        assert code(await fails(net, other.get_object, Bucket="team", Key="hr/salaries.csv")) == "AccessDenied"
        assert code(await fails(net, anonymous(net).get_object, Bucket="team", Key="shared/report.csv")) == \
            "AccessDenied"  # a grant to a tenant is not a grant to everyone  # fmt: skip
        err = await fails(net, other.put_object, Bucket="team", Key="shared/new", Body=b"x")
        assert code(err) == "AccessDenied"  # writes stay the owner's
        # The other tenant still sees only its own buckets.
        assert (await net.s3(other.list_buckets))["Buckets"] == []


async def test_explicit_deny_refuses_even_the_owner_and_conditions_see_address_and_tls(tmp_path):
    async with planet(tmp_path) as net:
        s3, anon = net.client(), anonymous(net)
        await net.s3(s3.create_bucket, Bucket="locked")
        await net.s3(s3.put_object, Bucket="locked", Key="keep/ledger", Body=b"ledger")
        deny_delete = {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                       "Resource": "arn:aws:s3:::locked/keep/*"}  # fmt: skip
        await net.s3(s3.put_bucket_policy, Bucket="locked", Policy=doc(deny_delete))
        assert code(await fails(net, s3.delete_object, Bucket="locked", Key="keep/ledger")) == "AccessDenied"
        assert (await net.get(s3, Bucket="locked", Key="keep/ledger"))[1] == b"ledger"  # nothing changed
        err = await fails(net, s3.delete_objects, Bucket="locked",
                          Delete={"Objects": [{"Key": "keep/ledger"}, {"Key": "other"}]})  # fmt: skip
        assert code(err) == "AccessDenied"  # a bulk delete cannot get around the deny
        assert (await net.get(s3, Bucket="locked", Key="keep/ledger"))[1] == b"ledger"
        await net.s3(s3.put_object, Bucket="locked", Key="scratch", Body=b"s")
        await net.s3(s3.delete_object, Bucket="locked", Key="scratch")  # outside the deny: allowed

        # aws:SourceIp: the tests' client is on loopback.
        loopback = allow("locked", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})
        await net.s3(s3.put_bucket_policy, Bucket="locked", Policy=doc(loopback))
        assert (await net.get(anon, Bucket="locked", Key="keep/ledger"))[1] == b"ledger"
        elsewhere = allow("locked", Condition={"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "2001:db8::/32"]}})
        await net.s3(s3.put_bucket_policy, Bucket="locked", Policy=doc(elsewhere))
        assert code(await fails(net, anon.get_object, Bucket="locked", Key="keep/ledger")) == "AccessDenied"
        fence = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "arn:aws:s3:::locked/*",
                 "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}  # fmt: skip
        await net.s3(s3.put_bucket_policy, Bucket="locked", Policy=doc(fence))
        assert code(await fails(net, s3.get_object, Bucket="locked", Key="keep/ledger")) == "AccessDenied"
        assert code(await fails(net, s3.put_object, Bucket="locked", Key="new", Body=b"n")) == "AccessDenied"
        err = await fails(net, s3.create_multipart_upload, Bucket="locked", Key="new")
        assert code(err) == "AccessDenied"
        inside = {**fence, "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}
        await net.s3(s3.put_bucket_policy, Bucket="locked", Policy=doc(inside))  # the client is inside: no deny
        upload = await net.s3(s3.create_multipart_upload, Bucket="locked", Key="mp")
        part = await net.s3(s3.upload_part, Bucket="locked", Key="mp", UploadId=upload["UploadId"], PartNumber=1,
                            Body=b"p")  # fmt: skip
        await net.s3(s3.complete_multipart_upload, Bucket="locked", Key="mp", UploadId=upload["UploadId"],
                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})  # fmt: skip
        assert (await net.get(s3, Bucket="locked", Key="mp"))[1] == b"p"

        # aws:SecureTransport: this gateway speaks plain HTTP, so a TLS-only policy refuses the owner too.
        tls_only = {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::locked", "arn:aws:s3:::locked/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
        await net.s3(s3.put_bucket_policy, Bucket="locked", Policy=doc(tls_only))
        assert code(await fails(net, s3.get_object, Bucket="locked", Key="keep/ledger")) == "AccessDenied"
        assert code(await fails(net, s3.list_objects_v2, Bucket="locked")) == "AccessDenied"
        await net.s3(s3.delete_bucket_policy, Bucket="locked")  # the owner can always manage the policy
        assert (await net.get(s3, Bucket="locked", Key="keep/ledger"))[1] == b"ledger"


async def test_block_public_policy_and_restrict_public_buckets_guard_against_public_policies(tmp_path):
    async with planet(tmp_path) as net:
        s3, anon = net.client(), anonymous(net)
        await net.s3(s3.create_bucket, Bucket="guard")
        await net.s3(s3.put_object, Bucket="guard", Key="k", Body=b"k")
        await net.s3(s3.put_bucket_policy, Bucket="guard", Policy=doc(allow("guard")))
        assert (await net.get(anon, Bucket="guard", Key="k"))[1] == b"k"
        block = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
                 "RestrictPublicBuckets": True}  # fmt: skip
        await net.s3(s3.put_public_access_block, Bucket="guard", PublicAccessBlockConfiguration=block)
        assert code(await fails(net, anon.get_object, Bucket="guard", Key="k")) == "AccessDenied"  # restricted
        assert (await net.get(s3, Bucket="guard", Key="k"))[1] == b"k"
        err = await fails(net, s3.put_bucket_policy, Bucket="guard", Policy=doc(allow("guard", "/new/*")))
        assert (code(err), status(err)) == ("AccessDenied", 403)
        assert json.loads((await net.s3(s3.get_bucket_policy, Bucket="guard"))["Policy"]) == \
            json.loads(doc(allow("guard")))  # the refused policy replaced nothing  # fmt: skip
        shared = doc(allow("guard", principal={"AWS": net.tenants[1].id}))
        await net.s3(s3.put_bucket_policy, Bucket="guard", Policy=shared)  # not public: allowed
        assert (await net.get(net.client(1), Bucket="guard", Key="k"))[1] == b"k"
        narrow = doc(allow("guard", Condition={"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}}))
        await net.s3(s3.put_bucket_policy, Bucket="guard", Policy=narrow)  # a fixed address is not public
        assert (await net.s3(s3.get_bucket_policy_status, Bucket="guard"))["PolicyStatus"]["IsPublic"] is False
        assert (await net.get(anon, Bucket="guard", Key="k"))[1] == b"k"


async def test_aws_cli_puts_a_policy_from_a_file_and_unsigned_clients_read_through_it(tmp_path):
    async with planet(tmp_path) as net:
        def run(*argv: str, signed: bool = True) -> subprocess.CompletedProcess[str]:
            return _aws(list(argv), net, tmp_path, signed=signed)

        assert (await asyncio.to_thread(run, "s3api", "create-bucket", "--bucket", "cli-pol")).returncode == 0
        page = tmp_path / "index.html"
        page.write_bytes(b"<p>public</p>")
        for key in ("www/index.html", "internal/index.html"):
            assert (await asyncio.to_thread(run, "s3", "cp", str(page), f"s3://cli-pol/{key}")).returncode == 0
        policy_file = tmp_path / "policy.json"
        policy_file.write_text(doc(allow("cli-pol", "/www/*")))
        put = await asyncio.to_thread(run, "s3api", "put-bucket-policy", "--bucket", "cli-pol", "--policy",
                                      f"file://{policy_file}")  # fmt: skip
        assert put.returncode == 0, put.stderr
        got = await asyncio.to_thread(run, "s3api", "get-bucket-policy", "--bucket", "cli-pol", "--query", "Policy",
                                      "--output", "text")  # fmt: skip
        assert json.loads(got.stdout) == json.loads(policy_file.read_text())
        out = tmp_path / "out.html"
        read = await asyncio.to_thread(run, "s3", "cp", "s3://cli-pol/www/index.html", str(out), signed=False)
        assert read.returncode == 0 and out.read_bytes() == b"<p>public</p>", read.stderr
        refused = await asyncio.to_thread(run, "s3api", "get-object", "--bucket", "cli-pol", "--key",
                                          "internal/index.html", str(out), signed=False)  # fmt: skip
        assert refused.returncode != 0 and "AccessDenied" in refused.stderr
        bad = tmp_path / "bad.json"
        bad.write_text(doc(allow("cli-pol", action="s3:Fly")))
        malformed = await asyncio.to_thread(run, "s3api", "put-bucket-policy", "--bucket", "cli-pol", "--policy",
                                            f"file://{bad}")  # fmt: skip
        assert malformed.returncode != 0 and "MalformedPolicy" in malformed.stderr
        assert "Policy has invalid action" in malformed.stderr


async def test_another_tenant_copies_an_object_out_only_when_the_policy_grants_it_get(tmp_path):
    async with planet(tmp_path) as net:
        owner, other = net.client(), net.client(1)
        await net.s3(owner.create_bucket, Bucket="source")
        await net.s3(other.create_bucket, Bucket="mine")
        big, small = b"s" * 300_000, b"inline"  # pieces on nodes, and an object kept in the satellite
        await net.s3(owner.put_object, Bucket="source", Key="big", Body=big)
        await net.s3(owner.put_object, Bucket="source", Key="small", Body=small)
        source = {"Bucket": "source", "Key": "big"}
        err = await fails(net, other.copy_object, Bucket="mine", Key="big", CopySource=source)
        assert code(err) == "AccessDenied"
        await net.s3(owner.put_bucket_policy, Bucket="source",
                     Policy=doc(allow("source", principal={"AWS": net.tenants[1].id})))  # fmt: skip
        for key, body in (("big", big), ("small", small)):
            await net.s3(other.copy_object, Bucket="mine", Key=key, CopySource={"Bucket": "source", "Key": key})
            assert (await net.get(other, Bucket="mine", Key=key))[1] == body  # readable under the copier's keys
        await net.s3(owner.delete_bucket_policy, Bucket="source")
        assert (await net.get(other, Bucket="mine", Key="big"))[1] == big  # the copy is the copier's own
        err = await fails(net, other.copy_object, Bucket="source", Key="back", CopySource={"Bucket": "mine",
                                                                                            "Key": "big"})  # fmt: skip
        assert code(err) == "AccessDenied"  # into another tenant's bucket: never
