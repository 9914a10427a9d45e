"""Audits, retain lists, trash, TTL expiry and used-space accounting on a real node."""

from __future__ import annotations

import asyncio
import os
import secrets
import time

from common.identity import Identity
from common.messages import Action, AuditChallenge, AuditProof, PieceReceipt, RetainList, Signed, now
from common.retain import build_retain_filter
from erasure.merkle import leaf_count, verify_proof
from tests.node_fixtures import NodeHarness, files_on_disk, new_piece_id, running_node


def _challenge(node: NodeHarness, pid: str, indexes: tuple[int, ...], expires_in: int = 30,
               signer: Identity | None = None) -> Signed[AuditChallenge]:
    c = AuditChallenge(
        satellite_id=node.satellite.id, node_id=node.node_id, piece_id=pid,
        leaf_indexes=indexes, nonce=secrets.token_bytes(16), expires=now() + expires_in,
    )
    return Signed.sign(signer or node.satellite, c)


async def _audit(node: NodeHarness, signed: Signed[AuditChallenge]) -> tuple[int, dict]:
    async with node.session.post(f"{node.url}/v1/audit", data=signed.dumps()) as r:
        return r.status, await r.json()


async def test_audit_proof_verifies_against_the_receipt_root(tmp_path):
    async with running_node(tmp_path) as node:
        leaf = 256
        data = os.urandom(leaf * 1000 + 17)
        pid = new_piece_id()
        _, body = await node.put(pid, data, leaf_size=leaf)
        root = Signed.from_json(body["receipt"], PieceReceipt).verify(node.node_id).merkle_root
        n = leaf_count(len(data), leaf)
        indexes = (0, 1, 499, 999, 1000)
        challenge = _challenge(node, pid, indexes)
        status, body = await _audit(node, challenge)
        assert status == 200, body
        proof = Signed.from_json(body, AuditProof).verify(node.node_id)
        assert proof.nonce == challenge.message.nonce and proof.leaf_indexes == indexes
        for i, leaf_bytes, path in zip(proof.leaf_indexes, proof.leaves, proof.proofs, strict=True):
            assert leaf_bytes == data[i * leaf : (i + 1) * leaf]
            assert len(path) <= 11  # O(log n), not the piece
            assert verify_proof(root, i, leaf_bytes, path, n)
        assert not verify_proof(root, 1, proof.leaves[0], proof.proofs[1], n)


async def test_audit_of_a_missing_piece_is_404(tmp_path):
    async with running_node(tmp_path) as node:
        status, body = await _audit(node, _challenge(node, new_piece_id(), (0,)))
        assert status == 404 and body["error"] == "PieceNotFound" and "not stored" in body["message"]


