"""The router against the request examples of AWS's S3 API reference.

Each row is (method, path and query as sent, headers) → the endpoint AWS's documentation
says that request is; the examples are the "Sample Request" lines of each operation's page.
"""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.s3.errors import S3Error
from gateway.s3.router import (
    Addressing,
    CopySource,
    Endpoint,
    ListQuery,
    Operation,
    RouterConfig,
    check_bucket_name,
    route,
)

VHOST = RouterConfig(base_domains=("s3.amazonaws.com", "s3.localhost"))
Op = Operation
V = Addressing.VIRTUAL_HOST


def _headers(host: str = "s3.amazonaws.com", **extra: str) -> CIMultiDictProxy[str]:
    h = CIMultiDict({"Host": host})
    for k, v in extra.items():
        h[k.replace("_", "-")] = v
    return CIMultiDictProxy(h)


BUCKET_HOST = "examplebucket.s3.amazonaws.com"

AWS_EXAMPLES: list[tuple[str, str, CIMultiDictProxy[str], Endpoint]] = [
    ("GET", "/", _headers(), Endpoint(Op.LIST_BUCKETS)),
    (
        "PUT",
        "/",
        _headers("my-bucket.s3.amazonaws.com"),
        Endpoint(Op.CREATE_BUCKET, "my-bucket", addressing=V),
    ),
    ("HEAD", "/", _headers("amzn-s3.s3.amazonaws.com"), Endpoint(Op.HEAD_BUCKET, "amzn-s3", addressing=V)),
    ("DELETE", "/", _headers("quotes.s3.amazonaws.com"), Endpoint(Op.DELETE_BUCKET, "quotes", addressing=V)),
    (
        "GET",
        "/?location",
        _headers("myBucket.s3.amazonaws.com".lower()),
        Endpoint(Op.GET_BUCKET_LOCATION, "mybucket", addressing=V),
    ),
    (
        "GET",
        "/?versioning",
        _headers(BUCKET_HOST),
        Endpoint(Op.GET_BUCKET_VERSIONING, "examplebucket", addressing=V),
    ),
    (
        "GET",
        "/?prefix=N&marker=Ned&max-keys=40",
        _headers("quotes.s3.amazonaws.com"),
        Endpoint(
            Op.LIST_OBJECTS,
            "quotes",
            addressing=V,
            list_query=ListQuery(prefix="N", marker="Ned", max_keys=40),
        ),
    ),
    (
        "GET",
        "/?list-type=2&prefix=E&start-after=ExampleGuide.pdf",
        _headers(BUCKET_HOST),
        Endpoint(
            Op.LIST_OBJECTS_V2,
            "examplebucket",
            addressing=V,
            list_query=ListQuery(prefix="E", start_after="ExampleGuide.pdf"),
        ),
    ),
    (
        "GET",
        "/?list-type=2&delimiter=/&prefix=photos/2006/&fetch-owner=true&encoding-type=url",
        _headers(BUCKET_HOST),
        Endpoint(
            Op.LIST_OBJECTS_V2,
            "examplebucket",
            addressing=V,
            list_query=ListQuery(prefix="photos/2006/", delimiter="/", fetch_owner=True, encoding_type="url"),
        ),
    ),
    (
        "GET",
        "/?list-type=2&continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2FwmY",
        _headers(BUCKET_HOST),
        Endpoint(
            Op.LIST_OBJECTS_V2,
            "examplebucket",
            addressing=V,
            list_query=ListQuery(continuation_token="1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wmY"),
        ),
    ),
    (
        "GET",
        "/?uploads&max-uploads=3",
        _headers(BUCKET_HOST),
        Endpoint(Op.LIST_MULTIPART_UPLOADS, "examplebucket", addressing=V, list_query=ListQuery(max_keys=3)),
    ),
    (
        "GET",
        "/?uploads&delimiter=/&prefix=photos/2006/&key-marker=my-movie.m2ts&upload-id-marker=YW55",
        _headers(BUCKET_HOST),
        Endpoint(
            Op.LIST_MULTIPART_UPLOADS,
            "examplebucket",
            addressing=V,
            list_query=ListQuery(
                prefix="photos/2006/", delimiter="/", marker="my-movie.m2ts", upload_id_marker="YW55"
            ),
        ),
    ),
    ("POST", "/?delete", _headers(BUCKET_HOST), Endpoint(Op.DELETE_OBJECTS, "examplebucket", addressing=V)),
    (
        "PUT",
        "/my-image.jpg",
        _headers("myBucket.s3.amazonaws.com".lower()),
        Endpoint(Op.PUT_OBJECT, "mybucket", "my-image.jpg", V),
    ),
    (
        "PUT",
        "/my-second-image.jpg",
        _headers("bucket.s3.amazonaws.com", x_amz_copy_source="/bucket/my-image.jpg"),
        Endpoint(
            Op.COPY_OBJECT,
            "bucket",
            "my-second-image.jpg",
            V,
            copy_source=CopySource("bucket", "my-image.jpg"),
        ),
    ),
    (
        "GET",
        "/my-image.jpg",
        _headers("bucket.s3.amazonaws.com", Range="bytes=0-9"),
        Endpoint(Op.GET_OBJECT, "bucket", "my-image.jpg", V),
    ),
    (
        "GET",
        "/Junk3.txt?response-cache-control=No-cache"
        "&response-content-disposition=attachment%3B%20filename%3Dtesting.txt"
        "&response-content-encoding=x-gzip&response-content-language=mi%2C%20en"
        "&response-expires=Thu%2C%2001%20Dec%201994%2016:00:00%20GMT",
        _headers("bucket.s3.amazonaws.com"),
        Endpoint(
            Op.GET_OBJECT,
            "bucket",
            "Junk3.txt",
            V,
            response_overrides={
                "Cache-Control": "No-cache",
                "Content-Disposition": "attachment; filename=testing.txt",
                "Content-Encoding": "x-gzip",
                "Content-Language": "mi, en",
                "Expires": "Thu, 01 Dec 1994 16:00:00 GMT",
            },
        ),
    ),
    (
        "HEAD",
        "/my-image.jpg",
        _headers("bucket.s3.amazonaws.com"),
        Endpoint(Op.HEAD_OBJECT, "bucket", "my-image.jpg", V),
    ),
    (
        "DELETE",
        "/my-second-image.jpg",
        _headers("bucket.s3.amazonaws.com"),
        Endpoint(Op.DELETE_OBJECT, "bucket", "my-second-image.jpg", V),
    ),
    (
        "POST",
        "/example-object?uploads",
        _headers(BUCKET_HOST),
        Endpoint(Op.CREATE_MULTIPART_UPLOAD, "examplebucket", "example-object", V),
    ),
    (
        "PUT",
        "/my-movie.m2ts?partNumber=1&uploadId=VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZR",
        _headers(BUCKET_HOST),
        Endpoint(
            Op.UPLOAD_PART,
            "examplebucket",
            "my-movie.m2ts",
            V,
            upload_id="VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZR",
            part_number=1,
        ),
    ),
    (
        "PUT",
        "/newobject?partNumber=2&uploadId=VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZR",
        _headers(
            BUCKET_HOST,
            x_amz_copy_source="/source-bucket/sourceobject",
            x_amz_copy_source_range="bytes=500-6291456",
        ),
        Endpoint(
            Op.UPLOAD_PART_COPY,
            "examplebucket",
            "newobject",
            V,
            upload_id="VCVsb2FkIElEIGZvciBlbZZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZR",
            part_number=2,
            copy_source=CopySource("source-bucket", "sourceobject", None, (500, 6291456)),
        ),
    ),
    (
        "POST",
        "/example-object?uploadId=AAAsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIRRwbG9hZA",
        _headers(BUCKET_HOST),
        Endpoint(
            Op.COMPLETE_MULTIPART_UPLOAD,
            "examplebucket",
            "example-object",
            V,
            upload_id="AAAsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIRRwbG9hZA",
        ),
    ),
    (
        "DELETE",
        "/example-object?uploadId=VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZ",
        _headers(BUCKET_HOST),
        Endpoint(
            Op.ABORT_MULTIPART_UPLOAD,
            "examplebucket",
            "example-object",
            V,
            upload_id="VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZ",
        ),
    ),
    (
        "GET",
        "/example-object?uploadId=XXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzEEEwbG9hZA"
        "&max-parts=2&part-number-marker=1",
        _headers(BUCKET_HOST),
        Endpoint(
            Op.LIST_PARTS,
            "examplebucket",
            "example-object",
            V,
            upload_id="XXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzEEEwbG9hZA",
            list_query=ListQuery(max_keys=2, marker="1"),
        ),
    ),
    (
        "GET",
        "/example-object?tagging",
        _headers(BUCKET_HOST),
        Endpoint(Op.GET_OBJECT_TAGGING, "examplebucket", "example-object", V),
    ),
    (
        "PUT",
        "/object-key?tagging",
        _headers(BUCKET_HOST),
        Endpoint(Op.PUT_OBJECT_TAGGING, "examplebucket", "object-key", V),
    ),
    (
        "DELETE",
        "/exampleobject?tagging",
        _headers(BUCKET_HOST),
        Endpoint(Op.DELETE_OBJECT_TAGGING, "examplebucket", "exampleobject", V),
    ),
    # The same operations, path-style, as boto3 sends them (with its x-id parameter).
    (
        "GET",
        "/examplebucket/photos/2006/cat.jpg?x-id=GetObject",
        _headers("127.0.0.1:9000"),
        Endpoint(Op.GET_OBJECT, "examplebucket", "photos/2006/cat.jpg"),
    ),
    (
        "GET",
        "/examplebucket?list-type=2&prefix=&encoding-type=url",
        _headers("localhost:9000"),
        Endpoint(Op.LIST_OBJECTS_V2, "examplebucket", list_query=ListQuery(encoding_type="url")),
    ),
    (
        "GET",
        "/examplebucket/",
        _headers("localhost:9000"),
        Endpoint(Op.LIST_OBJECTS, "examplebucket", list_query=ListQuery()),
    ),
    (
        "HEAD",
        "/examplebucket/key?versionId=null",
        _headers("localhost:9000"),
        Endpoint(Op.HEAD_OBJECT, "examplebucket", "key", version_id="null"),
    ),
    # GetBucketEncryption / PutBucketEncryption / DeleteBucketEncryption sample requests.
    ("GET", "/?encryption", _headers("bucket.s3.amazonaws.com"), Endpoint(Op.GET_BUCKET_ENCRYPTION, "bucket",
                                                                           addressing=V)),
    ("PUT", "/?encryption", _headers("bucket.s3.amazonaws.com"), Endpoint(Op.PUT_BUCKET_ENCRYPTION, "bucket",
                                                                           addressing=V)),
    ("DELETE", "/?encryption", _headers("bucket.s3.amazonaws.com"), Endpoint(Op.DELETE_BUCKET_ENCRYPTION, "bucket",
                                                                              addressing=V)),
    # GetBucketCors / PutBucketCors / DeleteBucketCors, and the OPTIONS object preflight example.
    ("GET", "/?cors", _headers(BUCKET_HOST), Endpoint(Op.GET_BUCKET_CORS, "examplebucket", addressing=V)),
    ("PUT", "/?cors", _headers(BUCKET_HOST), Endpoint(Op.PUT_BUCKET_CORS, "examplebucket", addressing=V)),
    ("DELETE", "/?cors", _headers(BUCKET_HOST), Endpoint(Op.DELETE_BUCKET_CORS, "examplebucket", addressing=V)),
    ("OPTIONS", "/exampleobject", _headers(BUCKET_HOST, Origin="http://www.example.com",
                                           Access_Control_Request_Method="PUT"),
     Endpoint(Op.PREFLIGHT, "examplebucket", "exampleobject", addressing=V)),
    # GetBucketAcl / GetObjectAcl / PutObjectAcl sample requests.
    ("GET", "/?acl", _headers(BUCKET_HOST), Endpoint(Op.GET_BUCKET_ACL, "examplebucket", addressing=V)),
    ("GET", "/my-image.jpg?acl", _headers(BUCKET_HOST),
     Endpoint(Op.GET_OBJECT_ACL, "examplebucket", "my-image.jpg", addressing=V)),
    ("PUT", "/my-image.jpg?acl", _headers(BUCKET_HOST),
     Endpoint(Op.PUT_OBJECT_ACL, "examplebucket", "my-image.jpg", addressing=V)),
    # PutBucketPolicy / GetBucketPolicy / DeleteBucketPolicy / GetBucketPolicyStatus sample requests.
    ("PUT", "/?policy", _headers(BUCKET_HOST), Endpoint(Op.PUT_BUCKET_POLICY, "examplebucket", addressing=V)),
    ("GET", "/?policy", _headers(BUCKET_HOST), Endpoint(Op.GET_BUCKET_POLICY, "examplebucket", addressing=V)),
    ("DELETE", "/?policy", _headers(BUCKET_HOST), Endpoint(Op.DELETE_BUCKET_POLICY, "examplebucket", addressing=V)),
    ("GET", "/?policyStatus", _headers(BUCKET_HOST),
     Endpoint(Op.GET_BUCKET_POLICY_STATUS, "examplebucket", addressing=V)),
    # Put/Get/DeletePublicAccessBlock and PutBucketOwnershipControls sample requests.
    ("PUT", "/?publicAccessBlock", _headers(BUCKET_HOST),
     Endpoint(Op.PUT_PUBLIC_ACCESS_BLOCK, "examplebucket", addressing=V)),
    ("GET", "/?publicAccessBlock", _headers(BUCKET_HOST),
     Endpoint(Op.GET_PUBLIC_ACCESS_BLOCK, "examplebucket", addressing=V)),
    ("DELETE", "/?publicAccessBlock", _headers(BUCKET_HOST),
     Endpoint(Op.DELETE_PUBLIC_ACCESS_BLOCK, "examplebucket", addressing=V)),
    ("PUT", "/?ownershipControls", _headers(BUCKET_HOST),
     Endpoint(Op.PUT_BUCKET_OWNERSHIP_CONTROLS, "examplebucket", addressing=V)),
    # GetObjectAttributes sample request.
    ("GET", "/example-object?attributes", _headers(BUCKET_HOST, x_amz_object_attributes="ETag,ObjectSize",
                                                   x_amz_max_parts="10"),
     Endpoint(Op.GET_OBJECT_ATTRIBUTES, "examplebucket", "example-object", addressing=V,
              object_attributes=("ETag", "ObjectSize"), list_query=ListQuery(max_keys=10))),
    # GetObject with partNumber (the "Sample Request: Getting a part of an object" shape).
    ("GET", "/my-object?partNumber=2", _headers(BUCKET_HOST), Endpoint(Op.GET_OBJECT, "examplebucket", "my-object",
                                                                         addressing=V, part_number=2)),
]


