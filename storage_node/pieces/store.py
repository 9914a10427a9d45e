"""The blob store: one file per piece, sharded by piece-id prefix.

Layout under the data directory::

    blobs/<first two hex chars>/<piece id>.gsp    stored pieces (see ``format.py``)
    trash/<first two hex chars>/<piece id>.gsp    pieces a retain list dropped; mtime = when
    tmp/<random>.part                             uploads in flight where the filesystem
                                                  lacks O_TMPFILE; emptied at start-up

Two hex characters give 256 directories, which keeps each directory small enough for
fast lookups up to tens of millions of pieces (Storj uses the same two-character split).
All 256 shard directories are created once when the store opens, so a commit never races
a ``mkdir``.

An upload is written to an *unnamed* file opened with ``O_TMPFILE`` in its shard directory,
fsynced, then linked into place — ``link`` fails if the name exists, so two concurrent
uploads of one piece id cannot overwrite each other — and the directory is fsynced so the
name survives a power cut. An upload that fails or a process that dies leaves nothing
behind: the file never had a name. Filesystems without ``O_TMPFILE`` (or a system without
``/proc``) get the classic scheme instead: a named file in ``tmp/``, linked the same way.

Committed pieces are dropped from the page cache (``POSIX_FADV_DONTNEED`` after the fsync):
a piece is cold data, read back rarely (downloads spread over many nodes, audits of one
leaf), so caching it would only push out what the node reads often — its database, the
directory blocks — and grow the page cache into memory the machine has not touched yet,
which costs more per byte than the write itself on virtual machines (docs/performance.md).

Used space is the sum of the sizes of the files in ``blobs/`` and ``trash/``, headers
included: exactly what ``du --apparent-size`` shows for those folders. The store keeps that
sum in memory, computed by a scan at start-up and adjusted on every commit, move and
delete, so what the node reports to the satellite and its operator is what is on disk.
Uploads in flight *reserve* their final size so that concurrent uploads cannot together
exceed the capacity; a reservation becomes used space on commit or is released on abort.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common.messages import is_piece_id, now
from erasure.merkle import StreamingMerkle, leaf_count
from storage_node.errors import (
    BodyTooLarge,
    CorruptPiece,
    IncompleteBody,
    InsufficientSpace,
    InvalidPieceId,
    PieceExists,
    PieceNotFound,
)
from storage_node.pieces.format import FIXED_SIZE, PieceHeader, header_length
from storage_node.pieces.index import PieceIndex
from storage_node.pieces.reader import PieceReader

__all__ = ["PieceReader", "PieceStore", "PieceWriter", "SpaceUsage", "scan_usage"]

log = logging.getLogger(__name__)

_SUFFIX = ".gsp"
_WRITE_BUFFER = 1 << 20  # bytes per hand-off to the writer thread: few, large writev() calls
_IOV_MAX = 1024


@dataclass(frozen=True)
class SpaceUsage:
    """Bytes and file counts of stored pieces and trash; ``used`` counts both."""

    pieces: int
    piece_count: int
    trash: int
    trash_count: int
    reserved: int = 0

    @property
    def used(self) -> int:
        return self.pieces + self.trash


def _open_anonymous(directory: Path) -> int:
    return os.open(directory, os.O_WRONLY | os.O_TMPFILE, 0o644)


def _link_anonymous(fd: int, dir_fd: int, name: str) -> None:
    """Give the unnamed file behind ``fd`` the name ``name`` in the directory open as
    ``dir_fd``; FileExistsError if taken.

    ``linkat(AT_EMPTY_PATH)`` would need CAP_DAC_READ_SEARCH; linking the ``/proc`` alias of
    the descriptor with AT_SYMLINK_FOLLOW needs no privilege. Passing a directory fd makes
    Python call ``linkat`` (plain ``link`` would link the ``/proc`` symlink itself).
    """
    os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)


def _probe_anonymous_files(directory: Path) -> bool:
    """True if this filesystem and system support unnamed upload files end to end."""
    name = f"probe-{secrets.token_hex(8)}"
    try:
        fd = _open_anonymous(directory)
    except OSError:
        return False
    dfd = os.open(directory, os.O_RDONLY)
    try:
        _link_anonymous(fd, dfd, name)
    except OSError:
        return False
    finally:
        os.close(dfd)
        os.close(fd)
    (directory / name).unlink(missing_ok=True)
    return True


def _iter_files(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(piece id, entry) for every piece file under a sharded folder."""
    if not root.is_dir():
        return
    with os.scandir(root) as shards:
        for shard in shards:
            if not shard.is_dir(follow_symlinks=False):
                continue
            with os.scandir(shard.path) as files:
                for f in files:
                    name = f.name
                    if name.endswith(_SUFFIX) and is_piece_id(name[: -len(_SUFFIX)]):
                        yield name[: -len(_SUFFIX)], f


