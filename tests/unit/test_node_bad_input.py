"""Every malformed, forged or misdirected request gets a 4xx with a clear message, and
nothing is written: no piece, no temp file, no change in used space."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
from pathlib import Path

import pytest

from common.identity import Identity
from common.messages import Action, RetainList, Signed, now
from storage_node.piecestore.verification import encode_order_header
from tests.node_fixtures import NodeHarness, files_on_disk, new_piece_id, running_node


def _nothing_stored(node: NodeHarness, data_dir: Path) -> None:
    assert files_on_disk(data_dir) == {}
    usage = node.peer.store.usage()
    assert usage.used == 0 and usage.reserved == 0 and usage.piece_count == 0


async def _refused(node: NodeHarness, tmp_path: Path, status: int, code: str, **kw) -> dict:
    pid = kw.pop("piece_id", None) or new_piece_id()
    got, body = await node.put(pid, kw.pop("data", os.urandom(5000)), **kw)
    assert got == status, body
    assert body["error"] == code and len(body["message"]) > 10
    _nothing_stored(node, tmp_path)
    return body


async def test_forged_order_signed_by_another_key(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        mallory = Identity.generate()
        # claims to be from our satellite, but signed by someone else
        forged = node.order(pid, signer=mallory)
        body = await _refused(node, tmp_path, 401, "InvalidSignature", piece_id=pid, order=forged)
        assert "signed by" in body["message"]
        # a real signature whose bytes were tampered with
        good = node.order(pid)
        tampered = Signed(good.message, good.signer, bytes([good.signature[0] ^ 1]) + good.signature[1:])
        await _refused(node, tmp_path, 401, "InvalidSignature", piece_id=pid, order=tampered)


async def test_expired_order(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        body = await _refused(
            node, tmp_path, 410, "OrderExpired", piece_id=pid, order=node.order(pid, expires_in=-5)
        )
        assert "expired" in body["message"]


async def test_order_for_another_node(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        other = node.order(pid, node_id=Identity.generate().id)
        body = await _refused(node, tmp_path, 403, "NotForThisNode", piece_id=pid, order=other)
        assert "not this node" in body["message"]


async def test_order_for_another_piece(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        await _refused(node, tmp_path, 403, "NotForThisNode", piece_id=pid, order=node.order(new_piece_id()))


async def test_wrong_action_on_upload_and_download(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        body = await _refused(
            node, tmp_path, 403, "WrongAction", piece_id=pid, order=node.order(pid, Action.GET)
        )
        assert "GET" in body["message"] and "PUT" in body["message"]
        await _refused(node, tmp_path, 403, "WrongAction", piece_id=pid, order=node.order(pid, Action.DELETE))
        assert (await node.put(pid, b"x" * 100))[0] == 200
        status, raw, _ = await node.get(pid, order=node.order(pid, Action.PUT))
        assert status == 403 and json.loads(raw)["error"] == "WrongAction"


async def test_replayed_serial_is_refused(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        order = node.order(pid)
        assert (await node.put(pid, b"a" * 100, order=order))[0] == 200
        before = files_on_disk(tmp_path)
        # same order, same piece: refused (the piece exists, and the serial is spent)
        status, body = await node.put(pid, b"b" * 100, order=order)
        assert status == 409
        # same serial for another piece id: the serial alone is enough to refuse
        pid2 = new_piece_id()
        status, body = await node.put(pid2, b"c" * 100, order=node.order(pid2, serial=order.message.serial))
        assert status == 409 and body["error"] == "SerialAlreadyUsed"
        assert files_on_disk(tmp_path) == before


async def test_replay_across_a_restart_is_refused(tmp_path):
    satellite = Identity.generate()
    pid = new_piece_id()
    async with running_node(tmp_path, satellite) as node:
        order = node.order(pid)
        # spend the serial on an upload of another piece, then restart the node
        other = new_piece_id()
        assert (await node.put(other, b"z" * 10, order=node.order(other, serial=order.message.serial)))[0] == 200
        before = files_on_disk(tmp_path)
    async with running_node(tmp_path, satellite) as node:
        status, body = await node.put(pid, b"y" * 10, order=order)
        assert status == 409 and body["error"] == "SerialAlreadyUsed"
        assert files_on_disk(tmp_path) == before
        assert node.peer.store.usage().piece_count == 1


async def test_body_over_the_order_limit(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        body = await _refused(
            node, tmp_path, 413, "BodyTooLarge", piece_id=pid, data=b"x" * 1001,
            order=node.order(pid, max_bytes=1000),
        )
        assert "1000" in body["message"]
        # a refusal before streaming does not spend the piece id: an upload within the limit works
        assert (await node.put(pid, b"x" * 1000, order=node.order(pid, max_bytes=1000)))[0] == 200


async def test_over_capacity_is_refused_with_507(tmp_path):
    async with running_node(tmp_path, capacity=10_000) as node:
        await _refused(node, tmp_path, 507, "InsufficientSpace", data=os.urandom(20_000))


async def test_existing_piece_is_refused(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        assert (await node.put(pid, b"first"))[0] == 200
        status, body = await node.put(pid, b"second")
        assert status == 409 and body["error"] == "PieceExists"
        assert (await node.get(pid))[1] == b"first"


async def _raw_upload(node: NodeHarness, pid: str, declared: int, sent: bytes, half_close: bool) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", node.peer.server.port)
    head = (
        f"PUT /v1/pieces/{pid} HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n"
        f"Geoshard-Order-Limit: {encode_order_header(node.order(pid))}\r\nGeoshard-Leaf-Size: 1024\r\n\r\n"
    )
    writer.write(head.encode() + sent)
    await writer.drain()
    await asyncio.sleep(0.1)  # let the node start streaming the body
    if half_close:
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), 5)
    else:
        answer = b""
    writer.close()
    return answer


async def _settled(node: NodeHarness) -> None:
    for _ in range(100):
        if node.peer.store.usage().reserved == 0:
            return
        await asyncio.sleep(0.02)


async def test_body_shorter_than_declared_leaves_nothing(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="storage_node.piecestore.errors")
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        # the client half-closes; aiohttp drops such a connection, so the 400 is not
        # readable by the client, but the node must have refused the upload as incomplete
        await _raw_upload(node, pid, 100_000, os.urandom(40_000), half_close=True)
        await _settled(node)
        assert "refused (IncompleteBody)" in caplog.text and "40000 of 100000" in caplog.text
        _nothing_stored(node, tmp_path)
        assert (await node.get(pid))[0] == 404


async def test_client_disconnect_mid_upload_leaves_nothing(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="storage_node.piecestore.errors")
    async with running_node(tmp_path) as node:
        keep = new_piece_id()
        assert (await node.put(keep, b"k" * 5000))[0] == 200
        used = node.peer.store.usage().used
        before = files_on_disk(tmp_path)
        pid = new_piece_id()
        await _raw_upload(node, pid, 3_000_000, os.urandom(1_500_000), half_close=False)
        await _settled(node)
        assert node.peer.store.usage().used == used and node.peer.store.usage().reserved == 0
        assert files_on_disk(tmp_path) == before  # no partial file, in tmp/ or elsewhere
        assert "refused (IncompleteBody)" in caplog.text
        assert (await node.get(pid))[0] == 404
        assert (await node.put(new_piece_id(), b"still works"))[0] == 200


@pytest.mark.parametrize(
    "bad_id",
    [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "..",
        "ABCDEF" + "0" * 58,  # upper case
        "0" * 63,
        "0" * 65,
        "g" * 64,
        "%00" + "0" * 61,
    ],
)
async def test_traversal_and_malformed_piece_ids(tmp_path, bad_id):
    async with running_node(tmp_path) as node:
        order = node.order(new_piece_id())
        h = {"Geoshard-Order-Limit": encode_order_header(order), "Geoshard-Leaf-Size": "1024"}
        url = f"{node.url}/v1/pieces/{bad_id}"
        async with node.session.put(url, data=b"x" * 10, headers=h) as r:
            assert r.status in (400, 404), await r.text()
            body = await r.json()
            assert body["error"] in ("InvalidPieceId", "NotFound")
        async with node.session.get(url, headers=h) as r:
            assert r.status in (400, 404)
        _nothing_stored(node, tmp_path)
        assert not (tmp_path.parent / "etc").exists()


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ("!!!not base64!!!", "not valid base64"),
        (base64.b64encode(b"{not json").decode(), "does not decode to JSON"),
        (base64.b64encode(b'{"message": {}}').decode(), "must be an object with message"),
        (base64.b64encode(b"[1, 2]").decode(), "must be an object"),
        ("", "is required"),
    ],
)
async def test_malformed_order_headers(tmp_path, header, needle):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        h = {"Geoshard-Order-Limit": header} if header else {}
        h["Geoshard-Leaf-Size"] = "1024"
        async with node.session.put(f"{node.url}/v1/pieces/{pid}", data=b"x" * 10, headers=h) as r:
            body = await r.json()
            assert r.status == 400 and needle in body["message"], body
        _nothing_stored(node, tmp_path)


async def test_malformed_order_message_fields(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        env = node.order(pid).to_json()
        env["message"]["max_bytes"] = "lots"
        raw = base64.b64encode(json.dumps(env).encode()).decode()
        h = {"Geoshard-Order-Limit": raw, "Geoshard-Leaf-Size": "1024"}
        async with node.session.put(f"{node.url}/v1/pieces/{pid}", data=b"x", headers=h) as r:
            body = await r.json()
            assert r.status == 400 and body["error"] == "MalformedMessage" and "max_bytes" in body["message"]
        _nothing_stored(node, tmp_path)


@pytest.mark.parametrize("leaf", ["abc", "100", "32", "131072", "-64"])
async def test_bad_leaf_size(tmp_path, leaf):
    async with running_node(tmp_path) as node:
        body = await _refused(node, tmp_path, 400, "BadRequest", headers={"Geoshard-Leaf-Size": leaf})
        assert "Geoshard-Leaf-Size" in body["message"]


async def test_upload_without_content_length(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()

        async def gen():
            yield b"x" * 100

        h = {"Geoshard-Order-Limit": encode_order_header(node.order(pid)), "Geoshard-Leaf-Size": "1024"}
        async with node.session.put(f"{node.url}/v1/pieces/{pid}", data=gen(), headers=h) as r:
            body = await r.json()
            assert r.status == 400 and "Content-Length" in body["message"]
        _nothing_stored(node, tmp_path)


async def test_retain_list_not_signed_by_the_satellite(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        assert (await node.put(pid, b"keep me"))[0] == 200
        before = files_on_disk(tmp_path)
        mallory = Identity.generate()
        # an empty filter would trash everything, if it were believed
        evil = RetainList(
            satellite_id=node.satellite.id, node_id=node.node_id,
            created_before=now() + 100, hash_count=1, bloom=b"\0" * 8,
        )
        for signed in (Signed.sign(mallory, evil),
                       Signed.sign(node.satellite, RetainList(**{**evil.__dict__, "node_id": mallory.id}))):
            async with node.session.post(f"{node.url}/v1/retain", data=signed.dumps()) as r:
                body = await r.json()
                assert r.status in (401, 403) and body["message"], body
        await node.peer.retain.wait_idle()
        assert files_on_disk(tmp_path) == before
        assert (await node.get(pid))[1] == b"keep me"


@pytest.mark.parametrize("path", ["/v1/audit", "/v1/retain"])
@pytest.mark.parametrize("payload", [b"", b"{nope", b'{"message": 1, "signer": 2, "signature": 3}', b"[]"])
async def test_malformed_json_bodies(tmp_path, path, payload):
    async with running_node(tmp_path) as node, node.session.post(f"{node.url}{path}", data=payload) as r:
        body = await r.json()
        assert r.status == 400 and body["error"] in ("BadRequest", "MalformedMessage"), body