@pytest.mark.parametrize(("method", "target", "headers", "expected"), AWS_EXAMPLES)
def test_router_parses_the_aws_documentation_examples(method, target, headers, expected):
    assert route(method, target, headers, VHOST) == expected


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("/bkt/my%20file.txt", "my file.txt"),
        ("/bkt/a+b", "a+b"),
        ("/bkt/a%2Bb", "a+b"),
        ("/bkt/dir%2Fsub/x", "dir/sub/x"),
        ("/bkt/dir/", "dir/"),
        ("/bkt/caf%C3%A9/%E2%9C%93", "café/✓"),
        ("/bkt//leading", "/leading"),
        ("/bkt/%3F%23%25", "?#%"),
    ],
)
def test_keys_are_decoded_exactly_once(raw, key):
    assert route("GET", raw, _headers("localhost")).key == key


def test_virtual_host_with_port_and_dotted_bucket():
    ep = route("GET", "/a%20b", _headers("my.bucket.s3.localhost:9000"), VHOST)
    assert (ep.bucket, ep.key, ep.addressing) == ("my.bucket", "a b", V)


def test_base_domain_itself_is_path_style():
    ep = route("GET", "/bkt/k", _headers("s3.localhost:9000"), VHOST)
    assert (ep.bucket, ep.key, ep.addressing) == ("bkt", "k", Addressing.PATH)


