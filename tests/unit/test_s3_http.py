"""Range parsing, conditional requests, user metadata and HTTP dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.s3.errors import S3Error
from gateway.s3.http import (
    ByteRange,
    check_conditions,
    check_copy_source_conditions,
    http_date,
    parse_http_date,
    parse_range,
    user_metadata,
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", ByteRange(0, 9, 100)),
        ("bytes=90-", ByteRange(90, 99, 100)),
        ("bytes=-10", ByteRange(90, 99, 100)),
        ("bytes=-500", ByteRange(0, 99, 100)),
        ("bytes=50-500", ByteRange(50, 99, 100)),
        (None, None),
        ("bytes=0-1,5-6", None),  # multiple ranges: whole object, like AWS
        ("items=0-1", None),
        ("bytes=abc", None),
        ("bytes=9-1", None),
        ("bytes=-", None),
    ],
)
def test_ranges_are_parsed_or_ignored_like_aws(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=0-"])
def test_unsatisfiable_range_is_416_with_content_range(header):
    size = 0 if header == "bytes=0-" else 100
    with pytest.raises(S3Error) as e:
        parse_range(header, size)
    assert (e.value.code, e.value.status) == ("InvalidRange", 416)
    assert e.value.headers["Content-Range"] == f"bytes */{size}"


def test_content_range_header_of_a_range():
    assert parse_range("bytes=10-19", 50).content_range == "bytes 10-19/50"


ETAG = '"abc"'
MODIFIED = datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)
BEFORE, AFTER = http_date(MODIFIED - timedelta(days=1)), http_date(MODIFIED + timedelta(days=1))


def _outcome(headers: dict[str, str], method: str = "GET") -> str | int:
    try:
        check_conditions(headers, ETAG, MODIFIED, method=method)
    except S3Error as e:
        return e.status
    return "ok"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "ok"),
        ({"if-match": '"abc"'}, "ok"),
        ({"if-match": "abc"}, "ok"),
        ({"if-match": '"zzz", "abc"'}, "ok"),
        ({"if-match": "*"}, "ok"),
        ({"if-match": '"zzz"'}, 412),
        ({"if-none-match": '"abc"'}, 304),
        ({"if-none-match": '"zzz"'}, "ok"),
        ({"if-modified-since": AFTER}, 304),
        ({"if-modified-since": http_date(MODIFIED)}, 304),  # same second: not modified
        ({"if-modified-since": BEFORE}, "ok"),
        ({"if-unmodified-since": BEFORE}, 412),
        ({"if-unmodified-since": AFTER}, "ok"),
        # AWS's documented precedence:
        ({"if-match": '"abc"', "if-unmodified-since": BEFORE}, "ok"),
        ({"if-none-match": '"zzz"', "if-modified-since": AFTER}, "ok"),
        ({"if-none-match": '"abc"', "if-modified-since": BEFORE}, 304),
        ({"if-modified-since": "not a date"}, "ok"),
    ],
)
def test_conditional_get_follows_aws_precedence(headers, expected):
    assert _outcome(headers) == expected


def test_if_none_match_on_a_write_is_412_not_304():
    assert _outcome({"if-none-match": "*"}, method="PUT") == 412


def test_not_modified_carries_etag_and_no_body_status():
    with pytest.raises(S3Error) as e:
        check_conditions({"if-none-match": ETAG}, ETAG, MODIFIED)
    assert e.value.status == 304 and e.value.headers["ETag"] == ETAG


def test_copy_source_conditions_fail_with_412():
    check_copy_source_conditions({"x-amz-copy-source-if-match": ETAG}, ETAG, MODIFIED)
    for headers in (
        {"x-amz-copy-source-if-none-match": ETAG},
        {"x-amz-copy-source-if-modified-since": AFTER},
        {"x-amz-copy-source-if-match": '"zzz"'},
    ):
        with pytest.raises(S3Error) as e:
            check_copy_source_conditions(headers, ETAG, MODIFIED)
        assert e.value.status == 412 and e.value.fields["Condition"].startswith("x-amz-copy-source-")


def test_user_metadata_is_extracted_and_limited_to_2kb():
    meta = user_metadata({"X-Amz-Meta-Color": "blue", "Content-Type": "a/b", "x-amz-meta-é": "x"})
    assert meta == {"color": "blue", "é": "x"}
    user_metadata({"x-amz-meta-a": "v" * 2000})
    with pytest.raises(S3Error) as e:
        user_metadata({"x-amz-meta-a": "v" * 2048})
    assert e.value.code == "MetadataTooLarge"


def test_http_dates_round_trip():
    assert http_date(MODIFIED) == "Wed, 01 May 2024 12:00:00 GMT"
    assert parse_http_date("Wed, 01 May 2024 12:00:00 GMT") == MODIFIED.replace(microsecond=0)
    assert parse_http_date("garbage") is None
