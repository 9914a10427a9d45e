"""Put/Get/DeleteBucketLifecycleConfiguration through boto3 against a real planet: every kind of
rule round-trips, every invalid document gets AWS's error and changes nothing stored, and the
x-amz-expiration / x-amz-abort-date headers announce what a rule will do."""

from __future__ import annotations

import datetime as dt
import email.utils
import re

from botocore.credentials import Credentials

from tests.integration.test_gateway_objects import code
from tests.planet import fails, planet, status
from tests.s3_requests import error_code, send, sign
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

MIDNIGHT = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
RULES = [
    {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}},
    {"ID": "dated", "Filter": {"Tag": {"Key": "kind", "Value": "tmp"}}, "Status": "Disabled",
     "Expiration": {"Date": MIDNIGHT}},
    {"ID": "and", "Filter": {"And": {"Prefix": "a/", "Tags": [{"Key": "x", "Value": "1"}, {"Key": "y", "Value": "2"}],
                                     "ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 1000}},
     "Status": "Enabled", "Expiration": {"Days": 7}},
    {"ID": "big", "Filter": {"ObjectSizeGreaterThan": 5000}, "Status": "Enabled", "Expiration": {"Days": 1}},
    {"ID": "small", "Filter": {"ObjectSizeLessThan": 5}, "Status": "Enabled", "Expiration": {"Days": 2}},
    {"ID": "markers", "Filter": {"Prefix": ""}, "Status": "Enabled",
     "Expiration": {"ExpiredObjectDeleteMarker": True},
     "NoncurrentVersionExpiration": {"NoncurrentDays": 10, "NewerNoncurrentVersions": 3}},
    {"ID": "uploads", "Filter": {"Prefix": "up/"}, "Status": "Enabled",
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 3}},
    {"ID": "legacy, old", "Prefix": "old/", "Status": "Enabled", "Expiration": {"Days": 90}},
]  # fmt: skip


def _rule(**kw: object) -> dict[str, object]:
    return {"ID": "r", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 1}, **kw}


# (rules, code, message fragment)
BAD: list[tuple[list[dict[str, object]], str, str]] = [
    ([_rule(Expiration={"Days": 0})], "InvalidArgument", "'Days' for Expiration action must be a positive integer"),
    ([_rule(Expiration={"Days": -3})], "InvalidArgument", "'Days' for Expiration action must be a positive integer"),
    ([_rule(Expiration={"Date": dt.datetime(2031, 1, 1, 10, tzinfo=dt.UTC)})], "InvalidArgument",
     "'Date' must be at midnight GMT"),
    ([_rule(), _rule()], "InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule"),
    ([_rule(ID="x" * 256)], "InvalidArgument", "ID length should not exceed allowed limit of 255"),
    ([_rule(Prefix="a/")], "MalformedXML", "not well-formed"),  # both Prefix and Filter
    ([_rule(Expiration={"Days": 1, "Date": MIDNIGHT})], "MalformedXML", "not well-formed"),
    ([_rule(Status="On")], "MalformedXML", "not well-formed"),
    ([_rule(Filter={"Prefix": "a", "Tag": {"Key": "k", "Value": "v"}})], "MalformedXML", "not well-formed"),
    ([{"ID": "r", "Filter": {"Prefix": ""}, "Status": "Enabled"}], "InvalidRequest",
     "At least one action needs to be specified in a rule"),
    ([_rule(NoncurrentVersionExpiration={"NoncurrentDays": 0})], "InvalidArgument",
     "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"),
    ([_rule(AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})], "InvalidArgument",
     "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"),
    ([_rule(Filter={"Tag": {"Key": "k", "Value": "v"}}, AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})],
     "InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with Tags."),
    ([_rule(Filter={"And": {"Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]}})], "InvalidRequest",
     "Duplicate Tag Keys are not allowed."),
    ([_rule(Transitions=[{"Days": 30, "StorageClass": "GLACIER"}])], "InvalidStorageClass",
     "The storage class you specified is not valid"),
    ([_rule(ID=f"r{i}") for i in range(1001)], "InvalidRequest",
     "The number of lifecycle rules should not exceed allowed limit of 1000 rules"),
]  # fmt: skip


async def test_every_rule_kind_round_trips_and_delete_leaves_no_configuration(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, nodes=4, scheme="2/2/3/4", database=db) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="life")
        err = await fails(net, s3.get_bucket_lifecycle_configuration, Bucket="life")
        assert (code(err), status(err)) == ("NoSuchLifecycleConfiguration", 404)
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life", LifecycleConfiguration={"Rules": RULES})
        got = await net.s3(s3.get_bucket_lifecycle_configuration, Bucket="life")
        assert got["Rules"] == RULES
        # A rule without an ID gets one, as at AWS; a new document replaces the old one whole.
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life",
                     LifecycleConfiguration={"Rules": [{"Filter": {}, "Status": "Enabled",
                                                        "Expiration": {"Days": 5}}]})  # fmt: skip
        (only,) = (await net.s3(s3.get_bucket_lifecycle_configuration, Bucket="life"))["Rules"]
        assert only["ID"] and only["Expiration"] == {"Days": 5} and only["Filter"] == {}
        # Another tenant may not read or change it.
        other = net.client(1)
        for call in (other.get_bucket_lifecycle_configuration, other.delete_bucket_lifecycle):
            assert code(await fails(net, call, Bucket="life")) == "AccessDenied"
        resp = await net.s3(s3.delete_bucket_lifecycle, Bucket="life")
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
        err = await fails(net, s3.get_bucket_lifecycle_configuration, Bucket="life")
        assert (code(err), status(err)) == ("NoSuchLifecycleConfiguration", 404)
        err = await fails(net, s3.get_bucket_lifecycle_configuration, Bucket="no-such-bucket")
        assert code(err) == "NoSuchBucket"


async def test_invalid_rules_get_the_aws_error_and_change_nothing(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, nodes=4, scheme="2/2/3/4", database=db) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="life")
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life",
                     LifecycleConfiguration={"Rules": RULES[:1]})  # fmt: skip
        for rules, want, message in BAD:
            err = await fails(net, s3.put_bucket_lifecycle_configuration, Bucket="life",
                              LifecycleConfiguration={"Rules": rules})  # fmt: skip
            assert (code(err), status(err)) == (want, 400), (rules[:1], err.response["Error"])
            assert message in err.response["Error"]["Message"], (want, err.response["Error"])
        # Documents no SDK would send: not XML, the wrong root, no rules.
        t = net.tenants[0]
        creds = Credentials(t.access_key, t.secret_key)
        for body in (b"<LifecycleConfiguration><Rule>", b"<CORSConfiguration/>", b"<LifecycleConfiguration/>",
                     b"<LifecycleConfiguration><Rule><Status>Enabled</Status><Expiration><Days>x</Days>"
                     b"</Expiration></Rule></LifecycleConfiguration>"):  # fmt: skip
            req = sign("v4", "PUT", f"{net.endpoint}/life?lifecycle", body, credentials=creds)
            got_status, _, answer = await send(req)
            assert (got_status, error_code(answer)) == (400, "MalformedXML"), body
        got = await net.s3(s3.get_bucket_lifecycle_configuration, Bucket="life")
        assert got["Rules"] == RULES[:1]