def test_key_of_1024_bytes_is_accepted_and_1025_is_key_too_long():
    assert route("PUT", "/bkt/" + "k" * 1024, _headers()).key == "k" * 1024
    with pytest.raises(S3Error) as e:
        route("PUT", "/bkt/" + "k" * 1025, _headers())
    assert e.value.code == "KeyTooLongError" and e.value.fields["Size"] == "1025"


def test_key_limit_counts_utf8_bytes_not_characters():
    with pytest.raises(S3Error, match="KeyTooLongError"):
        route("PUT", "/bkt/" + "%C3%A9" * 513, _headers())


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "Bucket",
        "bucket_1",
        "-bucket",
        "bucket-",
        "my..bucket",
        "192.168.5.4",
        "xn--bucket",
        "bucket-s3alias",
        "my.-bucket",
        "sthree-x",
        "buck et",
    ],
)
def test_invalid_bucket_names_are_rejected(name):
    with pytest.raises(S3Error) as e:
        check_bucket_name(name)
    assert e.value.code == "InvalidBucketName" and e.value.status == 400


@pytest.mark.parametrize("name", ["abc", "a" * 63, "my.bucket.name", "1-2-3", "docexamplebucket1"])
def test_valid_bucket_names_pass(name):
    assert check_bucket_name(name) == name


