"""The blob store's upload writer, driven directly: batching, lazy temp files, aborts."""

from __future__ import annotations

import os

from erasure.merkle import merkle_root
from storage_node.pieces.store import PieceStore, scan_usage
from tests.node_fixtures import new_piece_id


def _store(tmp_path) -> PieceStore:
    store = PieceStore(tmp_path, capacity=1 << 30)
    store.open()
    return store


def _files(root) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


async def test_a_batch_of_more_chunks_than_writev_takes_is_written_whole(tmp_path):
    # A client trickling 1-byte chunks fills one 1 MiB batch with far more than IOV_MAX
    # (1024) buffers; every byte must still land, in order, under the right root.
    store = _store(tmp_path)
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


async def test_abort_after_a_batch_went_to_disk_leaves_nothing(tmp_path):
    store = _store(tmp_path)
    writer = store.create(new_piece_id(), 3 << 20, 65536)
    await writer.write(os.urandom(2 << 20))  # hands a batch to the worker: the temp file exists
    await writer.abort()
    assert _files(tmp_path) == []
    assert store.usage().reserved == 0 and store.usage().used == 0


async def test_abort_before_any_batch_leaves_nothing(tmp_path):
    store = _store(tmp_path)
    writer = store.create(new_piece_id(), 1000, 64)
    await writer.write(b"x" * 10)  # below one batch: no temp file was created yet
    await writer.abort()
    assert _files(tmp_path) == []
    assert store.usage().reserved == 0


async def test_an_empty_piece_is_committed_with_its_header(tmp_path):
    store = _store(tmp_path)
    pid = new_piece_id()
    header = await store.create(pid, 0, 64).commit()
    assert header.size == 0 and store.header(pid) == header
    assert store.usage().used == os.path.getsize(store.path(pid)) == header.header_len