def scan_usage(data_dir: Path) -> SpaceUsage:
    """Walk ``blobs/`` and ``trash/`` and add up file sizes: the ground truth on disk."""
    totals = []
    for sub in ("blobs", "trash"):
        size = count = 0
        for _pid, entry in _iter_files(data_dir / sub):
            try:
                size += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue  # a running node emptied its trash meanwhile (``geoshard node status``)
            count += 1
        totals.append((size, count))
    return SpaceUsage(totals[0][0], totals[0][1], totals[1][0], totals[1][1])


class PieceStore:
    """Stores, reads, trashes and deletes piece files within an allocated capacity."""

    def __init__(self, data_dir: str | os.PathLike[str], capacity: int, index: PieceIndex | None = None) -> None:
        self.root = Path(data_dir)
        # What the node holds, for the scrub to notice a file that vanished (storage_node/pieces/index.py).
        self.index = index
        self.capacity = capacity
        self.blobs = self.root / "blobs"
        self.trash_dir = self.root / "trash"
        self.tmp = self.root / "tmp"
        self._pieces = self._piece_count = self._trash = self._trash_count = 0
        self._reserved = 0
        self.anonymous_uploads = False  # O_TMPFILE + link via /proc; probed in open()
        # Chores move and delete files from worker threads while uploads commit on the loop.
        self._lock = threading.Lock()
        self._index_lock = threading.Lock()  # a row dropped and its file moved, as one step

    # --- lifecycle ---------------------------------------------------------------------

    def open(self) -> None:
        """Create the layout, drop uploads a crash left behind, and count what is stored."""
        for base in (self.blobs, self.trash_dir):
            base.mkdir(parents=True, exist_ok=True)
            for i in range(256):
                (base / f"{i:02x}").mkdir(exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        for leftover in self.tmp.iterdir():
            log.info("removing unfinished upload %s left by an earlier run", leftover.name)
            leftover.unlink(missing_ok=True)
        self.anonymous_uploads = _probe_anonymous_files(self.tmp)
        if not self.anonymous_uploads:
            log.info("O_TMPFILE is not available under %s: uploads go through named files in tmp/",
                     self.root)
        usage = scan_usage(self.root)
        self._pieces, self._piece_count = usage.pieces, usage.piece_count
        self._trash, self._trash_count = usage.trash, usage.trash_count

    def _adjust(self, pieces: int = 0, count: int = 0, trash: int = 0, trash_count: int = 0,
                reserved: int = 0) -> None:
        with self._lock:
            self._pieces += pieces
            self._piece_count += count
            self._trash += trash
            self._trash_count += trash_count
            self._reserved += reserved

    # --- accounting --------------------------------------------------------------------

    def usage(self) -> SpaceUsage:
        return SpaceUsage(self._pieces, self._piece_count, self._trash, self._trash_count, self._reserved)

    @property
    def free(self) -> int:
        return max(0, self.capacity - self._pieces - self._trash - self._reserved)

    def _reserve(self, nbytes: int) -> None:
        with self._lock:
            free = self.free
            if nbytes > free:
                raise InsufficientSpace(
                    f"storing {nbytes} bytes would exceed this node's allocated capacity "
                    f"({self.capacity} bytes, {free} free)"
                )
            self._reserved += nbytes

    def _release(self, nbytes: int) -> None:
        self._adjust(reserved=-nbytes)

    # --- paths -------------------------------------------------------------------------

    @staticmethod
    def check_id(piece_id: str) -> None:
        if not is_piece_id(piece_id):
            raise InvalidPieceId(
                f"piece id must be 64 lowercase hex characters, got {piece_id[:80]!r}"
            )

    def path(self, piece_id: str) -> Path:
        self.check_id(piece_id)
        return self.blobs / piece_id[:2] / (piece_id + _SUFFIX)

    def trash_path(self, piece_id: str) -> Path:
        self.check_id(piece_id)
        return self.trash_dir / piece_id[:2] / (piece_id + _SUFFIX)

    def exists(self, piece_id: str) -> bool:
        return self.path(piece_id).exists()

    # --- writing -----------------------------------------------------------------------

    def create(self, piece_id: str, size: int, leaf_size: int, expires: int = 0) -> PieceWriter:
        """Start an upload of exactly ``size`` bytes; reserves its space or raises."""
        if self.exists(piece_id):
            raise PieceExists(f"piece {piece_id} is already stored on this node")
        leaves = leaf_count(size, leaf_size)
        hlen = header_length(leaves)
        self._reserve(hlen + size)
        try:
            return PieceWriter(self, piece_id, size, leaf_size, expires, leaves, hlen)
        except BaseException:
            self._release(hlen + size)
            raise

    def _committed(self, piece_id: str, reserved: int, file_size: int) -> None:
        self._adjust(pieces=file_size, count=1, reserved=-reserved)
        if self.index is not None:  # after the piece is durable: a row always has its file
            self.index.add(piece_id, file_size)

    def _forget(self, piece_id: str) -> None:
        if self.index is not None:  # before the file moves: a row without a file is a loss
            self.index.discard(piece_id)

    def index_existing(self, piece_id: str, size: int) -> None:
        """Give a piece the scrub just verified its index row, if it is still stored. Trash and
        delete hold ``_index_lock`` from dropping a row to moving the file, so a piece trashed
        meanwhile never gets its row back (a row whose file later leaves the trash reads as lost)."""
        if self.index is None:
            return
        with self._index_lock:
            if self.path(piece_id).exists():
                self.index.add(piece_id, size)

    # --- reading -----------------------------------------------------------------------

    def reader(self, piece_id: str) -> PieceReader:
        path = self.path(piece_id)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise PieceNotFound(f"piece {piece_id} is not stored on this node") from None
        try:
            return PieceReader(fd, piece_id)
        except BaseException:
            os.close(fd)
            raise

    def header(self, piece_id: str) -> PieceHeader:
        with self.reader(piece_id) as r:
            return r.header

    def walk(self) -> Iterator[tuple[str, PieceHeader]]:
        """Every stored piece with its header; damaged files are logged and skipped."""
        for piece_id, entry in _iter_files(self.blobs):
            try:
                with open(entry.path, "rb") as f:
                    yield piece_id, PieceHeader.decode_fixed(f.read(FIXED_SIZE), entry.path)
            except FileNotFoundError:
                continue  # deleted while we walked
            except CorruptPiece as e:
                log.warning("skipping damaged piece file: %s", e)

    # --- trash and deletion ------------------------------------------------------------

    def trash(self, piece_id: str) -> bool:
        """Move a piece to the trash, stamping the time of the move; False if absent."""
        src, dst = self.path(piece_id), self.trash_path(piece_id)
        # The grace period runs from the move, not from the upload: stamp the file *before*
        # moving it. Stamped after, the trash chore's thread could find it in the trash with
        # its upload time, delete it at once (no grace, no restore) and make this raise.
        t = time.time()
        try:
            replaced: int | None = dst.stat().st_size  # a copy trashed before: it is overwritten
        except FileNotFoundError:
            replaced = None
        try:
            with self._index_lock:
                self._forget(piece_id)
                size = src.stat().st_size
                os.utime(src, (t, t))
                os.replace(src, dst)
        except FileNotFoundError:
            return False  # deleted meanwhile (TTL expiry)
        self._adjust(pieces=-size, count=-1, trash=size - (replaced or 0),
                     trash_count=1 if replaced is None else 0)
        return True

    def delete(self, piece_id: str) -> bool:
        """Delete a stored piece for good (TTL expiry); False if absent."""
        path = self.path(piece_id)
        try:
            with self._index_lock:
                self._forget(piece_id)
                size = path.stat().st_size
                path.unlink()
        except FileNotFoundError:
            return False
        self._adjust(pieces=-size, count=-1)
        return True

    def restore(self, piece_id: str) -> bool:
        """Move a piece back from the trash (a retain list that was wrong); False if absent."""
        src, dst = self.trash_path(piece_id), self.path(piece_id)
        if dst.exists():
            return False
        try:
            size = src.stat().st_size
        except FileNotFoundError:
            return False
        os.replace(src, dst)
        self._adjust(pieces=size, count=1, trash=-size, trash_count=-1)
        if self.index is not None:
            self.index.add(piece_id, size)
        return True

    def empty_trash(self, older_than: float) -> int:
        """Delete trashed pieces moved there before unix time ``older_than``; returns the count."""
        removed = 0
        for _pid, entry in list(_iter_files(self.trash_dir)):
            try:
                st = entry.stat(follow_symlinks=False)
                if st.st_mtime >= older_than:
                    continue
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            self._adjust(trash=-st.st_size, trash_count=-1)
            removed += 1
        return removed


class PieceWriter:
    """One upload in progress: bytes go to a temp file at their final offset while hashed."""

    def __init__(
        self,
        store: PieceStore,
        piece_id: str,
        size: int,
        leaf_size: int,
        expires: int,
        leaves: int,
        header_len: int,
    ) -> None:
        self.store = store
        self.piece_id = piece_id
        self.size = size
        self.leaf_size = leaf_size
        self.expires = expires
        self.leaves = leaves
        self.header_len = header_len
        self.written = 0
        self._reserved = header_len + size
        self._merkle = StreamingMerkle(leaf_size)
        self._batch: list[bytes | bytearray | memoryview] = []
        self._batch_bytes = 0
        self._file_pos = header_len  # where the worker writes the next batch
        self._inflight: asyncio.Future[None] | None = None
        self._done = False
        self._dest = store.path(piece_id)
        # Without O_TMPFILE the upload needs a name until it is complete.
        self._tmp = None if store.anonymous_uploads else (
            store.tmp / f"{piece_id[:16]}-{secrets.token_hex(8)}.part")
        self._fd = -1
        # Creating a file allocates an inode, which took 0.6 ms on this machine's ext4: a
        # worker thread does it while the body arrives, off the loop and off the path to
        # the receipt. (A named temp file is created by the first batch's worker call.)
        self._opening: asyncio.Future[int] | None = None
        if self._tmp is None:
            self._opening = asyncio.ensure_future(asyncio.to_thread(_open_anonymous, self._dest.parent))

    async def _opened(self) -> None:
        """Wait for the file that :meth:`__init__` started creating."""
        if self._opening is not None:
            opening, self._opening = self._opening, None
            self._fd = await opening
            os.lseek(self._fd, self.header_len, os.SEEK_SET)

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append bytes; refuses the first byte past the declared size.

        Chunks are batched; each full batch is hashed and written by a worker thread
        while the event loop goes on reading the next batch from the socket (blake3 and
        ``write`` release the GIL, so the two overlap on two cores). At most one batch is
        in the worker and one filling, so memory per upload stays near two batches.
        """
        n = len(chunk)
        if self.written + n > self.size:
            raise BodyTooLarge(f"upload sent more than the {self.size} bytes it declared")
        self.written += n
        self._batch.append(chunk)
        self._batch_bytes += n
        # The batch that completes the piece waits for commit(), which hands it to the
        # worker with the tree and the fsyncs: one thread trip instead of two.
        if self._batch_bytes >= _WRITE_BUFFER and self.written < self.size:
            await self._opened()
            await self._drain()
            batch, self._batch, self._batch_bytes = self._batch, [], 0
            self._inflight = asyncio.ensure_future(asyncio.to_thread(self._process, batch))

    async def _drain(self) -> None:
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            await inflight

    def _process(self, batch: list[bytes | bytearray | memoryview]) -> None:
        if self._fd < 0 and self._tmp is not None:
            self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.lseek(self._fd, self.header_len, os.SEEK_SET)
        start = self._file_pos
        views = [memoryview(c) for c in batch]
        views.reverse()  # pop() from the end is O(1)
        while views:
            # writev() takes at most IOV_MAX buffers; a client trickling tiny chunks fills more.
            done = os.writev(self._fd, views[: -_IOV_MAX - 1 : -1])
            while views and done >= len(views[-1]):
                done -= len(views.pop())
            if done:
                views[-1] = views[-1][done:]
        # Start writing these pages to the device now (DONTNEED on dirty pages queues their
        # writeback and returns), so the disk works while the batch is hashed and the next
        # one arrives, and the fsync at the end waits only for the tail.
        self._file_pos = end = start + sum(len(c) for c in batch)
        if end > start:
            os.posix_fadvise(self._fd, start, end - start, os.POSIX_FADV_DONTNEED)
        for c in batch:
            self._merkle.update(c)

    async def commit(self) -> PieceHeader:
        """Finish the tree, write the header, make the piece durable and visible."""
        if self.written != self.size:
            raise IncompleteBody(
                f"upload ended after {self.written} of the {self.size} bytes it declared"
            )
        await self._opened()
        await self._drain()
        batch, self._batch, self._batch_bytes = self._batch, [], 0
        # One hand-off for the last bytes, the tree, the header and the fsyncs: each trip
        # to a worker thread costs a GIL round with the event loop.
        header = await asyncio.to_thread(self._finish, batch, self._dest)
        self._done = True
        self.store._committed(self.piece_id, self._reserved, self.header_len + self.size)
        return header

    def _finish(self, batch: list[bytes | bytearray | memoryview], dest: Path) -> PieceHeader:
        self._process(batch)
        tree = self._merkle.tree()
        header = PieceHeader(
            size=self.size,
            leaf_size=self.leaf_size,
            created=now(),
            expires=self.expires,
            leaf_count=self.leaves,
            root=tree.root,
            header_len=self.header_len,
        )
        blob = bytearray(header.encode_fixed())
        for level in tree.levels if self.leaves else []:
            blob += b"".join(level)
        if len(blob) != self.header_len:  # the shape is fixed by the leaf count
            raise AssertionError(f"header is {len(blob)} bytes, expected {self.header_len}")
        os.pwrite(self._fd, blob, 0)
        self._durable(dest)
        return header

    def _durable(self, dest: Path) -> None:
        fd, self._fd = self._fd, -1
        dfd = -1
        try:
            os.fsync(fd)
            # Clean pages only: after the fsync, all of them. See the module docstring.
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            # One descriptor of the shard directory to link into and then fsync.
            dfd = os.open(dest.parent, os.O_RDONLY)
            # link fails if the name exists: no silent overwrite of a stored piece.
            if self._tmp is None:
                _link_anonymous(fd, dfd, dest.name)
            else:
                os.link(self._tmp, dest.name, dst_dir_fd=dfd)
            os.fsync(dfd)
        except FileExistsError:
            raise PieceExists(f"piece {self.piece_id} is already stored on this node") from None
        finally:
            if dfd >= 0:
                os.close(dfd)
            os.close(fd)
            if self._tmp is not None:
                self._tmp.unlink(missing_ok=True)

    async def abort(self) -> None:
        """Drop the upload: no partial file remains and its reservation is released."""
        if self._done:
            return
        self._done = True
        if self._inflight is not None:  # never close the fd under a running write
            await asyncio.gather(self._inflight, return_exceptions=True)
            self._inflight = None
        if self._opening is not None:  # the file being created: close it once it exists
            (opened,) = await asyncio.gather(self._opening, return_exceptions=True)
            self._opening = None
            if isinstance(opened, int):
                self._fd = opened
        if self._fd >= 0:
            os.close(self._fd)  # an unnamed file vanishes with its last descriptor
            self._fd = -1
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
        self.store._release(self._reserved)
