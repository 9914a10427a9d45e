"""The blob store's upload writer, driven directly: batching, lazy temp files, aborts.

Every test runs twice: with unnamed upload files (O_TMPFILE, what Linux filesystems get)
and with the named files in ``tmp/`` that the store falls back to elsewhere.
"""

from __future__ import annotations

import os

import pytest

from erasure.merkle import merkle_root
from storage_node.errors import PieceExists
from storage_node.pieces.store import PieceStore, scan_usage
from tests.node_fixtures import new_piece_id


@pytest.fixture(params=["unnamed", "named"])
def upload_files(request) -> str:
    return request.param


@pytest.fixture
def new_store(upload_files):
    def make(tmp_path) -> PieceStore:
        store = PieceStore(tmp_path, capacity=1 << 30)
        store.open()
        if upload_files == "unnamed" and not store.anonymous_uploads:
            pytest.skip("this filesystem has no O_TMPFILE")
        store.anonymous_uploads = upload_files == "unnamed"
        return store

    return make


def _files(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


async def test_a_batch_of_more_chunks_than_writev_takes_is_written_whole(tmp_path, new_store):
    # A client trickling 1-byte chunks fills one 1 MiB batch with far more than IOV_MAX
    # (1024) buffers; every byte must still land, in order, under the right root.
    store = new_store(tmp_path)
    data = os.urandom(3000 + (1 << 20))
    pid = new_piece_id()
    writer = store.create(pid, len(data), 4096)
    for i in range(3000):
        await writer.write(data[i : i + 1])
    await writer.write(data[3000:])
    header = await writer.commit()
    assert header.root == merkle_root(data, 4096)
    with store.reader(pid) as r:
        assert r.read(0, len(data)) == data
    assert store.usage().used == scan_usage(tmp_path).used == os.path.getsize(store.path(pid))
    assert not os.listdir(store.tmp)


async def test_abort_after_a_batch_went_to_disk_leaves_nothing(tmp_path, new_store):
    store = new_store(tmp_path)
    writer = store.create(new_piece_id(), 3 << 20, 65536)
    await writer.write(os.urandom(2 << 20))  # hands a batch to the worker: the temp file exists
    await writer.abort()
    assert _files(tmp_path) == []
    assert store.usage().reserved == 0 and store.usage().used == 0


async def test_abort_before_any_batch_leaves_nothing(tmp_path, new_store):
    store = new_store(tmp_path)
    writer = store.create(new_piece_id(), 1000, 64)
    await writer.write(b"x" * 10)  # below one batch: no temp file was created yet
    await writer.abort()
    assert _files(tmp_path) == []
    assert store.usage().reserved == 0


async def test_an_empty_piece_is_committed_with_its_header(tmp_path, new_store):
    store = new_store(tmp_path)
    pid = new_piece_id()
    header = await store.create(pid, 0, 64).commit()
    assert header.size == 0 and store.header(pid) == header
    assert store.usage().used == os.path.getsize(store.path(pid)) == header.header_len


async def test_an_upload_in_flight_has_no_name_where_the_filesystem_allows(tmp_path, new_store, upload_files):
    store = new_store(tmp_path)
    pid = new_piece_id()
    writer = store.create(pid, 3 << 20, 65536)
    await writer.write(os.urandom(2 << 20))
    await writer._drain()  # the first batch is on disk
    expected = [] if upload_files == "unnamed" else [os.path.relpath(writer._tmp, tmp_path)]
    assert _files(tmp_path) == expected
    await writer.write(os.urandom(1 << 20))
    await writer.commit()
    assert _files(tmp_path) == [os.path.relpath(store.path(pid), tmp_path)]


async def test_the_second_of_two_concurrent_uploads_of_one_piece_is_refused_and_leaves_nothing(
    tmp_path, new_store
):
    store = new_store(tmp_path)
    pid = new_piece_id()
    first, second = (store.create(pid, 1 << 20, 65536) for _ in range(2))
    data = os.urandom(1 << 20)
    for w in (first, second):
        await w.write(data)
    await first.commit()
    with pytest.raises(PieceExists):
        await second.commit()
    await second.abort()
    assert _files(tmp_path) == [os.path.relpath(store.path(pid), tmp_path)]
    assert store.usage().reserved == 0
    assert store.usage().used == scan_usage(tmp_path).used == os.path.getsize(store.path(pid))


async def test_uploads_aborted_at_any_point_leave_no_open_file_behind(tmp_path, new_store):
    store = new_store(tmp_path)
    before = len(os.listdir("/proc/self/fd"))
    for sent in (0, 10, 2 << 20):  # while the file is still being created, before a batch, after one
        writer = store.create(new_piece_id(), 3 << 20, 65536)
        if sent:
            await writer.write(os.urandom(sent))
        await writer.abort()
    assert len(os.listdir("/proc/self/fd")) == before
    assert _files(tmp_path) == []
    assert store.usage().reserved == 0