def _header_date(value: str) -> dt.datetime:
    m = re.fullmatch(r'expiry-date="([^"]+)", rule-id="([^"]+)"', value)
    assert m, value
    return email.utils.parsedate_to_datetime(m.group(1))


async def test_expiration_headers_announce_the_rule_that_applies(tmp_path) -> None:
    size = 3  # under 5 bytes: the "small" rule applies too
    async with planet(tmp_path, nodes=4, scheme="2/2/3/4") as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="life")
        await net.s3(s3.put_object, Bucket="life", Key="logs/before", Body=b"x" * size)
        head = await net.s3(s3.head_object, Bucket="life", Key="logs/before")
        assert "x-amz-expiration" not in head["ResponseMetadata"]["HTTPHeaders"]
        await net.s3(s3.put_bucket_lifecycle_configuration, Bucket="life", LifecycleConfiguration={"Rules": RULES})
        put = await net.s3(s3.put_object, Bucket="life", Key="logs/a", Body=b"x" * size)
        # Two rules apply ("logs" 30 days, "small" 2 days): the earliest wins, rounded up to midnight UTC.
        assert put["Expiration"].endswith('rule-id="small"'), put["Expiration"]
        head = await net.s3(s3.head_object, Bucket="life", Key="logs/a")
        when = _header_date(head["Expiration"])
        created = head["LastModified"]
        assert when == (created + dt.timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
        got = await net.s3(s3.get_object, Bucket="life", Key="logs/a")
        assert got["Expiration"] == head["Expiration"]
        # No rule for this key and size: no header.
        await net.s3(s3.put_object, Bucket="life", Key="other", Body=b"x" * 100)
        head = await net.s3(s3.head_object, Bucket="life", Key="other")
        assert "Expiration" not in head
        # The rule id is URL-encoded, as AWS sends it.
        put = await net.s3(s3.put_object, Bucket="life", Key="old/x", Body=b"x" * 100)
        assert put["Expiration"].endswith('rule-id="legacy%2C%20old"'), put["Expiration"]
        # A copy is a new object under the destination key's rules.
        copied = await net.s3(s3.copy_object, Bucket="life", Key="logs/copy", CopySource={"Bucket": "life",
                                                                                         "Key": "other"})  # fmt: skip
        assert copied["Expiration"].endswith('rule-id="logs"'), copied
        # Multipart: the abort rule is announced at creation, the expiration at completion.
        up = await net.s3(s3.create_multipart_upload, Bucket="life", Key="up/big")
        assert up["AbortRuleId"] == "uploads"
        assert up["AbortDate"].hour == 0 and up["AbortDate"] > dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
        none = await net.s3(s3.create_multipart_upload, Bucket="life", Key="logs/mp")
        assert "AbortRuleId" not in none
        part = await net.s3(s3.upload_part, Bucket="life", Key="logs/mp", UploadId=none["UploadId"], PartNumber=1,
                            Body=b"y" * size)  # fmt: skip
        done = await net.s3(s3.complete_multipart_upload, Bucket="life", Key="logs/mp", UploadId=none["UploadId"],
                            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})  # fmt: skip
        assert done["Expiration"].endswith('rule-id="small"')