async def test_audit_refuses_forged_and_out_of_range_challenges(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        await node.put(pid, os.urandom(4096), leaf_size=1024)
        assert (await _audit(node, _challenge(node, pid, (0,), signer=Identity.generate())))[0] == 401
        # The satellite's clock rules an audit's expiry (it times the answer); a node whose
        # clock runs an hour fast must still answer, not fail the audit.
        assert (await _audit(node, _challenge(node, pid, (0,), expires_in=-3600)))[0] == 200
        status, body = await _audit(node, _challenge(node, pid, (4,)))
        assert status == 416 and "4 leaves" in body["message"]


async def _retain(node: NodeHarness, keep: list[str], created_before: int) -> int:
    # A false-positive rate low enough that no random piece id of a test is ever spared:
    # the counts below are then exact instead of "at least".
    bloom = build_retain_filter(keep, false_positive_rate=1e-9)
    r = RetainList(
        satellite_id=node.satellite.id, node_id=node.node_id, created_before=created_before,
        hash_count=bloom.hash_count, bloom=bytes(bloom.bits), piece_count=len(keep),
    )
    async with node.session.post(f"{node.url}/v1/retain", data=Signed.sign(node.satellite, r).dumps()) as resp:
        assert resp.status == 202, await resp.text()
    await node.peer.retain.wait_idle()
    assert node.peer.retain.last is not None
    return node.peer.retain.last.trashed


async def test_retain_trash_purge_keeps_accounting_equal_to_disk(tmp_path):
    # chores stepped by hand below; the running loop is covered by the next test
    async with running_node(tmp_path, trash_grace=3600, chore_interval=3600) as node:
        store = node.peer.store
        keep = [new_piece_id() for _ in range(20)]
        drop = [new_piece_id() for _ in range(20)]
        for pid in keep + drop:
            assert (await node.put(pid, os.urandom(3000)))[0] == 200
        assert store.usage().used == node.used_on_disk() == sum(files_on_disk(tmp_path).values())

        # a piece uploaded after the list was built is not in it, and must survive
        late = new_piece_id()
        cutoff = now() + 1  # every piece above was created before this second
        while now() < cutoff:
            await asyncio.sleep(0.02)
        assert (await node.put(late, b"late"))[0] == 200

        trashed = await _retain(node, keep, cutoff)
        # no false negatives: every kept piece survives, and every dropped one is trashed
        assert trashed == len(drop)
        for pid in [*keep, late]:
            assert (await node.get(pid))[0] == 200
        usage = store.usage()
        assert usage.trash_count == trashed and usage.piece_count == 41 - trashed
        assert usage.used == node.used_on_disk() == sum(files_on_disk(tmp_path).values())

        # within the grace period the trash chore keeps everything
        assert await node.peer.trash.run_once() == 0
        node.peer.trash.grace = 0
        assert await node.peer.trash.run_once() == trashed
        usage = store.usage()
        assert usage.trash == 0 and usage.trash_count == 0
        assert usage.used == node.used_on_disk() == sum(files_on_disk(tmp_path).values())
        assert not any(k.startswith("trash/") for k in files_on_disk(tmp_path))


async def test_trash_is_emptied_by_the_running_chore_after_the_grace_period(tmp_path):
    async with running_node(tmp_path, trash_grace=0.2, chore_interval=0.05) as node:
        pid = new_piece_id()
        await node.put(pid, b"garbage" * 100)
        assert await _retain(node, [new_piece_id()], now() + 5) == 1
        assert node.peer.store.usage().trash_count == 1
        for _ in range(100):
            if node.peer.store.usage().trash_count == 0:
                break
            await asyncio.sleep(0.05)
        assert node.peer.store.usage().trash_count == 0
        assert files_on_disk(tmp_path) == {}


async def test_ttl_expired_pieces_are_deleted_by_the_chore(tmp_path):
    async with running_node(tmp_path, chore_interval=3600) as node:
        short, forever = new_piece_id(), new_piece_id()
        t = now()
        order = node.order(short, piece_expires=t + 2)
        assert (await node.put(short, b"s" * 500, order=order))[0] == 200
        assert (await node.put(forever, b"f" * 500))[0] == 200
        assert node.peer.store.header(short).expires == t + 2
        assert node.peer.expiry.run_once(at=t + 1) == 0
        assert node.peer.expiry.run_once(at=t + 2) == 1
        assert (await node.get(short))[0] == 404
        assert (await node.get(forever))[0] == 200
        assert node.peer.store.usage().used == node.used_on_disk() == sum(files_on_disk(tmp_path).values())


async def test_upload_with_piece_expiry_in_the_past_is_refused(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        status, _body = await node.put(pid, b"x", order=node.order(pid, piece_expires=now() - 1))
        assert status == 410 and files_on_disk(tmp_path) == {}


async def test_audit_and_repair_downloads_are_kept_as_paid_egress(tmp_path):
    async with running_node(tmp_path) as node:
        pid = new_piece_id()
        await node.put(pid, b"r" * 2000, order=node.order(pid, Action.REPAIR_PUT))
        for action in (Action.REPAIR_GET, Action.AUDIT):
            status, got, _ = await node.get(pid, order=node.order(pid, action))
            assert status == 200 and got == b"r" * 2000
        # repair and audit downloads are egress the satellite pays for, each at its own rate
        paid = sorted(u.order.message.action.value for u in node.peer.db.orders.unsettled())
        assert paid == [Action.AUDIT.value, Action.REPAIR_GET.value]


async def test_used_space_survives_a_restart(tmp_path):
    satellite = Identity.generate()
    async with running_node(tmp_path, satellite) as node:
        for _ in range(5):
            await node.put(new_piece_id(), os.urandom(7777))
        await _retain(node, [], now() + 5)
        used = node.peer.store.usage()
    async with running_node(tmp_path, satellite) as node:
        assert node.peer.store.usage() == used
        assert used.used == sum(files_on_disk(tmp_path).values())


async def test_a_piece_moved_to_the_trash_is_never_emptied_before_its_grace_period(tmp_path, monkeypatch):
    """The trash chore runs in its own thread: it may look at the trash right after the retain
    chore moved a piece there. The piece must already carry the time of the move (not its
    upload's), or it is deleted at once with no grace period and the move fails."""
    async with running_node(tmp_path, trash_grace=3600, chore_interval=3600) as node:
        store = node.peer.store
        pid = new_piece_id()
        assert (await node.put(pid, os.urandom(3000)))[0] == 200
        uploaded_long_ago = time.time() - 7200  # older than the grace period
        os.utime(store.path(pid), (uploaded_long_ago, uploaded_long_ago))

        real_replace, emptied = os.replace, []

        def replace_then_trash_chore(src, dst):  # the chore's thread wins the race right after the move
            real_replace(src, dst)
            emptied.append(store.empty_trash(time.time() - 3600))

        monkeypatch.setattr(os, "replace", replace_then_trash_chore)
        assert store.trash(pid)
        monkeypatch.undo()
        assert emptied == [0] and store.trash_path(pid).exists()
        assert store.restore(pid) and (await node.get(pid))[0] == 200
        assert store.usage().used == node.used_on_disk()
