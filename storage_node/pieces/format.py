"""The piece file format, version 1.

A piece file is a header followed by the piece bytes. The header holds everything an
audit or a verified range read needs, so those read a few dozen bytes of hashes and the
requested leaves, never the whole piece::

    offset  size  field
    0       8     magic  b"GSPIECE\\0"
    8       2     format version (1), big-endian like every integer here
    10      4     header length = offset of the first piece byte
    14      8     piece size in bytes
    22      4     leaf size in bytes
    26      8     created, unix seconds (the node's clock when the upload committed)
    34      8     expires, unix seconds (0 = never; the TTL from the PUT order)
    42      8     leaf count
    50      32    Merkle root
    82      8     blake3 of bytes 0..82, truncated: a damaged header is caught, not trusted
    90      …     every level of the Merkle tree, leaf hashes first, root last, 32 bytes each

The tree's shape follows from the leaf count alone (``erasure.merkle.level_sizes``), so
the offset of any node is computed, not stored. The header length is known before the
upload starts (size and leaf size come with the request), which lets the writer stream the
body straight to its final offset and fill the header in last.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import blake3

from erasure.merkle import HASH_SIZE, level_sizes
from storage_node.errors import CorruptPiece

__all__ = ["FIXED_SIZE", "FORMAT_VERSION", "MAGIC", "PieceHeader", "header_length", "level_offsets"]

MAGIC = b"GSPIECE\0"
FORMAT_VERSION = 1
_FIXED = struct.Struct(">8sHIQIQQQ32s")
_CHECK = 8
FIXED_SIZE = _FIXED.size + _CHECK  # 90


def level_offsets(leaves: int) -> list[int]:
    """Byte offset of each tree level inside the header (leaf level first)."""
    if leaves == 0:
        return []
    offsets, at = [], FIXED_SIZE
    for n in level_sizes(leaves):
        offsets.append(at)
        at += n * HASH_SIZE
    return offsets


def header_length(leaves: int) -> int:
    if leaves == 0:
        return FIXED_SIZE
    return FIXED_SIZE + sum(level_sizes(leaves)) * HASH_SIZE


@dataclass(frozen=True)
class PieceHeader:
    """The fixed part of a piece file's header."""

    size: int
    leaf_size: int
    created: int
    expires: int
    leaf_count: int
    root: bytes
    header_len: int

    def encode_fixed(self) -> bytes:
        body = _FIXED.pack(
            MAGIC,
            FORMAT_VERSION,
            self.header_len,
            self.size,
            self.leaf_size,
            self.created,
            self.expires,
            self.leaf_count,
            self.root,
        )
        return body + blake3.blake3(body).digest(length=_CHECK)

    @classmethod
    def decode_fixed(cls, data: bytes, where: str = "piece") -> PieceHeader:
        if len(data) < FIXED_SIZE:
            raise CorruptPiece(f"{where}: file is shorter than a piece header")
        body, check = data[: _FIXED.size], data[_FIXED.size : FIXED_SIZE]
        magic, version, header_len, size, leaf_size, created, expires, leaves, root = _FIXED.unpack(body)
        if magic != MAGIC:
            raise CorruptPiece(f"{where}: not a Geoshard piece file (bad magic)")
        if version != FORMAT_VERSION:
            raise CorruptPiece(f"{where}: piece format v{version}, this node reads v{FORMAT_VERSION}")
        if blake3.blake3(body).digest(length=_CHECK) != check:
            raise CorruptPiece(f"{where}: header checksum mismatch")
        return cls(size, leaf_size, created, expires, leaves, root, header_len)