def test_invalid_bucket_in_path_is_rejected_by_the_router():
    with pytest.raises(S3Error, match="InvalidBucketName"):
        route("PUT", "/Invalid_Bucket", _headers())


@pytest.mark.parametrize(
    ("method", "target", "code"),
    [
        ("GET", "/bkt?logging", "NotImplemented"),
        ("GET", "/bkt/k?lifecycle", "NotImplemented"),
        ("POST", "/bkt?lifecycle", "MethodNotAllowed"),
        ("GET", "/bkt/k?policy", "NotImplemented"),
        ("POST", "/bkt?policy", "MethodNotAllowed"),
        ("PUT", "/bkt/k?encryption", "NotImplemented"),
        ("GET", "/bkt/k?cors", "NotImplemented"),
        ("POST", "/bkt?encryption", "MethodNotAllowed"),
        ("PUT", "/bkt/k?object-lock", "NotImplemented"),
        ("DELETE", "/bkt?object-lock", "MethodNotAllowed"),
        ("PUT", "/bkt/k?retention&versionId=nope", "InvalidArgument"),
        ("DELETE", "/bkt?versioning", "MethodNotAllowed"),
        # Newer bucket subresources are refused, never answered as ListObjects or CreateBucket.
        ("GET", "/bkt?abac", "NotImplemented"),
        ("PUT", "/bkt?abac", "NotImplemented"),
        ("PUT", "/bkt?metadataInventoryTable", "NotImplemented"),
        ("PUT", "/bkt?metadataJournalTable", "NotImplemented"),
        ("PATCH", "/bkt/k", "MethodNotAllowed"),
        ("POST", "/", "MethodNotAllowed"),
        ("PUT", "/bkt/k?partNumber=0&uploadId=x", "InvalidArgument"),
        ("PUT", "/bkt/k?partNumber=10001&uploadId=x", "InvalidArgument"),
        ("PUT", "/bkt/k?partNumber=one&uploadId=x", "InvalidArgument"),
        ("GET", "/bkt?max-keys=-1", "InvalidArgument"),
        ("GET", "/bkt?max-keys=lots", "InvalidArgument"),
        ("GET", "/bkt?list-type=3", "InvalidArgument"),
        ("GET", "/bkt?encoding-type=base64", "InvalidArgument"),
        ("GET", "/bkt/k?versionId=3HL4kqtJlcpXroDTDmJ", "InvalidArgument"),
        ("GET", "/bkt/%FF", "InvalidURI"),
    ],
)
def test_unsupported_or_malformed_requests_get_the_aws_error(method, target, code):
    with pytest.raises(S3Error) as e:
        route(method, target, _headers())
    assert e.value.code == code


