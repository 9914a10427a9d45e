"""Upload integrity: Content-MD5, ``x-amz-checksum-*`` and the MD5 ETag, in one pass.

An upload may carry several integrity claims at once: ``Content-MD5`` (base64 of the MD5),
one ``x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}`` header (base64 of the
big-endian digest, as AWS encodes it), or the promise of one in the trailer of an
aws-chunked body (``x-amz-trailer``); ``x-amz-sdk-checksum-algorithm`` names the algorithm
the SDK used. The gateway always needs the MD5 (it is the ETag of a single-part object),
and needs SHA-256 when ``x-amz-content-sha256`` is a digest. :class:`MultiHasher` feeds each
byte once to every hash that is needed; the CRCs are AWS's own (``awscrt.checksums``),
the rest ``hashlib``. Both release the GIL on large buffers, so the body reader runs
:meth:`MultiHasher.update` in a worker thread for big blocks.

:func:`parse_checksum_headers` validates the claims before any byte is read (a malformed
``Content-MD5`` is ``InvalidDigest``; a malformed checksum value, several checksum headers
or an algorithm that disagrees with ``x-amz-sdk-checksum-algorithm`` is
``InvalidRequest``), and :meth:`ExpectedChecksums.verify` compares them with what was
computed once the body is complete (``BadDigest``, worded as AWS words it).

Multipart. The ETag of a completed upload is the MD5 of the parts' binary MD5s followed by
``-N`` (:func:`multipart_etag`). For checksums, S3 has two kinds: *composite* (the checksum
of the concatenated binary part checksums, then ``-N``; :func:`composite_checksum`) and
*full object* (the CRC of the whole object). Full-object CRCs are cheap to derive from the
part CRCs and lengths with ``awscrt``'s combine functions (:func:`combine_full_object_crc`);
full-object SHA-1/SHA-256 cannot be combined and would need the whole object re-read, so
they are not offered (AWS does not offer them either).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from awscrt import checksums as crt

from gateway.s3.errors import S3Error

__all__ = [
    "ChecksumAlgorithm",
    "ExpectedChecksums",
    "MultiHasher",
    "combine_full_object_crc",
    "composite_checksum",
    "multipart_etag",
    "parse_checksum_headers",
]


class ChecksumAlgorithm(enum.Enum):
    """The ``x-amz-checksum-*`` algorithms; the value is AWS's name for it."""

    CRC32 = "CRC32"
    CRC32C = "CRC32C"
    CRC64NVME = "CRC64NVME"
    SHA1 = "SHA1"
    SHA256 = "SHA256"

    @property
    def header(self) -> str:
        return "x-amz-checksum-" + self.value.lower()

    @property
    def digest_size(self) -> int:
        return _DIGEST_SIZES[self]

    @classmethod
    def from_name(cls, name: str) -> ChecksumAlgorithm:
        try:
            return cls(name.upper())
        except ValueError:
            raise S3Error(
                "InvalidRequest",
                "Checksum algorithm provided is unsupported. Please try again with any of the "
                "valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            ) from None

    @classmethod
    def from_header(cls, header: str) -> ChecksumAlgorithm | None:
        header = header.strip().lower()
        for alg in cls:
            if alg.header == header:
                return alg
        return None


_DIGEST_SIZES = {
    ChecksumAlgorithm.CRC32: 4,
    ChecksumAlgorithm.CRC32C: 4,
    ChecksumAlgorithm.CRC64NVME: 8,
    ChecksumAlgorithm.SHA1: 20,
    ChecksumAlgorithm.SHA256: 32,
}


class _Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A running CRC from awscrt with hashlib's update/digest shape."""

    __slots__ = ("_fn", "_size", "_value")

    def __init__(self, algorithm: ChecksumAlgorithm) -> None:
        self._fn = {
            ChecksumAlgorithm.CRC32: crt.crc32,
            ChecksumAlgorithm.CRC32C: crt.crc32c,
            ChecksumAlgorithm.CRC64NVME: crt.crc64nvme,
        }[algorithm]
        self._size = algorithm.digest_size
        self._value = 0

    def update(self, data: bytes, /) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


def _new_hash(algorithm: ChecksumAlgorithm) -> _Hash:
    if algorithm is ChecksumAlgorithm.SHA1:
        return hashlib.sha1()
    if algorithm is ChecksumAlgorithm.SHA256:
        return hashlib.sha256()
    return _Crc(algorithm)


class MultiHasher:
    """MD5 (always), SHA-256 of the payload (when asked) and any ``x-amz-checksum-*``
    algorithms, fed in one pass. Not thread-safe: one writer at a time."""

    def __init__(self, algorithms: Iterable[ChecksumAlgorithm] = (), *, sha256: bool = False) -> None:
        self._md5 = hashlib.md5()
        self._sha256 = hashlib.sha256() if sha256 else None
        self._checksums: dict[ChecksumAlgorithm, _Hash] = {a: _new_hash(a) for a in algorithms}
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        self._md5.update(data)
        if self._sha256 is not None:
            self._sha256.update(data)
        for h in self._checksums.values():
            h.update(bytes(data) if isinstance(data, memoryview) else data)
        self.size += len(data)

    @property
    def md5_digest(self) -> bytes:
        return self._md5.digest()

    @property
    def etag(self) -> str:
        """The object's ETag as S3 quotes it: ``"<hex md5>"``."""
        return f'"{self._md5.hexdigest()}"'

    @property
    def sha256_hex(self) -> str | None:
        return None if self._sha256 is None else self._sha256.hexdigest()

    def checksum(self, algorithm: ChecksumAlgorithm) -> str:
        """Base64 of the big-endian digest, as in ``x-amz-checksum-*``."""
        return base64.b64encode(self._checksums[algorithm].digest()).decode()

    def checksums(self) -> dict[ChecksumAlgorithm, str]:
        return {alg: self.checksum(alg) for alg in self._checksums}


@dataclass(frozen=True, slots=True)
class ExpectedChecksums:
    """The integrity claims of one upload, validated.

    ``algorithm`` is the checksum to compute (from the header, the trailer or
    ``x-amz-sdk-checksum-algorithm``); ``value`` its claimed base64 value when it came as a
    header; ``trailer`` true when the value will come in the aws-chunked trailer."""

    content_md5: bytes | None = None
    algorithm: ChecksumAlgorithm | None = None
    value: str | None = None
    trailer: bool = False

    def algorithms(self) -> tuple[ChecksumAlgorithm, ...]:
        return () if self.algorithm is None else (self.algorithm,)

    def verify(self, hasher: MultiHasher, trailer_value: str | None = None) -> None:
        """Raise ``BadDigest`` if the body does not match a claim. ``trailer_value`` is the
        value the trailer carried (checked for shape here: ``InvalidRequest`` if malformed)."""
        if self.content_md5 is not None and self.content_md5 != hasher.md5_digest:
            raise S3Error(
                "BadDigest",
                ExpectedDigest=base64.b64encode(self.content_md5).decode(),
                CalculatedDigest=base64.b64encode(hasher.md5_digest).decode(),
            )
        if self.algorithm is None:
            return
        claimed = self.value
        if self.trailer:
            if trailer_value is None:
                raise S3Error(
                    "InvalidRequest",
                    f"The {self.algorithm.header} trailer was declared but not sent.",
                )
            _decode_checksum(self.algorithm, trailer_value)
            claimed = trailer_value
        if claimed is not None and claimed.strip() != hasher.checksum(self.algorithm):
            raise S3Error(
                "BadDigest",
                f"The {self.algorithm.value} you specified did not match the calculated checksum.",
            )


def _decode_checksum(algorithm: ChecksumAlgorithm, value: str) -> bytes:
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != algorithm.digest_size:
        raise S3Error("InvalidRequest", f"Value for {algorithm.header} header is invalid.")
    return raw


def parse_checksum_headers(headers: Mapping[str, str]) -> ExpectedChecksums:
    """Validate ``Content-MD5``, ``x-amz-checksum-*``, ``x-amz-sdk-checksum-algorithm`` and
    ``x-amz-trailer`` (``headers`` must be case-insensitive, as aiohttp's are)."""
    md5: bytes | None = None
    raw_md5 = headers.get("Content-MD5")
    if raw_md5 is not None:
        try:
            md5 = base64.b64decode(raw_md5.strip(), validate=True)
        except (binascii.Error, ValueError):
            md5 = b""
        if len(md5) != 16:
            raise S3Error("InvalidDigest", **{"Content-MD5": raw_md5})

    present = [alg for alg in ChecksumAlgorithm if alg.header in headers]
    if len(present) > 1:
        raise S3Error(
            "InvalidRequest",
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        )
    algorithm = present[0] if present else None
    value = headers[algorithm.header] if algorithm is not None else None
    if algorithm is not None and value is not None:
        _decode_checksum(algorithm, value)

    trailer = False
    raw_trailer = headers.get("x-amz-trailer")
    if raw_trailer is not None:
        trailed = ChecksumAlgorithm.from_header(raw_trailer)
        if trailed is None:
            raise S3Error("InvalidRequest", "The value specified in the x-amz-trailer header is not supported")
        if algorithm is not None and algorithm is not trailed:
            raise S3Error(
                "InvalidRequest",
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            )
        algorithm, trailer = trailed, value is None

    sdk = headers.get("x-amz-sdk-checksum-algorithm")
    if sdk is not None:
        named = ChecksumAlgorithm.from_name(sdk.strip())
        if algorithm is None:
            algorithm = named  # computed and returned, nothing to compare with
        elif named is not algorithm:
            raise S3Error("InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")
    return ExpectedChecksums(md5, algorithm, value, trailer)


# --- multipart ------------------------------------------------------------------------


def multipart_etag(part_etags: Sequence[str]) -> str:
    """S3's ETag of a completed multipart upload: MD5 of the parts' binary MD5s, ``-N``.

    ``part_etags`` are the parts' ETags (hex, quoted or not), in part order."""
    md5 = hashlib.md5()
    for etag in part_etags:
        md5.update(bytes.fromhex(etag.strip('"')))
    return f'"{md5.hexdigest()}-{len(part_etags)}"'


def composite_checksum(algorithm: ChecksumAlgorithm, part_checksums: Sequence[str]) -> str:
    """S3's COMPOSITE checksum of a multipart object: the checksum of the concatenated
    binary part checksums, base64, then ``-N``."""
    h = _new_hash(algorithm)
    for value in part_checksums:
        h.update(_decode_checksum(algorithm, value))
    return f"{base64.b64encode(h.digest()).decode()}-{len(part_checksums)}"


_COMBINE = {
    ChecksumAlgorithm.CRC32: crt.combine_crc32,
    ChecksumAlgorithm.CRC32C: crt.combine_crc32c,
    ChecksumAlgorithm.CRC64NVME: crt.combine_crc64nvme,
}


def combine_full_object_crc(algorithm: ChecksumAlgorithm, parts: Sequence[tuple[str, int]]) -> str:
    """S3's FULL_OBJECT checksum of a multipart object from its parts' (base64 CRC, byte
    length), without re-reading data. Only the CRCs combine; SHA-1/SHA-256 raise
    ``InvalidRequest`` as AWS does for a full-object SHA."""
    combine = _COMBINE.get(algorithm)
    if combine is None:
        raise S3Error(
            "InvalidRequest",
            f"The FULL_OBJECT checksum type is not supported for the {algorithm.value} algorithm.",
        )
    value = 0
    for i, (b64, length) in enumerate(parts):
        crc = int.from_bytes(_decode_checksum(algorithm, b64), "big")
        value = crc if i == 0 else combine(value, crc, length)
    return base64.b64encode(value.to_bytes(algorithm.digest_size, "big")).decode()
