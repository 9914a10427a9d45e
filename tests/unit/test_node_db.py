"""The node's order archive: download byte counting per serial, one upsert per download."""

from __future__ import annotations

import pytest

from common.identity import Identity
from common.messages import Action, OrderLimit, Signed, new_serial, now
from storage_node.errors import OrderLimitExceeded, SerialAlreadyUsed
from storage_node.nodedb import NodeDB
from tests.node_fixtures import new_piece_id

SATELLITE, NODE = Identity.generate(), Identity.generate()


def _order(action: Action = Action.GET, max_bytes: int = 1000, serial: str | None = None,
           piece_id: str | None = None) -> Signed[OrderLimit]:
    t = now()
    limit = OrderLimit(serial or new_serial(), SATELLITE.id, NODE.id, piece_id or new_piece_id(),
                       action, max_bytes, t + 600, t)
    return Signed.sign(SATELLITE, limit)


def test_downloads_add_up_to_max_bytes_and_no_further(tmp_path):
    db = NodeDB(tmp_path / "node.db")
    order = _order(max_bytes=1000)
    serial = order.message.serial
    db.orders.reserve_download(order, 600)
    db.orders.reserve_download(order, 400)
    assert db.orders.served(serial) == 1000
    with pytest.raises(OrderLimitExceeded, match="1000 already served"):
        db.orders.reserve_download(order, 1)
    assert db.orders.served(serial) == 1000  # a refused download counts nothing
    db.orders.refund_download(serial, 300)
    db.orders.reserve_download(order, 300)
    assert db.orders.served(serial) == 1000
    assert [s.bytes for s in db.orders.unsettled()] == [1000]


def test_a_first_download_above_max_bytes_records_nothing(tmp_path):
    db = NodeDB(tmp_path / "node.db")
    order = _order(max_bytes=10)
    with pytest.raises(OrderLimitExceeded):
        db.orders.reserve_download(order, 11)
    assert not db.orders.is_used(order.message.serial)


def test_a_serial_is_not_shared_across_pieces_or_with_an_upload(tmp_path):
    db = NodeDB(tmp_path / "node.db")
    get = _order()
    other_piece = _order(serial=get.message.serial)
    db.orders.reserve_download(get, 10)
    with pytest.raises(SerialAlreadyUsed):
        db.orders.reserve_download(other_piece, 10)
    put = _order(Action.PUT)
    db.orders.use_upload_serial(put, 100)
    with pytest.raises(SerialAlreadyUsed):
        db.orders.reserve_download(_order(serial=put.message.serial, piece_id=put.message.piece_id), 10)
    assert db.orders.served(get.message.serial) == 10