def test_not_implemented_has_aws_message_and_status():
    with pytest.raises(S3Error) as e:
        route("GET", "/bkt?logging", _headers())
    assert e.value.status == 501
    assert e.value.message == "A header you provided implies functionality that is not implemented"


def test_max_keys_above_1000_is_capped():
    assert route("GET", "/bkt?max-keys=5000", _headers()).list_query.max_keys == 1000


def test_copy_source_is_decoded_and_may_omit_leading_slash():
    ep = route("PUT", "/dst/k", _headers(x_amz_copy_source="src/dir/my%20file%E2%9C%93.txt?versionId=null"))
    assert ep.copy_source == CopySource("src", "dir/my file✓.txt", "null")


def test_version_ids_and_the_versioning_operations_are_routed():
    vid = "A" * 16 + "_-" * 8
    assert route("GET", f"/bkt/k?versionId={vid}", _headers()).version_id == vid
    assert route("DELETE", f"/bkt/k?versionId={vid}", _headers()).version_id == vid
    assert route("PUT", f"/bkt/k?tagging&versionId={vid}", _headers()).version_id == vid
    assert route("PUT", "/bkt?versioning", _headers()).operation is Op.PUT_BUCKET_VERSIONING
    ep = route("GET", f"/bkt?versions&prefix=a/&delimiter=/&key-marker=a/b&version-id-marker={vid}&max-keys=3",
               _headers())  # fmt: skip
    assert ep.operation is Op.LIST_OBJECT_VERSIONS
    assert ep.list_query == ListQuery(prefix="a/", delimiter="/", max_keys=3, marker="a/b", version_id_marker=vid)


