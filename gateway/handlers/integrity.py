"""Stored checksums, as S3 returns them: headers, listing fields, multipart objects' checksums.

An object's ``checksums`` (opaque JSON at the satellite) hold, by AWS's algorithm name, the
base64 checksum the upload computed (``{"CRC32": "…"}``), and for a multipart object also
its ``type`` (``COMPOSITE``: the checksum of the parts' checksums, ``-N``; or
``FULL_OBJECT``: the CRC of the whole object, combined from the parts' CRCs without
re-reading a byte) and its ``parts`` (``[[size, checksum], …]`` in part order, for
GetObjectAttributes). A single-part object's checksum is a ``FULL_OBJECT`` one.

Complete computes the object's checksum from the parts' stored checksums
(:func:`multipart_checksums`) and checks it against what the client claims: the per-part
values in its XML (``InvalidPart`` if one differs) and a whole-object value in an
``x-amz-checksum-*`` header (``BadDigest``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.s3.checksums import (
    ChecksumAlgorithm,
    ExpectedChecksums,
    combine_full_object_crc,
    composite_checksum,
    parse_checksum_headers,
)
from gateway.s3.errors import S3Error

__all__ = [
    "ALGORITHMS",
    "TYPE_MARK",
    "checksum_fields",
    "checksum_headers",
    "checksum_type",
    "multipart_checksums",
    "part_expectations",
    "stored_algorithm",
    "upload_checksum_type",
]

ALGORITHMS = tuple(a.value for a in ChecksumAlgorithm)
# In an upload's stored metadata: its checksum type (never answered from metadata as a header).
TYPE_MARK = "x-geoshard-checksum-type"
_CRCS = ("CRC32", "CRC32C", "CRC64NVME")


def stored_algorithm(stored: Mapping[str, Any] | None) -> str | None:
    """The algorithm of an object's stored checksum (at most one), or None."""
    return next((a for a in ALGORITHMS if a in (stored or {})), None)


def checksum_type(stored: Mapping[str, Any] | None) -> str | None:
    if stored_algorithm(stored) is None:
        return None
    return str((stored or {}).get("type") or "FULL_OBJECT")


def checksum_headers(stored: Mapping[str, Any] | None) -> dict[str, str]:
    """``x-amz-checksum-<alg>`` and ``x-amz-checksum-type`` for a response."""
    algorithm = stored_algorithm(stored)
    if algorithm is None or stored is None:
        return {}
    return {f"x-amz-checksum-{algorithm.lower()}": str(stored[algorithm]), "x-amz-checksum-type": checksum_type(stored)
            or "FULL_OBJECT"}  # fmt: skip


def checksum_fields(stored: Mapping[str, Any] | None) -> dict[str, str]:
    """The same as XML elements (``ChecksumCRC32``, ``ChecksumType``)."""
    algorithm = stored_algorithm(stored)
    if algorithm is None or stored is None:
        return {}
    return {f"Checksum{algorithm}": str(stored[algorithm]), "ChecksumType": checksum_type(stored) or "FULL_OBJECT"}


def upload_checksum_type(algorithm: str | None, requested: str | None) -> str | None:
    """CreateMultipartUpload's ``x-amz-checksum-type`` checked against its algorithm; AWS's
    defaults: FULL_OBJECT for CRC64NVME, COMPOSITE for the others."""
    if requested is not None:
        requested = requested.strip().upper()
        if requested not in ("COMPOSITE", "FULL_OBJECT"):
            raise S3Error("InvalidRequest", "Value for x-amz-checksum-type header is invalid.")
        if algorithm is None:
            raise S3Error("InvalidRequest", "The x-amz-checksum-type header can only be used with the "
                          "x-amz-checksum-algorithm header.")  # fmt: skip
    if algorithm is None:
        return None
    if algorithm not in ALGORITHMS:
        raise S3Error("InvalidRequest", "Checksum algorithm provided is unsupported. Please try again with any of "
                      "the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")  # fmt: skip
    kind = requested or ("FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE")
    if kind == "FULL_OBJECT" and algorithm not in _CRCS:
        raise S3Error("InvalidRequest", f"The FULL_OBJECT checksum type cannot be used with the {algorithm.lower()} "
                      "checksum algorithm.")  # fmt: skip
    if kind == "COMPOSITE" and algorithm == "CRC64NVME":
        raise S3Error("InvalidRequest", "The COMPOSITE checksum type cannot be used with the crc64nvme checksum "
                      "algorithm.")  # fmt: skip
    return kind


def part_expectations(headers: Mapping[str, str], upload_algorithm: str | None) -> ExpectedChecksums:
    """A part's integrity claims; a part of an upload with a checksum algorithm gets that
    checksum computed even when it brings none, and may not bring another."""
    expected = parse_checksum_headers(headers)
    if upload_algorithm is None:
        return expected
    wanted = ChecksumAlgorithm.from_name(upload_algorithm)
    if expected.algorithm is None:
        return dataclasses.replace(expected, algorithm=wanted)
    if expected.algorithm is not wanted:
        raise S3Error("InvalidRequest", f"Checksum Type mismatch occurred, expected checksum Type: "
                      f"{wanted.value.lower()}, actual checksum Type: {expected.algorithm.value.lower()}")  # fmt: skip
    return expected


def multipart_checksums(
    algorithm: str | None,
    kind: str | None,
    parts: Sequence[Mapping[str, Any]],
    claimed_parts: Sequence[Mapping[str, str]],
    claimed_object: Mapping[str, str],
) -> dict[str, Any]:
    """The stored checksums of a completed upload, from its parts' (``{size, checksums}`` as
    the satellite lists them, in completion order); raises if a claim disagrees."""
    for part, claim in zip(parts, claimed_parts, strict=True):
        for name, value in claim.items():
            stored = (part.get("checksums") or {}).get(name.removeprefix("Checksum"))
            if name.removeprefix("Checksum") in ALGORITHMS and stored is not None and stored != value:
                raise S3Error("InvalidPart", f"The {name.removeprefix('Checksum').lower()} you specified for part "
                              f"{part['part_number']} did not match what was uploaded.")  # fmt: skip
    if algorithm is None or kind is None:
        return {}
    values = [(part.get("checksums") or {}).get(algorithm) for part in parts]
    if any(v is None for v in values):
        return {}  # a part uploaded without one (UploadPartCopy): no object checksum, as AWS
    alg = ChecksumAlgorithm.from_name(algorithm)
    sizes = [int(p["size"]) for p in parts]
    value = (combine_full_object_crc(alg, list(zip(values, sizes, strict=True))) if kind == "FULL_OBJECT"
             else composite_checksum(alg, values))  # type: ignore[arg-type]  # fmt: skip
    claimed = claimed_object.get(f"x-amz-checksum-{algorithm.lower()}")
    if claimed is not None and claimed.strip() != value.split("-")[0] and claimed.strip() != value:
        raise S3Error("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
    return {algorithm: value, "type": kind, "parts": [[s, v] for s, v in zip(sizes, values, strict=True)]}
