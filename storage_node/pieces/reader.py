"""Reading a stored piece: ranges of its data, leaves and Merkle proofs from its header's
tree, and page-cache probes for the GET path (the file layout is :mod:`storage_node.pieces.format`)."""

from __future__ import annotations

import os

from erasure.merkle import HASH_SIZE, level_sizes
from storage_node.errors import CorruptPiece, InvalidRange
from storage_node.pieces.format import FIXED_SIZE, PieceHeader, level_offsets

__all__ = ["PieceReader"]

_nowait = hasattr(os, "RWF_NOWAIT")  # cleared on the first filesystem that refuses it


class PieceReader:
    """An open piece file: ranges of bytes, leaves and tree hashes, each read on demand."""

    def __init__(self, fd: int, piece_id: str) -> None:
        self.fd = fd
        self.piece_id = piece_id
        self.header = PieceHeader.decode_fixed(os.pread(fd, FIXED_SIZE, 0), f"piece {piece_id}")
        self._offsets = level_offsets(self.header.leaf_count)
        self._sizes = level_sizes(self.header.leaf_count) if self.header.leaf_count else []

    def __enter__(self) -> PieceReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @property
    def size(self) -> int:
        return self.header.size

    def check_range(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise InvalidRange(
                f"range offset={offset} length={length} is outside piece {self.piece_id} "
                f"of {self.size} bytes"
            )

    def read(self, offset: int, length: int) -> bytes:
        self.check_range(offset, length)
        data = os.pread(self.fd, length, self.header.header_len + offset)
        if len(data) != length:
            raise CorruptPiece(f"piece {self.piece_id} is truncated on disk")
        return data

    def file_offset(self, offset: int) -> int:
        """Where byte ``offset`` of the piece sits in the file (after the header)."""
        return self.header.header_len + offset

    def is_cached(self, offset: int, length: int) -> bool:
        """Whether the page cache holds the range, judged by its first and last bytes.

        Readahead fills a range front to back, so both ends present means all of it is, but
        for a page evicted in between — which costs one short wait, not a wrong answer.
        """
        if length <= 0:
            return False
        probe = bytearray(1)
        start = self.file_offset(offset)
        return all(self._read_nowait(probe, at) == 1 for at in (start, start + length - 1))

    def read_cached(self, offset: int, length: int) -> bytearray | None:
        """The bytes if the page cache holds all of them, else None — never waits for a disk.

        ``preadv2(RWF_NOWAIT)`` copies what is cached and refuses to block; the event loop
        uses it to serve hot ranges in place and hands cold ones to a thread
        (:meth:`read`), so a slow disk never stalls the other connections.
        """
        self.check_range(offset, length)
        if not _nowait:
            return None
        buf = bytearray(length)
        return buf if self._read_nowait(buf, self.file_offset(offset)) == length else None

    def _read_nowait(self, buf: bytearray, at: int) -> int:
        """``preadv2(RWF_NOWAIT)`` into ``buf`` at file offset ``at``: the bytes the page cache
        had, or 0 when it had none or the filesystem cannot say (then never asked again)."""
        global _nowait
        if not _nowait:
            return 0
        try:
            return os.preadv(self.fd, [buf], at, os.RWF_NOWAIT)
        except BlockingIOError:
            return 0
        except OSError:  # the filesystem does not know RWF_NOWAIT: always use a thread
            _nowait = False
            return 0

    def will_need(self, offset: int, length: int) -> None:
        """Start reading a byte range into the page cache without waiting for it."""
        if length > 0:
            os.posix_fadvise(self.fd, self.header.header_len + offset, length, os.POSIX_FADV_WILLNEED)

    def leaf(self, index: int) -> bytes:
        h = self.header
        if not 0 <= index < h.leaf_count:
            raise InvalidRange(f"leaf {index} is outside piece {self.piece_id} of {h.leaf_count} leaves")
        start = index * h.leaf_size
        return self.read(start, min(h.leaf_size, h.size - start))

    def hash_at(self, level: int, index: int) -> bytes:
        data = os.pread(self.fd, HASH_SIZE, self._offsets[level] + index * HASH_SIZE)
        if len(data) != HASH_SIZE:
            raise CorruptPiece(f"piece {self.piece_id}: Merkle tree is truncated on disk")
        return data

    def range_proof(self, start: int, stop: int) -> list[bytes]:
        """The hashes ``erasure.merkle.root_from_range`` needs for leaves ``[start, stop)``.

        Mirrors ``MerkleTree.range_proof`` but reads at most two hashes per level from disk.
        """
        n = self.header.leaf_count
        if not 0 <= start < stop <= n:
            raise InvalidRange(f"leaf range [{start}, {stop}) is outside a tree of {n} leaves")
        out: list[bytes] = []
        lo, hi = start, stop
        for level, size in enumerate(self._sizes[:-1]):
            if lo % 2 == 1:
                out.append(self.hash_at(level, lo - 1))
            if (hi - 1) % 2 == 0 and hi < size:
                out.append(self.hash_at(level, hi))
            lo, hi = lo // 2, (hi - 1) // 2 + 1
        return out

    def proof(self, index: int) -> list[bytes]:
        return self.range_proof(index, index + 1)
