"""The node's scrub chore on a real node's piece store: every planted flip found in one pass,
lost pieces deleted and kept for reporting, a pass resumed after a restart, the pace held."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

from storage_node.pieces.format import FIXED_SIZE
from storage_node.scrub import ScrubChore, ScrubConfig, ScrubRecords, ScrubStep, verify_piece_file
from tests.node_fixtures import NodeHarness, new_piece_id, running_node

LEAF = 1024


async def _store_pieces(node: NodeHarness, count: int, size: int = 40 * LEAF + 17) -> list[str]:
    ids = []
    for _ in range(count):
        pid = new_piece_id()
        status, body = await node.put(pid, os.urandom(size), leaf_size=LEAF)
        assert status == 200, body
        ids.append(pid)
    return sorted(ids)


def _chore(node: NodeHarness, **config: float) -> ScrubChore:
    """A scrub over the node's own store and database, stepped by the test (the peer's own
    chore is off: ``NodeConfig.for_tests`` sets ``scrub_period = 0``)."""
    peer = node.peer
    return ScrubChore(
        peer.identity, peer.config.satellite_id, "http://127.0.0.1:9", peer.store, ScrubRecords(peer.db.conn),
        ScrubConfig(**{"period": 3600.0, "max_rate": 1e12, **config}),
    )  # fmt: skip


def _flip(path: Path, at: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x40
    path.write_bytes(bytes(raw))


async def test_one_pass_finds_every_planted_flip_and_deletes_only_those_pieces(tmp_path) -> None:
    async with running_node(tmp_path) as node:
        ids = await _store_pieces(node, 12)
        store = node.peer.store
        rng = random.Random(7)
        planted: dict[str, str] = {}
        for pid in ids[:4]:  # one byte of the piece's data
            size = store.path(pid).stat().st_size
            _flip(store.path(pid), rng.randrange(size - 40 * LEAF - 17, size))
            planted[pid] = "bytes"
        _flip(store.path(ids[4]), FIXED_SIZE + 5)  # the Merkle tree in the header
        planted[ids[4]] = "tree"
        _flip(store.path(ids[5]), 30)  # the fixed header (its checksum catches it)
        planted[ids[5]] = "header"
        with open(store.path(ids[6]), "r+b") as f:  # a truncated file
            f.truncate(store.path(ids[6]).stat().st_size - 100)
        planted[ids[6]] = "truncated"
        before = store.usage()

        chore = _chore(node)
        state = await chore.run_pass()
        assert state.passes == 1 and state.last_pass_losses == len(planted)
        assert state.last_pass_verified == len(ids) - len(planted)
        for pid in ids:
            assert store.exists(pid) == (pid not in planted), pid
        assert store.usage().piece_count == before.piece_count - len(planted)
        # The satellite cannot be reached here: every loss waits in the node's database.
        pending = {p: d for p, _, d in chore.records.unreported()}
        assert set(pending) == set(planted) and state.losses_unreported == len(planted)
        assert "signed Merkle root" in pending[ids[0]] and "tree stored in the header" in pending[ids[4]]
        assert "header" in pending[ids[5]] and "piece bytes" in pending[ids[6]]
        for pid in ids:
            if pid not in planted:
                assert verify_piece_file(store.path(pid))[1] == ""


async def test_a_pass_resumes_where_a_restarted_node_stopped(tmp_path) -> None:
    async with running_node(tmp_path) as node:
        ids = await _store_pieces(node, 10)
        first = _chore(node)
        for _ in range(4):
            assert await first.run_once() is ScrubStep.BUSY
        assert first.state.cursor == ids[3]
        second = _chore(node)  # a new process: everything comes from node.db
        assert second.state.cursor == ids[3] and second.state.pass_verified == 4 and second.in_pass
        state = await second.run_pass()
        assert state.passes == 1 and state.last_pass_verified == 10 and state.total_verified == 10
        # The next pass waits for the period, then verifies everything again.
        assert await second.run_once() is ScrubStep.IDLE
        assert await second.run_once(t=state.pass_started + 3600.0) is ScrubStep.BUSY
        assert second.state.pass_verified == 1 and second.state.passes == 1


async def test_reads_are_throttled_to_the_configured_rate(tmp_path) -> None:
    async with running_node(tmp_path) as node:
        await _store_pieces(node, 4, size=256 * LEAF)
        # 1 MiB stored; a pass per 10 ms would need 100 MiB/s: the 2 MiB/s limit holds instead.
        chore = _chore(node, period=0.01, max_rate=2 * 2**20)
        chore.pace = True
        t0 = time.monotonic()
        state = await chore.run_pass()
        elapsed = time.monotonic() - t0
        assert state.last_pass_verified == 4
        assert elapsed >= 0.45, f"1 MiB verified in {elapsed:.2f}s at a 2 MiB/s limit"


async def test_a_piece_file_that_vanished_is_reported_missing_and_a_trashed_one_is_not(tmp_path) -> None:
    async with running_node(tmp_path) as node:
        ids = await _store_pieces(node, 6)
        store = node.peer.store
        assert store.index is not None and store.index.count() == 6
        store.path(ids[0]).unlink()  # gone from the disk behind the node's back
        store.path(ids[1]).unlink()
        assert store.trash(ids[2])  # the retain list trashed it: not a loss
        assert store.delete(ids[3])  # its TTL expired: not a loss
        chore = _chore(node)
        state = await chore.run_pass()
        assert state.last_pass_losses == 2 and state.last_pass_verified == 2
        pending = {p: (r, d) for p, r, d in chore.records.unreported()}
        assert set(pending) == {ids[0], ids[1]}
        assert all(r == "missing" and "gone" in d for r, d in pending.values())
        # Reported once: the rows are gone, so the next pass finds nothing more.
        assert sorted(store.index.page("", 100)) == sorted(ids[4:])
        assert store.restore(ids[2]) and store.index.contains(ids[2])  # a wrong retain list, undone


async def test_the_scrub_fills_the_index_of_a_node_older_than_it(tmp_path) -> None:
    async with running_node(tmp_path) as node:
        ids = await _store_pieces(node, 3)
        store = node.peer.store
        assert store.index is not None
        for pid in ids:  # a node that predates the index: files, no rows
            store.index.discard(pid)
        state = await _chore(node).run_pass()
        assert state.last_pass_losses == 0 and state.last_pass_verified == 3
        assert sorted(store.index.page("", 10)) == ids
