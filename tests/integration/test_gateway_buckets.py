"""boto3 against a real gateway, satellite and nodes: buckets, listing, tenancy, tagging, delete."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_gateway_objects import code
from tests.planet import planet


async def test_bucket_lifecycle_location_and_errors(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="euro-data", CreateBucketConfiguration={"LocationConstraint": "eu"})
        loc = await net.s3(s3.get_bucket_location, Bucket="euro-data")
        assert loc["LocationConstraint"] == "eu"
        await net.s3(s3.head_bucket, Bucket="euro-data")
        names = [b["Name"] for b in (await net.s3(s3.list_buckets))["Buckets"]]
        assert names == ["euro-data"]
        with pytest.raises(ClientError) as e:
            await net.s3(s3.create_bucket, Bucket="mars-data", CreateBucketConfiguration={"LocationConstraint": "mars"})
        assert code(e.value) == "InvalidLocationConstraint"
        with pytest.raises(ClientError) as e:
            await net.s3(s3.create_bucket, Bucket="euro-data")
        assert code(e.value) == "BucketAlreadyOwnedByYou"
        await net.s3(s3.put_object, Bucket="euro-data", Key="a", Body=b"x")
        with pytest.raises(ClientError) as e:
            await net.s3(s3.delete_bucket, Bucket="euro-data")
        assert code(e.value) == "BucketNotEmpty"
        await net.s3(s3.delete_object, Bucket="euro-data", Key="a")
        await net.s3(s3.delete_bucket, Bucket="euro-data")
        with pytest.raises(ClientError) as e:
            await net.s3(s3.head_bucket, Bucket="euro-data")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


async def test_tenants_are_isolated(tmp_path):
    async with planet(tmp_path) as net:
        alpha, beta = net.client(0), net.client(1)
        await net.s3(alpha.create_bucket, Bucket="alpha-private")
        await net.s3(alpha.put_object, Bucket="alpha-private", Key="secret", Body=b"alpha's")
        for call, kwargs in (
            (beta.get_object, {"Key": "secret"}), (beta.put_object, {"Key": "secret", "Body": b"beta's"}),
            (beta.list_objects_v2, {}), (beta.delete_object, {"Key": "secret"}), (beta.head_bucket, {}),
        ):  # fmt: skip
            with pytest.raises(ClientError) as e:
                await net.s3(call, Bucket="alpha-private", **kwargs)
            status = e.value.response["ResponseMetadata"]["HTTPStatusCode"]
            assert status == 403, (call, e.value.response)
        with pytest.raises(ClientError) as e:
            await net.s3(beta.create_bucket, Bucket="alpha-private")
        assert code(e.value) == "BucketAlreadyExists"
        assert (await net.s3(beta.list_buckets))["Buckets"] == []
        assert (await net.get(alpha, Bucket="alpha-private", Key="secret"))[1] == b"alpha's"


async def test_listing_v1_v2_prefix_delimiter_pages(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="lists")
        keys = ["a/1", "a/2", "b/1", "c", "d e", "ü/x"]
        for k in keys:
            await net.s3(s3.put_object, Bucket="lists", Key=k, Body=k.encode())
        v2 = await net.s3(s3.list_objects_v2, Bucket="lists")
        assert [o["Key"] for o in v2["Contents"]] == sorted(keys)
        v2 = await net.s3(s3.list_objects_v2, Bucket="lists", Delimiter="/")
        assert [o["Key"] for o in v2["Contents"]] == ["c", "d e"]
        assert [p["Prefix"] for p in v2["CommonPrefixes"]] == ["a/", "b/", "ü/"]
        seen, token = [], None
        while True:
            kw = {"ContinuationToken": token} if token else {}
            page = await net.s3(s3.list_objects_v2, Bucket="lists", MaxKeys=2, **kw)
            seen += [o["Key"] for o in page.get("Contents", [])]
            if not page["IsTruncated"]:
                break
            token = page["NextContinuationToken"]
        assert seen == sorted(keys)
        paginator = s3.get_paginator("list_objects")
        pager = paginator.paginate(Bucket="lists", Prefix="a/", PaginationConfig={"PageSize": 1})
        pages = await net.s3(lambda: list(pager))
        assert [o["Key"] for p in pages for o in p.get("Contents", [])] == ["a/1", "a/2"]
        v2 = await net.s3(s3.list_objects_v2, Bucket="lists", StartAfter="c", EncodingType="url")
        # Asked for explicitly, boto3 leaves the decoding to the caller: a space is %20, as the
        # S3 conformance tests expect of AWS (docs/s3-compatibility.md).
        assert [o["Key"] for o in v2["Contents"]] == ["d%20e", "%C3%BC/x"]


async def test_delete_objects_and_tagging(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="tags")
        await net.s3(s3.put_object, Bucket="tags", Key="t", Body=b"x", Tagging="team=ops&env=prod")
        tags = (await net.s3(s3.get_object_tagging, Bucket="tags", Key="t"))["TagSet"]
        assert sorted((t["Key"], t["Value"]) for t in tags) == [("env", "prod"), ("team", "ops")]
        await net.s3(s3.put_object_tagging, Bucket="tags", Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
        assert (await net.s3(s3.get_object_tagging, Bucket="tags", Key="t"))["TagSet"] == [{"Key": "k", "Value": "v"}]
        await net.s3(s3.delete_object_tagging, Bucket="tags", Key="t")
        assert (await net.s3(s3.get_object_tagging, Bucket="tags", Key="t"))["TagSet"] == []
        for k in ("x1", "x2", "x3"):
            await net.s3(s3.put_object, Bucket="tags", Key=k, Body=b"1")
        out = await net.s3(s3.delete_objects, Bucket="tags",
                           Delete={"Objects": [{"Key": "x1"}, {"Key": "x2"}, {"Key": "nope"}]})  # fmt: skip
        assert sorted(d["Key"] for d in out["Deleted"]) == ["nope", "x1", "x2"]
        quiet = await net.s3(s3.delete_objects, Bucket="tags", Delete={"Objects": [{"Key": "x3"}], "Quiet": True})
        assert "Deleted" not in quiet
        left = await net.s3(s3.list_objects_v2, Bucket="tags")
        assert [o["Key"] for o in left["Contents"]] == ["t"]


async def test_lock_requests_on_a_bucket_without_object_lock_store_nothing(tmp_path):
    """A write asking for retention or a legal hold in a bucket without Object Lock is refused
    before its body and stores nothing: no one believes in a lock that is not there
    (lock buckets themselves: test_object_lock.py)."""
    import datetime as dt

    async with planet(tmp_path) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="records")
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
        for kwargs in (
            {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": until},
            {"ObjectLockLegalHoldStatus": "ON"},
        ):
            with pytest.raises(ClientError) as e:
                await net.s3(s3.put_object, Bucket="records", Key="ledger.csv", Body=b"a,b", **kwargs)
            assert code(e.value) == "InvalidRequest" and "Object Lock Configuration" in str(e.value)
            with pytest.raises(ClientError) as e:
                await net.s3(s3.create_multipart_upload, Bucket="records", Key="big.csv", **kwargs)
            assert code(e.value) == "InvalidRequest"
        assert (await net.s3(s3.list_objects_v2, Bucket="records"))["KeyCount"] == 0
        assert (await net.s3(s3.list_multipart_uploads, Bucket="records")).get("Uploads", []) == []


async def test_list_buckets_filters_by_prefix_and_pages_with_continuation_tokens(tmp_path):
    async with planet(tmp_path) as net:
        s3 = net.client()
        names = ["logs-a", "logs-b", "logs-c", "photos", "logs-d"]
        for name in names:
            await net.s3(s3.create_bucket, Bucket=name)
        got = await net.s3(s3.list_buckets, Prefix="logs-")
        assert [b["Name"] for b in got["Buckets"]] == ["logs-a", "logs-b", "logs-c", "logs-d"]
        assert got["Prefix"] == "logs-" and "ContinuationToken" not in got
        pages, token = [], None
        while True:
            kwargs = {"ContinuationToken": token} if token else {}
            page = await net.s3(s3.list_buckets, MaxBuckets=2, **kwargs)
            pages.append([b["Name"] for b in page["Buckets"]])
            token = page.get("ContinuationToken")
            if not token:
                break
        assert pages == [["logs-a", "logs-b"], ["logs-c", "logs-d"], ["photos"]]
        unchecked = net.client(parameter_validation=False)  # boto3 would refuse these itself
        for bad in ({"MaxBuckets": 0}, {"MaxBuckets": 10_001}, {"ContinuationToken": "%%%"}):
            with pytest.raises(ClientError) as e:
                await net.s3(unchecked.list_buckets, **bad)
            assert code(e.value) == "InvalidArgument", bad
