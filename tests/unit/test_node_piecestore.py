"""Piece upload and download through a real node HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import os

from common.messages import Action, PieceReceipt, Signed
from erasure.merkle import HASH_SIZE, merkle_root, verify_range
from tests.node_fixtures import files_on_disk, new_piece_id, running_node


def _split(proof_b64: str) -> list[bytes]:
    raw = base64.b64decode(proof_b64)
    return [raw[i : i + HASH_SIZE] for i in range(0, len(raw), HASH_SIZE)]


async def test_put_returns_node_signed_receipt_with_the_merkle_root(tmp_path):
    async with running_node(tmp_path) as node:
        data = os.urandom(100_000)
        pid = new_piece_id()
        status, body = await node.put(pid, data, leaf_size=4096)
        assert status == 200, body
        receipt = Signed.from_json(body["receipt"], PieceReceipt).verify(node.node_id)
        assert receipt.piece_id == pid and receipt.size == len(data) and receipt.leaf_size == 4096
        assert receipt.merkle_root == merkle_root(data, 4096)


async def test_get_whole_piece_and_ranges(tmp_path):
    async with running_node(tmp_path) as node:
        data = os.urandom(50_000)
        pid = new_piece_id()
        assert (await node.put(pid, data))[0] == 200
        status, got, headers = await node.get(pid)
        assert status == 200 and got == data
        assert headers["Geoshard-Piece-Size"] == str(len(data))
        status, got, _ = await node.get(pid, offset=1234, length=5000)
        assert status == 200 and got == data[1234:6234]
        status, got, _ = await node.get(pid, offset=49_000)
        assert status == 200 and got == data[49_000:]


async def test_ranged_get_with_proof_verifies_against_receipt_root(tmp_path):
    async with running_node(tmp_path) as node:
        leaf = 1024
        data = os.urandom(37 * leaf + 300)  # a short last leaf
        pid = new_piece_id()
        _, body = await node.put(pid, data, leaf_size=leaf)
        root = Signed.from_json(body["receipt"], PieceReceipt).verify(node.node_id).merkle_root
        for offset, length in [(0, leaf), (5 * leaf, 7 * leaf), (36 * leaf, leaf + 300), (0, len(data))]:
            status, got, headers = await node.get(pid, offset=offset, length=length, proof=1)
            assert status == 200
            leaves = int(headers["Geoshard-Leaf-Count"])
            assert leaves == 38
            proof = _split(headers["Geoshard-Merkle-Proof"])
            assert verify_range(root, offset // leaf, got, leaf, proof, leaves)
            # and a flipped byte in the served range would be caught
            bad = bytes([got[0] ^ 1]) + got[1:]
            assert not verify_range(root, offset // leaf, bad, leaf, proof, leaves)


async def test_unaligned_range_with_proof_is_refused(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        await node.put(pid, os.urandom(10_000), leaf_size=1024)
        status, body, _ = await node.get(pid, offset=100, length=1024, proof=1)
        assert status == 416 and b"leaf-aligned" in body


async def test_range_outside_piece_is_refused(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        await node.put(pid, os.urandom(1000))
        status, _body, _ = await node.get(pid, offset=900, length=200)
        assert status == 416


async def test_empty_piece_round_trips(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        status, body = await node.put(pid, b"")
        assert status == 200, body
        status, got, _ = await node.get(pid)
        assert status == 200 and got == b""


async def test_download_bytes_are_counted_per_serial_and_bounded(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        data = os.urandom(10_000)
        await node.put(pid, data)
        order = node.order(pid, Action.GET, max_bytes=6000)
        assert (await node.get(pid, order=order, offset=0, length=4000))[0] == 200
        assert node.peer.db.orders.served(order.message.serial) == 4000
        status, body, _ = await node.get(pid, order=order, offset=4000, length=4000)
        assert status == 403 and b"OrderLimitExceeded" in body
        assert (await node.get(pid, order=order, offset=4000, length=2000))[0] == 200
        assert node.peer.db.orders.served(order.message.serial) == 6000
        unsettled = node.peer.db.orders.unsettled()
        assert [(u.serial, u.bytes) for u in unsettled] == [(order.message.serial, 6000)]
        unsettled[0].order.verify(node.satellite.id)  # what a later settlement submits
        node.peer.db.orders.mark_settled([order.message.serial])
        assert node.peer.db.orders.unsettled() == []


async def test_used_space_equals_bytes_on_disk_after_puts(tmp_path):
    async with running_node(tmp_path) as node:
        for size in (0, 1, 1000, 65_536, 200_001):
            assert (await node.put(new_piece_id(), os.urandom(size)))[0] == 200
        usage = node.peer.store.usage()
        on_disk = files_on_disk(tmp_path)
        assert usage.used == sum(on_disk.values()) == node.used_on_disk()
        assert usage.piece_count == 5 and usage.reserved == 0
        assert not any(k.startswith("tmp") for k in on_disk)


async def test_info_names_node_and_satellite(tmp_path):
    async with running_node(tmp_path) as node:
        async with node.session.get(f"{node.url}/v1/info") as r:
            info = await r.json()
        assert info["node_id"] == node.node_id and info["satellite_id"] == node.satellite.id
        assert "version" in info and "identity" not in str(info).lower()


async def test_cold_and_hot_downloads_of_a_large_piece_are_byte_exact_and_hot_ones_use_sendfile(
    tmp_path, monkeypatch
):
    from storage_node.piecestore import endpoint

    sendfile_bytes = []
    real = endpoint.send_range

    async def counting(transport, fd, offset, count):
        n = await real(transport, fd, offset, count)
        sendfile_bytes.append(n)
        return n

    monkeypatch.setattr(endpoint, "send_range", counting)
    async with running_node(tmp_path) as node:
        data = os.urandom(5 * 2**20 + 333)
        pid = new_piece_id()
        assert (await node.put(pid, data))[0] == 200
        # Committed pieces leave the page cache: the first download reads from disk.
        status, got, _ = await node.get(pid)
        assert status == 200 and got == data
        # It left the piece cached: the next ones go by sendfile, across chunk boundaries.
        sendfile_bytes.clear()
        status, got, _ = await node.get(pid)
        assert status == 200 and got == data
        status, got, _ = await node.get(pid, offset=2**20 - 5, length=3 * 2**20 + 11)
        assert status == 200 and got == data[2**20 - 5 : 4 * 2**20 + 6]
        assert sum(sendfile_bytes) > 4 * 2**20


async def test_head_of_a_piece_sends_its_headers_no_body_and_owes_no_bytes(tmp_path):
    from storage_node.piecestore.verification import ORDER_HEADER, encode_order_header

    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        data = os.urandom(3 * 2**20)
        await node.put(pid, data)
        await node.get(pid)  # now cached: a GET would go by sendfile
        order = node.order(pid, Action.GET)
        headers = {ORDER_HEADER: encode_order_header(order)}
        async with node.session.head(f"{node.url}/v1/pieces/{pid}", headers=headers) as r:
            assert r.status == 200
            assert r.headers["Content-Length"] == str(len(data))
            assert await r.read() == b""
        assert node.peer.db.orders.served(order.message.serial) == 0
        # The connection is still in step: the next request on it gets its own answer.
        status, got, _ = await node.get(pid, offset=5, length=100)
        assert status == 200 and got == data[5:105]
