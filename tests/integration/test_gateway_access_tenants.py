"""A tenant-wide Block Public Access from the admin CLI, and the access decisions on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from tests.integration.test_gateway_access_acls import anonymous
from tests.integration.test_gateway_access_policies import allow, doc
from tests.integration.test_gateway_objects import code
from tests.planet import Planet, fails, planet
from tests.satellite_fixtures import drop_database, fresh_database


def _admin(net: Planet, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOSHARD_ADMIN_")}
    env.update(GEOSHARD_ADMIN_URL=net.satellite.admin_url, GEOSHARD_ADMIN_TOKEN=net.satellite.config.admin_token)
    return subprocess.run([sys.executable, "-m", "geoshard.cli", "admin", *args], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip


async def test_tenant_block_from_the_admin_cli_closes_every_public_bucket_of_that_tenant_only(tmp_path):
    async with planet(tmp_path) as net:
        s3, anon, other = net.client(), anonymous(net), net.client(1)
        await net.s3(s3.create_bucket, Bucket="acl-open", ObjectOwnership="BucketOwnerPreferred")
        await net.s3(s3.put_object, Bucket="acl-open", Key="k", Body=b"acl", ACL="public-read")
        await net.s3(s3.create_bucket, Bucket="policy-open")
        await net.s3(s3.put_object, Bucket="policy-open", Key="k", Body=b"policy")
        await net.s3(s3.put_bucket_policy, Bucket="policy-open", Policy=doc(allow("policy-open")))
        await net.s3(other.create_bucket, Bucket="beta-open")
        await net.s3(other.put_object, Bucket="beta-open", Key="k", Body=b"beta")
        await net.s3(other.put_bucket_policy, Bucket="beta-open", Policy=doc(allow("beta-open")))
        for bucket, body in (("acl-open", b"acl"), ("policy-open", b"policy")):
            assert (await net.get(anon, Bucket=bucket, Key="k"))[1] == body

        shown = await asyncio.to_thread(_admin, net, "tenant", "public-access-block", "alpha")
        assert shown.returncode == 0 and "no public access block" in shown.stdout, shown.stderr
        done = await asyncio.to_thread(_admin, net, "tenant", "public-access-block", "alpha", "--all")
        assert done.returncode == 0, done.stderr
        assert "BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets" in done.stdout
        for bucket in ("acl-open", "policy-open"):
            assert code(await fails(net, anon.get_object, Bucket=bucket, Key="k")) == "AccessDenied"
        assert code(await fails(net, s3.put_object, Bucket="acl-open", Key="n", Body=b"n",
                                ACL="public-read")) == "AccessDenied"  # fmt: skip
        assert code(await fails(net, s3.put_bucket_policy, Bucket="policy-open",
                                Policy=doc(allow("policy-open", "/x/*")))) == "AccessDenied"  # fmt: skip
        err = await fails(net, s3.create_bucket, Bucket="born-public", ACL="public-read",
                          ObjectOwnership="BucketOwnerPreferred")  # fmt: skip
        assert code(err) == "AccessDenied"
        assert "born-public" not in [b["Name"] for b in (await net.s3(s3.list_buckets))["Buckets"]]
        assert (await net.get(s3, Bucket="policy-open", Key="k"))[1] == b"policy"  # the owner still reads
        assert (await net.get(anon, Bucket="beta-open", Key="k"))[1] == b"beta"  # another tenant is untouched
        # The bucket's own configuration is unchanged: AWS shows the account's block separately.
        assert code(await fails(net, s3.get_public_access_block, Bucket="policy-open")) == \
            "NoSuchPublicAccessBlockConfiguration"  # fmt: skip

        as_json = await asyncio.to_thread(_admin, net, "tenant", "public-access-block", "alpha", "--json")
        assert as_json.returncode == 0, as_json.stderr
        assert json.loads(as_json.stdout)["public_access_block"]["RestrictPublicBuckets"] is True
        removed = await asyncio.to_thread(_admin, net, "tenant", "public-access-block", "alpha", "--remove")
        assert removed.returncode == 0 and "no public access block" in removed.stdout, removed.stderr
        for bucket, body in (("acl-open", b"acl"), ("policy-open", b"policy")):
            assert (await net.get(anon, Bucket=bucket, Key="k"))[1] == body


async def test_acl_policy_and_block_decisions_hold_on_postgresql(tmp_path):
    database, schema = await fresh_database("postgresql", tmp_path)
    try:
        async with planet(tmp_path, database=database) as net:
            s3, anon, other = net.client(), anonymous(net), net.client(1)
            await net.s3(s3.create_bucket, Bucket="pg-access", ObjectOwnership="BucketOwnerPreferred")
            await net.s3(s3.put_object, Bucket="pg-access", Key="pub", Body=os.urandom(50_000), ACL="public-read")
            await net.s3(s3.put_object, Bucket="pg-access", Key="team/doc", Body=b"doc")
            assert len((await net.get(anon, Bucket="pg-access", Key="pub"))[1]) == 50_000
            assert code(await fails(net, anon.get_object, Bucket="pg-access", Key="team/doc")) == "AccessDenied"
            await net.s3(s3.put_bucket_policy, Bucket="pg-access", Policy=doc(
                allow("pg-access", "/team/*", principal={"AWS": net.tenants[1].id}),
                {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
                 "Resource": "arn:aws:s3:::pg-access/team/*"}))  # fmt: skip
            assert (await net.get(other, Bucket="pg-access", Key="team/doc"))[1] == b"doc"
            assert code(await fails(net, s3.delete_object, Bucket="pg-access", Key="team/doc")) == "AccessDenied"
            block = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                     "RestrictPublicBuckets": True}  # fmt: skip
            await net.s3(s3.put_public_access_block, Bucket="pg-access", PublicAccessBlockConfiguration=block)
            assert code(await fails(net, anon.get_object, Bucket="pg-access", Key="pub")) == "AccessDenied"
            assert (await net.get(other, Bucket="pg-access", Key="team/doc"))[1] == b"doc"  # not public: still on
            await net.satellite.metainfo.access.put_tenant_block(net.tenants[1].id, {"BlockPublicPolicy": True})
            assert await net.satellite.metainfo.access.tenant_block(net.tenants[1].id) == {
                "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
                "RestrictPublicBuckets": False}  # fmt: skip
    finally:
        await drop_database(database, schema)


async def test_anonymous_and_cross_tenant_reads_are_metered_to_the_bucket_owner(tmp_path):
    from sqlalchemy import select

    from satellite.db.accounting_models import TenantMeter

    async with planet(tmp_path) as net:
        s3, anon, other = net.client(), anonymous(net), net.client(1)
        owner_id, other_id = net.tenants[0].id, net.tenants[1].id
        await net.s3(s3.create_bucket, Bucket="billed")
        body = os.urandom(200_000)
        await net.s3(s3.put_object, Bucket="billed", Key="k", Body=body)
        await net.s3(s3.put_bucket_policy, Bucket="billed", Policy=doc(allow("billed")))
        meter = net.satellite.accounting.meter
        await meter.flush()
        async with net.satellite.db.read() as s:
            before = {m.tenant_id: m.egress for m in (await s.execute(select(TenantMeter))).scalars()}
        assert (await net.get(anon, Bucket="billed", Key="k"))[1] == body
        assert (await net.get(other, Bucket="billed", Key="k"))[1] == body
        await meter.flush()
        async with net.satellite.db.read() as s:
            after = {m.tenant_id: m.egress for m in (await s.execute(select(TenantMeter))).scalars()}
        assert after[owner_id] - before.get(owner_id, 0) == 2 * len(body)
        assert after.get(other_id, 0) == before.get(other_id, 0)