@pytest.mark.parametrize("bad", ["nobucketorkey", "/onlybucket/", "src/k?versionId=abc"])
def test_copy_source_without_key_or_with_a_version_is_rejected(bad):
    with pytest.raises(S3Error) as e:
        route("PUT", "/dst/k", _headers(x_amz_copy_source=bad))
    assert e.value.code in ("InvalidArgument", "NoSuchVersion")


def test_copy_source_range_must_be_first_last():
    with pytest.raises(S3Error, match="InvalidArgument"):
        route(
            "PUT",
            "/dst/k?partNumber=1&uploadId=u",
            _headers(x_amz_copy_source="/src/k", x_amz_copy_source_range="bytes=5-"),
        )


def test_resource_names_bucket_and_key():
    assert route("GET", "/bkt/a%20b", _headers()).resource == "/bkt/a b"
    assert route("GET", "/bkt", _headers()).resource == "/bkt"


@pytest.mark.parametrize("value", ["text/html%0D%0ASet-Cookie:%20x=1", "a%0Ab", "a%00b", "a%7Fb", "%1B[31m"])
def test_response_override_with_a_control_character_is_invalid_argument_not_a_header(value):
    with pytest.raises(S3Error) as e:
        route("GET", f"/bkt/k?response-content-type={value}", _headers())
    assert (e.value.code, e.value.status) == ("InvalidArgument", 400)
    assert e.value.fields["ArgumentName"] == "response-content-type"


def test_response_override_with_plain_utf8_passes():
    ep = route("GET", "/bkt/k?response-content-disposition=attachment%3B%20filename%3Dcaf%C3%A9.txt", _headers())
    assert ep.response_overrides == {"Content-Disposition": "attachment; filename=café.txt"}


@pytest.mark.parametrize("value", ["a\x00b", "\x1b[31m", "a\x7f", "bad \udcff utf-8"])
def test_header_value_with_a_control_character_or_invalid_utf8_is_invalid_argument(value):
    with pytest.raises(S3Error) as e:
        route("PUT", "/bkt/k", _headers(**{"x-amz-meta-note": value}))
    assert (e.value.code, e.value.fields["ArgumentName"]) == ("InvalidArgument", "x-amz-meta-note")
    assert "ArgumentValue" not in e.value.fields  # never echoed


def test_error_xml_replaces_what_xml_cannot_carry():
    body = S3Error("InvalidArgument", ArgumentValue="a\x00b\udcff").to_xml("RID")
    assert b"\x00" not in body and "a\ufffdb\ufffd".encode() in body


def test_plus_in_a_query_value_is_a_space_and_percent_2b_a_plus() -> None:
    endpoint = route("GET", "/bkt?list-type=2&prefix=my+data%2F&start-after=a%2Bb", _headers())
    assert endpoint.list_query is not None
    assert (endpoint.list_query.prefix, endpoint.list_query.start_after) == ("my data/", "a+b")


@pytest.mark.parametrize(
    ("method", "target", "operation", "version_id"),
    [
        ("GET", "/bkt?object-lock", Operation.GET_OBJECT_LOCK_CONFIGURATION, None),
        ("PUT", "/bkt?object-lock", Operation.PUT_OBJECT_LOCK_CONFIGURATION, None),
        ("GET", "/bkt/k?retention", Operation.GET_OBJECT_RETENTION, None),
        ("PUT", "/bkt/k?retention&versionId=null", Operation.PUT_OBJECT_RETENTION, "null"),
        ("GET", "/bkt/k?legal-hold&versionId=null", Operation.GET_OBJECT_LEGAL_HOLD, "null"),
        ("PUT", "/bkt/k?legal-hold", Operation.PUT_OBJECT_LEGAL_HOLD, None),
    ],
)
def test_object_lock_requests_route_to_their_operations(method, target, operation, version_id):
    ep = route(method, target, {"Host": "localhost:9000"})
    assert ep.operation is operation and ep.version_id == version_id
