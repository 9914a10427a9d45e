"""Object Lock (WORM) end to end: boto3 against a real gateway, satellite and nodes.

The first tests follow the public conformance suites' object-lock cases (status, code) as AWS
answers them; the last tries every deletion route on a COMPLIANCE version and then measures the
nodes' disks after garbage collection (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
import time

from botocore.exceptions import ClientError

from storage_node.pieces.store import scan_usage
from tests.integration.test_gc import EXACT, collect, live_bytes
from tests.planet import Planet, fails, planet, status
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

SEGMENT = 64 * 1024
FAR = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
GOV = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}


def code(err: ClientError) -> tuple[str, int]:
    return str(err.response["Error"]["Code"]), status(err)


async def lock_bucket(net: Planet, s3, name: str) -> None:  # type: ignore[no-untyped-def]
    await net.s3(s3.create_bucket, Bucket=name, ObjectLockEnabledForBucket=True)


async def test_lock_buckets_are_versioned_for_good_and_their_configuration_round_trips(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await lock_bucket(net, s3, "worm")
        assert (await net.s3(s3.get_bucket_versioning, Bucket="worm"))["Status"] == "Enabled"
        err = await fails(net, s3.put_bucket_versioning, Bucket="worm", VersioningConfiguration={"Status": "Suspended"})
        assert code(err) == ("InvalidBucketState", 409)
        got = await net.s3(s3.get_object_lock_configuration, Bucket="worm")
        assert got["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}  # no default retention yet
        await net.s3(s3.put_object_lock_configuration, Bucket="worm", ObjectLockConfiguration=GOV)
        got = await net.s3(s3.get_object_lock_configuration, Bucket="worm")
        assert got["ObjectLockConfiguration"] == GOV
        compliance = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}}}
        await net.s3(s3.put_object_lock_configuration, Bucket="worm", ObjectLockConfiguration=compliance)
        assert (await net.s3(s3.get_object_lock_configuration, Bucket="worm"))["ObjectLockConfiguration"] == compliance
        for bad, want in (
            ({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1,
                                                                             "Years": 1}}}, "MalformedXML"),
            ({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 0}}},
             "InvalidRetentionPeriod"),
            ({"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "abc", "Years": 1}}},
             "MalformedXML"),
            ({"ObjectLockEnabled": "Disabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 1}}},
             "MalformedXML"),
        ):  # fmt: skip
            err = await fails(net, s3.put_object_lock_configuration, Bucket="worm", ObjectLockConfiguration=bad)
            assert code(err) == (want, 400), bad
        assert (await net.s3(s3.get_object_lock_configuration, Bucket="worm"))["ObjectLockConfiguration"] == compliance

        # A bucket without Object Lock refuses every lock request; once versioned it may turn the lock on.
        await net.s3(s3.create_bucket, Bucket="plain")
        await net.s3(s3.put_object, Bucket="plain", Key="k", Body=b"abc")
        err = await fails(net, s3.put_object_lock_configuration, Bucket="plain", ObjectLockConfiguration=GOV)
        assert code(err) == ("InvalidBucketState", 409)
        err = await fails(net, s3.get_object_lock_configuration, Bucket="plain")
        assert code(err) == ("ObjectLockConfigurationNotFoundError", 404)
        retention = {"Mode": "GOVERNANCE", "RetainUntilDate": FAR}
        for call, kw in ((s3.put_object_retention, {"Retention": retention}), (s3.get_object_retention, {}),
                         (s3.put_object_legal_hold, {"LegalHold": {"Status": "ON"}}), (s3.get_object_legal_hold, {})):
            err = await fails(net, call, Bucket="plain", Key="k", **kw)
            assert code(err) == ("InvalidRequest", 400), call
        err = await fails(net, s3.put_object, Bucket="plain", Key="locked", Body=b"x", ObjectLockMode="GOVERNANCE",
                          ObjectLockRetainUntilDate=FAR)  # fmt: skip
        assert code(err) == ("InvalidRequest", 400)
        assert "Bucket is missing Object Lock Configuration" in str(err)
        listed = await net.s3(s3.list_objects_v2, Bucket="plain")
        assert [o["Key"] for o in listed["Contents"]] == ["k"]  # nothing stored
        await net.s3(s3.put_bucket_versioning, Bucket="plain", VersioningConfiguration={"Status": "Enabled"})
        await net.s3(s3.put_object_lock_configuration, Bucket="plain", ObjectLockConfiguration=GOV)
        assert (await net.s3(s3.get_object_lock_configuration, Bucket="plain"))["ObjectLockConfiguration"] == GOV
        suspend = {"Status": "Suspended"}
        err = await fails(net, s3.put_bucket_versioning, Bucket="plain", VersioningConfiguration=suspend)
        assert code(err) == ("InvalidBucketState", 409)
        head = await net.s3(s3.put_object, Bucket="plain", Key="new", Body=b"x")
        assert (await net.s3(s3.get_object_retention, Bucket="plain", Key="new", VersionId=head["VersionId"]))[
            "Retention"]["Mode"] == "GOVERNANCE"


async def test_retention_extends_freely_shortens_only_with_a_bypass_and_guards_deletion(tmp_path) -> None:
    async with planet(tmp_path) as net:
        s3 = net.client()
        await lock_bucket(net, s3, "worm")
        vid = (await net.s3(s3.put_object, Bucket="worm", Key="k", Body=b"abc"))["VersionId"]
        err = await fails(net, s3.get_object_retention, Bucket="worm", Key="k")
        assert code(err) == ("NoSuchObjectLockConfiguration", 404)
        for mode in ("governance", "abc"):
            err = await fails(net, s3.put_object_retention, Bucket="worm", Key="k",
                              Retention={"Mode": mode, "RetainUntilDate": FAR})  # fmt: skip
            assert code(err) == ("MalformedXML", 400)
        await net.s3(s3.put_object_retention, Bucket="worm", Key="k", Retention={"Mode": "GOVERNANCE",
                                                                               "RetainUntilDate": FAR})  # fmt: skip
        got = await net.s3(s3.get_object_retention, Bucket="worm", Key="k", VersionId=vid)
        assert got["Retention"] == {"Mode": "GOVERNANCE", "RetainUntilDate": FAR}
        later = FAR + dt.timedelta(days=2)
        await net.s3(s3.put_object_retention, Bucket="worm", Key="k",
                     Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later})  # fmt: skip
        err = await fails(net, s3.put_object_retention, Bucket="worm", Key="k",
                          Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR})  # fmt: skip
        assert code(err) == ("AccessDenied", 403)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        err = await fails(net, s3.put_object_retention, Bucket="worm", Key="k",
                          Retention={"Mode": "GOVERNANCE", "RetainUntilDate": past}, BypassGovernanceRetention=True)
        assert code(err) == ("InvalidArgument", 400)
        await net.s3(s3.put_object_retention, Bucket="worm", Key="k", BypassGovernanceRetention=True,
                     Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR})  # fmt: skip
        head = await net.s3(s3.head_object, Bucket="worm", Key="k")
        assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("GOVERNANCE", FAR)
        # DELETE without a version id only adds a delete marker; the version itself needs the bypass.
        marker = await net.s3(s3.delete_object, Bucket="worm", Key="k")
        assert marker["DeleteMarker"] is True
        err = await fails(net, s3.delete_object, Bucket="worm", Key="k", VersionId=vid)
        assert code(err) == ("AccessDenied", 403)
        assert "object protected by object lock" in str(err)
        assert (await net.get(s3, Bucket="worm", Key="k", VersionId=vid))[1] == b"abc"
        gone = await net.s3(s3.delete_object, Bucket="worm", Key="k", VersionId=vid, BypassGovernanceRetention=True)
        assert gone["ResponseMetadata"]["HTTPStatusCode"] == 204

        # COMPLIANCE, from the write's own headers: nothing shortens, switches or bypasses it.
        soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).replace(microsecond=0)
        cid = (await net.s3(s3.put_object, Bucket="worm", Key="c", Body=b"kept", ObjectLockMode="COMPLIANCE",
                            ObjectLockRetainUntilDate=soon))["VersionId"]  # fmt: skip
        head = await net.s3(s3.head_object, Bucket="worm", Key="c")
        assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", soon)
        for retention in ({"Mode": "GOVERNANCE", "RetainUntilDate": soon}, {"Mode": "COMPLIANCE",
                          "RetainUntilDate": soon - dt.timedelta(hours=1)}):  # fmt: skip
            err = await fails(net, s3.put_object_retention, Bucket="worm", Key="c", Retention=retention,
                              BypassGovernanceRetention=True)  # fmt: skip
            assert code(err) == ("AccessDenied", 403)
        await net.s3(s3.put_object_retention, Bucket="worm", Key="c",
                     Retention={"Mode": "COMPLIANCE", "RetainUntilDate": FAR})  # extending is always allowed
        err = await fails(net, s3.delete_object, Bucket="worm", Key="c", VersionId=cid, BypassGovernanceRetention=True)
        assert code(err) == ("AccessDenied", 403)

        # Bad lock headers are refused before the body, with AWS's words.
        for kw, words in (({"ObjectLockMode": "GOVERNANCE"}, "must both be supplied"),
                          ({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": past}, "in the future")):
            err = await fails(net, s3.put_object, Bucket="worm", Key="bad", Body=b"x", **kw)
            assert code(err) == ("InvalidArgument", 400) and words in str(err)
        assert (await net.s3(s3.list_object_versions, Bucket="worm", Prefix="bad")).get("Versions") is None


async def test_legal_holds_default_retention_multipart_copy_and_delete_objects(tmp_path) -> None:
    async with planet(tmp_path, segment_size=SEGMENT) as net:
        s3 = net.client()
        await lock_bucket(net, s3, "worm")
        vid = (await net.s3(s3.put_object, Bucket="worm", Key="held", Body=b"abc"))["VersionId"]
        err = await fails(net, s3.put_object_legal_hold, Bucket="worm", Key="held", LegalHold={"Status": "abc"})
        assert code(err) == ("MalformedXML", 400)
        await net.s3(s3.put_object_legal_hold, Bucket="worm", Key="held", LegalHold={"Status": "ON"})
        assert (await net.s3(s3.get_object_legal_hold, Bucket="worm", Key="held"))["LegalHold"] == {"Status": "ON"}
        err = await fails(net, s3.delete_object, Bucket="worm", Key="held", VersionId=vid,
                          BypassGovernanceRetention=True)  # fmt: skip
        assert code(err) == ("AccessDenied", 403)
        await net.s3(s3.put_object_legal_hold, Bucket="worm", Key="held", LegalHold={"Status": "OFF"})
        assert (await net.s3(s3.get_object_legal_hold, Bucket="worm", Key="held"))["LegalHold"] == {"Status": "OFF"}
        await net.s3(s3.delete_object, Bucket="worm", Key="held", VersionId=vid)

        # The bucket's default retention reaches every new version: PUT, multipart and copy.
        await net.s3(s3.put_object_lock_configuration, Bucket="worm", ObjectLockConfiguration=GOV)
        before = dt.datetime.now(dt.UTC)
        await net.s3(s3.put_object, Bucket="worm", Key="d", Body=os.urandom(SEGMENT + 5))
        head = await net.s3(s3.head_object, Bucket="worm", Key="d")
        assert head["ObjectLockMode"] == "GOVERNANCE"
        assert dt.timedelta(hours=23) < head["ObjectLockRetainUntilDate"] - before < dt.timedelta(hours=25)
        up = await net.s3(s3.create_multipart_upload, Bucket="worm", Key="mp", ObjectLockMode="COMPLIANCE",
                          ObjectLockRetainUntilDate=FAR, ObjectLockLegalHoldStatus="ON")  # fmt: skip
        part = await net.s3(s3.upload_part, Bucket="worm", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
        await net.s3(s3.complete_multipart_upload, Bucket="worm", Key="mp", UploadId=up["UploadId"],
                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})  # fmt: skip
        head = await net.s3(s3.head_object, Bucket="worm", Key="mp")
        assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"], head["ObjectLockLegalHoldStatus"]) == (
            "COMPLIANCE", FAR, "ON")
        await net.s3(s3.copy_object, Bucket="worm", Key="copy", CopySource={"Bucket": "worm", "Key": "d"},
                     ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR)  # fmt: skip
        head = await net.s3(s3.head_object, Bucket="worm", Key="copy")
        assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", FAR)

        # DeleteObjects deletes what it may and reports the locked version as AccessDenied.
        await net.s3(s3.put_object_lock_configuration, Bucket="worm",
                     ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})  # fmt: skip
        free = (await net.s3(s3.put_object, Bucket="worm", Key="free", Body=b"x"))["VersionId"]
        kept = (await net.s3(s3.head_object, Bucket="worm", Key="d"))["VersionId"]
        out = await net.s3(s3.delete_objects, Bucket="worm", Delete={"Objects": [
            {"Key": "d", "VersionId": kept}, {"Key": "free", "VersionId": free}]})  # fmt: skip
        assert [(d["Key"], d["VersionId"]) for d in out["Deleted"]] == [("free", free)]
        assert [(e["Key"], e["VersionId"], e["Code"]) for e in out["Errors"]] == [("d", kept, "AccessDenied")]
        out = await net.s3(s3.delete_objects, Bucket="worm", BypassGovernanceRetention=True,
                           Delete={"Objects": [{"Key": "d", "VersionId": kept}]})  # fmt: skip
        assert not out.get("Errors") and [d["Key"] for d in out["Deleted"]] == ["d"]


async def test_a_compliance_version_survives_every_deletion_route_and_keeps_its_pieces(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, database=db, segment_size=SEGMENT, satellite_config=EXACT) as net:
        s3 = net.client()
        await lock_bucket(net, s3, "vault")
        body = os.urandom(3 * SEGMENT + 11)
        vid = (await net.s3(s3.put_object, Bucket="vault", Key="record", Body=body, ObjectLockMode="COMPLIANCE",
                            ObjectLockRetainUntilDate=FAR))["VersionId"]  # fmt: skip
        # Beside it, an unlocked draft overwritten once: lifecycle must remove its old version and go on.
        old_draft = (await net.s3(s3.put_object, Bucket="vault", Key="draft", Body=b"v1"))["VersionId"]
        draft = (await net.s3(s3.put_object, Bucket="vault", Key="draft", Body=b"v2"))["VersionId"]
        every = await live_bytes(net)
        # The tenant: by version, with and without the bypass, alone and in a batch.
        for kw in ({}, {"BypassGovernanceRetention": True}):
            err = await fails(net, s3.delete_object, Bucket="vault", Key="record", VersionId=vid, **kw)
            assert code(err) == ("AccessDenied", 403)
            out = await net.s3(s3.delete_objects, Bucket="vault", Delete={"Objects": [
                {"Key": "record", "VersionId": vid}]}, **kw)  # fmt: skip
            assert [e["Code"] for e in out["Errors"]] == ["AccessDenied"] and not out.get("Deleted")
        # A delete marker hides it, but the bucket still holds a version: it cannot be deleted.
        await net.s3(s3.delete_object, Bucket="vault", Key="record")
        err = await fails(net, s3.delete_bucket, Bucket="vault")
        assert code(err) == ("BucketNotEmpty", 409)
        # Lifecycle: an expiry rule on every object adds markers and never removes the version.
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="vault", LifecycleConfiguration={"Rules": [
            {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1},
             "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})  # fmt: skip
        chore = net.satellite.lifecycle
        while await chore.run_once(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=400)) is not None:
            pass
        versions = await net.s3(s3.list_object_versions, Bucket="vault")
        assert sorted(v["VersionId"] for v in versions["Versions"]) == sorted([vid])
        assert old_draft not in str(versions) and draft not in str(versions)  # the chore went on past the locked one
        assert net.satellite.lifecycle.stats.expired_versions >= 1
        # The satellite's garbage collection keeps every piece of the locked version on every node's disk.
        kept = await live_bytes(net)
        await collect(net, at=time.time() + net.satellite.gc.config.margin + 2)
        for node in net.nodes:
            disk = scan_usage(node.config.data_dir)
            assert (disk.piece_count, disk.pieces) == kept[node.identity.id], node.identity.id
            assert kept[node.identity.id] == every[node.identity.id]  # the 2-byte drafts were inline
        assert (await net.get(s3, Bucket="vault", Key="record", VersionId=vid))[1] == body
