"""Checksums: AWS's encodings, known values, multipart combinations and header validation."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from multidict import CIMultiDict

from gateway.s3.checksums import (
    ChecksumAlgorithm,
    MultiHasher,
    combine_full_object_crc,
    composite_checksum,
    multipart_etag,
    parse_checksum_headers,
)
from gateway.s3.errors import S3Error

A = ChecksumAlgorithm


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_multihasher_matches_reference_values_fed_in_pieces():
    data = b"The quick brown fox jumps over the lazy dog"
    h = MultiHasher(list(A), sha256=True)
    for i in range(0, len(data), 7):
        h.update(data[i : i + 7])
    assert h.etag == f'"{hashlib.md5(data).hexdigest()}"' and h.size == len(data)
    assert h.checksum(A.CRC32) == _b64(zlib.crc32(data).to_bytes(4, "big"))
    assert h.checksum(A.CRC32C) == _b64((0x22620404).to_bytes(4, "big"))  # CRC-32C check value of this text
    assert h.checksum(A.SHA1) == _b64(hashlib.sha1(data).digest())
    assert (
        h.checksum(A.SHA256) == _b64(hashlib.sha256(data).digest()) and h.sha256_hex == hashlib.sha256(data).hexdigest()
    )
    assert len(base64.b64decode(h.checksum(A.CRC64NVME))) == 8


def test_crc64nvme_check_value():
    h = MultiHasher([A.CRC64NVME])
    h.update(b"123456789")
    assert base64.b64decode(h.checksum(A.CRC64NVME)).hex() == "ae8b14860a799888"  # CRC-64/NVME check


def test_multipart_etag_is_md5_of_part_md5s_with_count():
    parts = [hashlib.md5(b"a" * 10).hexdigest(), hashlib.md5(b"b").hexdigest()]
    expected = hashlib.md5(b"".join(bytes.fromhex(p) for p in parts)).hexdigest()
    assert multipart_etag([f'"{parts[0]}"', parts[1]]) == f'"{expected}-2"'


def test_full_object_crc_combines_parts_without_rereading():
    p1, p2 = b"x" * 1000, b"y" * 333
    crcs = [(_b64(zlib.crc32(p).to_bytes(4, "big")), len(p)) for p in (p1, p2)]
    assert combine_full_object_crc(A.CRC32, crcs) == _b64(zlib.crc32(p1 + p2).to_bytes(4, "big"))
    with pytest.raises(S3Error, match="InvalidRequest"):
        combine_full_object_crc(A.SHA256, [])


def test_composite_checksum_is_checksum_of_part_checksums():
    parts = [hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()]
    assert (
        composite_checksum(A.SHA256, [_b64(p) for p in parts]) == _b64(hashlib.sha256(b"".join(parts)).digest()) + "-2"
    )


def _parse(**headers: str):
    return parse_checksum_headers(CIMultiDict({k.replace("_", "-"): v for k, v in headers.items()}))


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"Content-MD5": "not base64!"}, "InvalidDigest"),
        ({"Content-MD5": _b64(b"short")}, "InvalidDigest"),
        ({"x-amz-checksum-crc32": "AAAA"}, "InvalidRequest"),
        ({"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-sha1": _b64(b"x" * 20)}, "InvalidRequest"),
        ({"x-amz-sdk-checksum-algorithm": "MD5"}, "InvalidRequest"),
        ({"x-amz-sdk-checksum-algorithm": "SHA1", "x-amz-checksum-crc32": "AAAAAA=="}, "InvalidRequest"),
        ({"x-amz-trailer": "x-amz-checksum-md5"}, "InvalidRequest"),
    ],
)
def test_malformed_integrity_headers_are_refused_before_reading(headers, code):
    with pytest.raises(S3Error) as e:
        parse_checksum_headers(CIMultiDict(headers))
    assert e.value.code == code


def test_content_md5_mismatch_is_bad_digest_with_both_digests():
    expected = _parse(Content_MD5=_b64(hashlib.md5(b"abc").digest()))
    h = MultiHasher()
    h.update(b"abd")
    with pytest.raises(S3Error) as e:
        expected.verify(h)
    assert e.value.code == "BadDigest" and e.value.fields["CalculatedDigest"] == _b64(hashlib.md5(b"abd").digest())


def test_sdk_algorithm_alone_is_computed_and_trailer_value_is_verified():
    only_sdk = _parse(x_amz_sdk_checksum_algorithm="crc32c")
    assert only_sdk.algorithm is A.CRC32C and only_sdk.value is None
    trailer = _parse(x_amz_trailer="x-amz-checksum-crc32")
    h = MultiHasher(trailer.algorithms())
    h.update(b"abc")
    trailer.verify(h, _b64(zlib.crc32(b"abc").to_bytes(4, "big")))
    with pytest.raises(S3Error) as e:
        trailer.verify(h, "AAAAAA==")
    assert e.value.message == "The CRC32 you specified did not match the calculated checksum."
