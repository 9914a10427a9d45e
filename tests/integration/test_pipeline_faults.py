"""The pipeline when nodes fail, lie, stall, or the body breaks: right bytes or no object."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator

import pytest

from gateway.pipeline import (
    NodeUnavailable,
    NotEnoughPieces,
    PieceClientConfig,
    PieceSource,
)
from storage_node.pieces.format import header_length
from tests.integration.test_pipeline_roundtrip import SEGMENT, chunks, downloader, uploader
from tests.pipeline_fixtures import BlackHole, Endpoint, network


async def test_one_node_down_still_readable_and_writable(tmp_path):
    data = os.urandom(2 * SEGMENT + 777)
    async with network(tmp_path) as net:
        result = await uploader(net).upload(chunks(data))
        holder = result.segments[0].pieces[0].node_id  # a systematic piece: read first
        await net.node(holder).peer.server.close()
        assert await downloader(net).read(net.sources(result.segments), 0, len(data)) == data
        # Uploads place on the same six nodes; five answer, four are enough.
        again = await uploader(net).upload(chunks(data))
        assert all(holder not in {p.node_id for p in s.pieces} for s in again.segments)
        assert await downloader(net).read(net.sources(again.segments), 0, len(data)) == data


async def test_corrupt_piece_on_disk_is_caught_replaced_and_reported(tmp_path):
    data = os.urandom(SEGMENT + 5)
    async with network(tmp_path) as net:
        result = await uploader(net).upload(chunks(data))
        seg = result.segments[0]
        assert seg.layout is not None
        # The reader takes the lowest-numbered pieces first: corrupt the first it will read
        # (piece 0 itself may have lost the upload's long tail).
        bad = min(seg.pieces, key=lambda p: p.piece_num)
        path = net.piece_path(bad.node_id, bad.piece_id)
        leaves = seg.layout.piece_size // seg.layout.share_size
        with open(path, "r+b") as f:  # one flipped byte inside the piece body
            f.seek(header_length(leaves) + 100)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0xFF]))
        got = await downloader(net).read(net.sources(result.segments), 0, len(data))
        assert got == data
        assert [(r[0], r[1], r[2]) for r in net.reports] == [(bad.node_id, bad.piece_id, bad.piece_num)]
        assert "Merkle root" in net.reports[0][3]


async def test_stalled_node_does_not_hold_up_the_upload(tmp_path):
    hole = BlackHole()
    try:
        cfg = PieceClientConfig(base_timeout=30.0, connect_timeout=2.0)
        async with network(tmp_path, count=5, config=cfg) as net:
            net.placement = lambda index: [hole.endpoint, *net.endpoints()]
            data = os.urandom(SEGMENT)
            t0 = time.monotonic()
            result = await uploader(net).upload(chunks(data))
            elapsed = time.monotonic() - t0
            assert elapsed < 10, f"upload waited for the stalled node ({elapsed:.1f}s)"
            assert hole.identity.id not in {p.node_id for p in result.segments[0].pieces}
            assert len(result.segments[0].pieces) >= net.scheme.success
            assert hole.accepted, "the stalled node was asked"
    finally:
        hole.close()


async def test_stalled_node_on_read_gets_a_spare(tmp_path):
    hole = BlackHole()
    try:
        cfg = PieceClientConfig(base_timeout=30.0, connect_timeout=2.0)
        async with network(tmp_path, config=cfg) as net:
            data = os.urandom(SEGMENT)
            result = await uploader(net).upload(chunks(data))
            sources = net.sources(result.segments)
            # The first piece the reader takes now answers on a port that never replies.
            seg = sources[0]
            first = min(p.piece_num for p in seg.pieces)
            pieces = [
                dataclasses.replace(p, address=hole.endpoint.address) if p.piece_num == first else p
                for p in seg.pieces
            ]
            sources[0] = dataclasses.replace(seg, pieces=pieces)
            t0 = time.monotonic()
            got = await downloader(net, spare_after=0.2).read(sources, 0, len(data))
            assert got == data
            assert time.monotonic() - t0 < 5
    finally:
        hole.close()


async def test_too_few_nodes_fails_the_upload(tmp_path):
    async with network(tmp_path, count=6) as net:
        net.placement = lambda index: net.endpoints()[:3] + [
            Endpoint(os.urandom(32).hex(), "http://127.0.0.1:9") for _ in range(3)
        ]
        with pytest.raises(NotEnoughPieces) as info:
            await uploader(net).upload(chunks(os.urandom(SEGMENT)))
        assert info.value.have == 3 and info.value.need == 4
        assert all(isinstance(f, NodeUnavailable) for f in info.value.failures)


async def test_too_few_good_pieces_fails_the_read(tmp_path):
    data = os.urandom(SEGMENT)
    async with network(tmp_path) as net:
        result = await uploader(net).upload(chunks(data))
        sources = net.sources(result.segments)
        seg = sources[0]
        dead = [dataclasses.replace(p, address="http://127.0.0.1:9") for p in seg.pieces[:-1]]
        sources[0] = dataclasses.replace(seg, pieces=[*dead, seg.pieces[-1]])
        with pytest.raises(NotEnoughPieces):
            await downloader(net).read(sources, 0, len(data))


async def test_body_error_midway_returns_nothing_and_cancels_in_flight_work(tmp_path):
    class ClientWentAway(Exception):
        pass

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield os.urandom(SEGMENT // 2)
        raise ClientWentAway()

    async with network(tmp_path) as net:
        with pytest.raises(ClientWentAway):
            await uploader(net).upload(broken())
        # Segments were in flight when the body broke; none of their work outlives the call.
        assert net.begun >= 1
        ours = [t for t in asyncio.all_tasks()
                if t.get_coro().__qualname__.startswith(("ObjectUploader", "PieceClient", "TestNetwork"))]
        assert ours == []


async def test_wrong_root_is_a_bad_share_not_output(tmp_path):
    data = os.urandom(SEGMENT)
    async with network(tmp_path) as net:
        result = await uploader(net).upload(chunks(data))
        sources = net.sources(result.segments)
        seg = sources[0]
        # The lowest-numbered piece is read first (piece 0 may have lost the long tail).
        liar: PieceSource = min(seg.pieces, key=lambda p: p.piece_num)
        pieces = [dataclasses.replace(p, root=bytes(32)) if p is liar else p for p in seg.pieces]
        sources[0] = dataclasses.replace(seg, pieces=pieces)
        assert await downloader(net).read(sources, 0, len(data)) == data
        assert [r[2] for r in net.reports] == [liar.piece_num]
