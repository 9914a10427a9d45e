"""XML documents: builders parse back (botocore's own parser for the responses), request
parsers refuse what AWS refuses."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from botocore.parsers import RestXMLParser
from botocore.session import get_session

from gateway.s3 import versioning, xml
from gateway.s3.errors import S3Error
from gateway.s3.router import ListQuery

T = datetime(2009, 10, 12, 17, 50, 30, 123000, tzinfo=UTC)
_MODEL = get_session().get_service_model("s3")


def _parse(operation: str, body: bytes) -> dict:
    shape = _MODEL.operation_model(operation).output_shape
    return RestXMLParser().parse({"body": body, "headers": {}, "status_code": 200}, shape)


def test_list_buckets_result_parses_in_botocore():
    body = xml.list_buckets_result(xml.Owner("t1", "tenant"), [xml.BucketInfo("photos", T)])
    out = _parse("ListBuckets", body)
    assert out["Buckets"][0]["Name"] == "photos" and out["Owner"]["ID"] == "t1"
    assert out["Buckets"][0]["CreationDate"] == T


def test_list_objects_v2_with_url_encoding_round_trips_through_botocore():
    q = ListQuery(prefix="a b/", delimiter="/", encoding_type="url", max_keys=2)
    objs = [xml.ObjectInfo("a b/ü+&.txt", T, '"abc"', 5)]
    body = xml.list_objects_v2_result(
        "bkt", q, objs, ["a b/sub dir/"], is_truncated=True, next_continuation_token="tok"
    )
    assert b"a+b" not in body and b"a%20b/%C3%BC%2B%26.txt" in body
    out = _parse("ListObjectsV2", body)
    assert out["KeyCount"] == 2 and out["IsTruncated"] is True and out["NextContinuationToken"] == "tok"
    assert out["EncodingType"] == "url"


def test_list_objects_v1_has_marker_and_next_marker():
    q = ListQuery(prefix="", delimiter="/", marker="m")
    body = xml.list_objects_result("bkt", q, [xml.ObjectInfo("n", T, '"e"', 1, owner=xml.Owner("o"))], [],
                                   is_truncated=True, next_marker="n")  # fmt: skip
    out = _parse("ListObjects", body)
    assert (out["Marker"], out["NextMarker"], out["Contents"][0]["Owner"]["ID"]) == ("m", "n", "o")


def test_multipart_documents_parse_in_botocore():
    out = _parse("CreateMultipartUpload", xml.initiate_multipart_upload_result("b", "k y", "up1"))
    assert (out["Bucket"], out["Key"], out["UploadId"]) == ("b", "k y", "up1")
    out = _parse("CompleteMultipartUpload", xml.complete_multipart_upload_result("http://x/b/k", "b", "k", '"e-2"'))
    assert out["ETag"] == '"e-2"'
    parts = [xml.PartInfo(1, T, '"p1"', 5 << 20, {"ChecksumCRC32": "AAAAAA=="})]
    body = xml.list_parts_result("b", "k", "up1", ListQuery(max_keys=1), parts, is_truncated=True,
                                 next_part_number_marker=1, owner=xml.Owner("t"))  # fmt: skip
    out = _parse("ListParts", body)
    assert out["Parts"][0]["ChecksumCRC32"] == "AAAAAA==" and out["NextPartNumberMarker"] == 1
    body = xml.list_multipart_uploads_result("b", ListQuery(), [xml.UploadInfo("k", "up1", T)], [], is_truncated=False)
    assert _parse("ListMultipartUploads", body)["Uploads"][0]["UploadId"] == "up1"


def test_delete_result_quiet_lists_only_errors():
    errs = [xml.DeleteError("k2", "AccessDenied", "Access Denied")]
    loud = _parse("DeleteObjects", xml.delete_result(["k1"], errs))
    quiet = _parse("DeleteObjects", xml.delete_result(["k1"], errs, quiet=True))
    assert loud["Deleted"] == [{"Key": "k1"}] and "Deleted" not in quiet
    assert quiet["Errors"][0]["Code"] == "AccessDenied"


def test_location_versioning_copy_and_tagging_documents():
    # botocore reads GetBucketLocation in a handler: the root's text, whatever the shape.
    root = ET.fromstring(xml.location_constraint("eu"))
    assert (root.tag, root.text) == (f"{{{xml.NS}}}LocationConstraint", "eu")
    assert ET.fromstring(xml.location_constraint(None)).text is None
    assert "Status" not in _parse("GetBucketVersioning", versioning.versioning_configuration("unversioned"))
    assert _parse("CopyObject", xml.copy_object_result('"e"', T))["CopyObjectResult"]["ETag"] == '"e"'
    assert _parse("GetObjectTagging", xml.tagging({"a": "1"}))["TagSet"] == [{"Key": "a", "Value": "1"}]


COMPLETE = b"""<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
<Part><PartNumber>1</PartNumber><ETag>"a54357aff0632cce46d942af68356b38"</ETag></Part>
<Part><ChecksumCRC32>AAAAAA==</ChecksumCRC32><PartNumber>2</PartNumber><ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag></Part>
</CompleteMultipartUpload>"""


def test_complete_multipart_upload_parser_keeps_order_etags_and_checksums():
    parts = xml.parse_complete_multipart_upload(COMPLETE)
    assert [p.part_number for p in parts] == [1, 2]
    assert parts[1].etag == '"0c78aef83f66abc1fa1e8477f296d394"' and parts[1].checksums == {"ChecksumCRC32": "AAAAAA=="}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
        b"<CompleteMultipartUpload></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>",
        b"<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
        b"<Delete><Object><Key>k</Key></Object></Delete>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><CompleteMultipartUpload>&a;</CompleteMultipartUpload>',
    ],
)
def test_malformed_complete_multipart_upload_is_malformed_xml(body):
    with pytest.raises(S3Error) as e:
        xml.parse_complete_multipart_upload(body)
    assert (e.value.code, e.value.status) == ("MalformedXML", 400)


def test_delete_parser_reads_keys_and_quiet():
    req = xml.parse_delete(b"<Delete><Quiet>true</Quiet><Object><Key>a b</Key></Object><Object><Key>c</Key>"
                           b"<VersionId>null</VersionId></Object></Delete>")  # fmt: skip
    assert req == xml.DeleteRequest(["a b", "c"], True, [None, "null"])


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Object><Key>k</Key></Object>",
        b"<Delete></Delete>",
        b"<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>",
        b"<Delete><Object></Object></Delete>",
        b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>",
        b"<NotDelete><Object><Key>k</Key></Object></NotDelete>",
    ],
)
def test_malformed_delete_objects_is_malformed_xml(body):
    with pytest.raises(S3Error, match="MalformedXML"):
        xml.parse_delete(body)


def test_tagging_limits_are_invalid_tag():
    tags = "".join(f"<Tag><Key>k{i}</Key><Value>v</Value></Tag>" for i in range(11))
    with pytest.raises(S3Error, match="InvalidTag"):
        xml.parse_tagging(f"<Tagging><TagSet>{tags}</TagSet></Tagging>".encode())
    for key, value in (("k" * 129, "v"), ("k", "v" * 257), ("aws:x", "v")):
        body = f"<Tagging><TagSet><Tag><Key>{key}</Key><Value>{value}</Value></Tag></TagSet></Tagging>"
        with pytest.raises(S3Error, match="InvalidTag"):
            xml.parse_tagging(body.encode())
    dup = b"<Tagging><TagSet>" + b"<Tag><Key>a</Key><Value>1</Value></Tag>" * 2 + b"</TagSet></Tagging>"
    with pytest.raises(S3Error, match="multiple Tags"):
        xml.parse_tagging(dup)
    assert xml.parse_tagging_header("a=1&b=x%20y") == {"a": "1", "b": "x y"}


def test_create_bucket_configuration():
    body = b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu</LocationConstraint></CreateBucketConfiguration>'
    assert xml.parse_create_bucket_configuration(body) == "eu"
    assert xml.parse_create_bucket_configuration(b"") is None
    with pytest.raises(S3Error, match="MalformedXML"):
        xml.parse_create_bucket_configuration(b"<CreateBucketConfiguration><LocationConstraint>")
