"""Batched audits (``POST /v1/audit/batch``) against real storage-node peers, on SQLite and PostgreSQL.

A group asks each node for all its drawn pieces in one request; each piece is still judged
on its own: one wrong proof or one missing piece fails that piece only, while what concerns
the whole exchange (no connection, a forged or replayed answer, a timeout) applies to every
piece of the batch — a timeout once. Cheating answers come from a proxy in front of a real
node, re-signed with the node's own key, so every lie is one a cheater could really send.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from common.audit_batch import AuditBatchChallenge, AuditBatchProof
from common.errors import MessageError
from common.identity import Identity
from common.messages import Signed
from satellite.audit import PieceRef, StepKind
from satellite.reputation import Outcome
from tests.audit_fixtures import AuditWorld, StoredPiece, audit_world
from tests.integration.test_audit import _closed_port, node_row, results, set_address
from tests.loopback import serve_on_loopback
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

Mangle = Callable[[Signed[AuditBatchChallenge], bytes], Awaitable[tuple[int, bytes]]]


@contextlib.asynccontextmanager
async def batch_proxy(node_url: str, mangle: Mangle, seen: list[str] | None = None) -> AsyncIterator[str]:
    """A node front that forwards batch challenges to the real node and may lie about the answer;
    ``seen`` gets the path of every audit request that reached it."""
    async with aiohttp.ClientSession() as session:

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            if seen is not None:
                seen.append(request.path)
            async with session.post(f"{node_url}{request.path}", data=body) as r:
                answer = await r.read()
            if request.path != "/v1/audit/batch":
                return web.Response(status=r.status, body=answer, content_type="application/json")
            status, out = await mangle(Signed.loads(body, AuditBatchChallenge), answer)
            return web.Response(status=status, body=out, content_type="application/json")

        app = web.Application()
        app.router.add_post("/v1/audit", forward)
        app.router.add_post("/v1/audit/batch", forward)
        async with serve_on_loopback(app) as url:
            yield url


async def honest(c: Signed[AuditBatchChallenge], answer: bytes) -> tuple[int, bytes]:
    return 200, answer


async def audit_node(world: AuditWorld, pieces: list[StoredPiece], **chore: object) -> dict[str, tuple[Outcome, str]]:
    """Audit exactly these pieces (of one node) in one group through the chore's own path."""
    ch = world.chore(batch=len(pieces), **chore)  # type: ignore[arg-type]
    ch._queue = [PieceRef(p.segment_id, p.number, p.node_id, p.size) for p in pieces]
    try:
        assert await ch.step() is StepKind.AUDITED
        assert not ch._queue, "the whole batch went in one group"
        return {d.target.piece_id: (d.outcome, d.reason) for d in ch.last}
    finally:
        await ch.close()


async def one_node(world: AuditWorld, count: int) -> list[StoredPiece]:
    pieces = await world.add_segments(count)
    node_id = pieces[0].node_id
    return [p for p in pieces if p.node_id == node_id]


async def test_a_group_asks_each_node_once_for_all_its_pieces(db, tmp_path) -> None:  # noqa: F811
    async with audit_world(db, tmp_path, nodes=4) as world:
        pieces = await world.add_segments(5)  # five pieces on each of four nodes
        seen: dict[str, list[str]] = {}
        async with contextlib.AsyncExitStack() as stack:
            for n in world.nodes:
                seen[n.node_id] = []
                url = await stack.enter_async_context(batch_proxy(n.url, honest, seen[n.node_id]))
                await set_address(world, n.node_id, url)
            chore = world.chore(reservoir_size=100, batch=16, concurrency=4)
            done = await chore.run_pass()
            await chore.close()
        assert len(done) == len(pieces) and {d.outcome for d in done} == {Outcome.SUCCESS}, [d.reason for d in done]
        assert all(paths == ["/v1/audit/batch"] for paths in seen.values()), seen
        for n in world.nodes:
            assert (await node_row(world, n.node_id)).audit_success_count == 5


async def test_one_wrong_proof_in_a_batch_fails_only_that_piece(db, tmp_path) -> None:  # noqa: F811
    async with audit_world(db, tmp_path, nodes=4) as world:
        mine = await one_node(world, 4)
        node = world.node(mine[0].node_id)
        bad = mine[2].piece_id

        async def tamper_one(c: Signed[AuditBatchChallenge], answer: bytes) -> tuple[int, bytes]:
            proof = Signed.loads(answer, AuditBatchProof).message
            i = proof.piece_ids.index(bad)
            leaf = proof.leaves[i][0]
            leaves = list(proof.leaves)
            leaves[i] = (bytes([leaf[0] ^ 1]) + leaf[1:], *proof.leaves[i][1:])
            forged = dataclasses.replace(proof, leaves=tuple(leaves))
            return 200, Signed.sign(node.peer.identity, forged).dumps().encode()

        async with batch_proxy(node.url, tamper_one) as url:
            await set_address(world, node.node_id, url)
            got = await audit_node(world, mine)
        assert got[bad][0] is Outcome.FAILURE and "does not verify" in got[bad][1]
        assert {got[p.piece_id][0] for p in mine if p.piece_id != bad} == {Outcome.SUCCESS}
        rs = await results(world, node.node_id)
        assert sorted(r.outcome for r in rs) == ["failure", "success", "success", "success"]
        assert next(r for r in rs if r.outcome == "failure").piece_id == bad


async def test_a_missing_piece_in_a_batch_fails_only_that_piece(db, tmp_path) -> None:  # noqa: F811
    async with audit_world(db, tmp_path, nodes=4) as world:
        mine = await one_node(world, 3)
        world.delete_from_disk(mine[1])
        got = await audit_node(world, mine)
        assert got[mine[1].piece_id][0] is Outcome.FAILURE and "piece missing" in got[mine[1].piece_id][1]
        assert got[mine[0].piece_id][0] is got[mine[2].piece_id][0] is Outcome.SUCCESS


async def test_a_batch_to_an_offline_node_is_one_offline_audit_and_its_other_pieces_wait(db, tmp_path) -> None:  # noqa: F811
    async with audit_world(db, tmp_path, nodes=4) as world:
        mine = await one_node(world, 3)
        await set_address(world, mine[0].node_id, f"http://127.0.0.1:{_closed_port()}")
        got = await audit_node(world, mine)
        assert list(got.values()) == [(Outcome.OFFLINE, got[mine[0].piece_id][1])]  # one exchange, one observation
        rep = await world.repo.standing(mine[0].node_id)
        assert rep is not None and rep[1].offline_count == 1 and rep[1].audit_score == 1.0


async def test_a_batch_refused_with_503_is_one_unknown_not_one_per_piece(db, tmp_path) -> None:  # noqa: F811
    async with audit_world(db, tmp_path, nodes=4) as world:
        mine = await one_node(world, 4)

        async def busy(c: Signed[AuditBatchChallenge], answer: bytes) -> tuple[int, bytes]:
            return 503, b'{"error": "Busy", "message": "try later"}'

        async with batch_proxy(world.node(mine[0].node_id).url, busy) as url:
            await set_address(world, mine[0].node_id, url)
            got = await audit_node(world, mine)
        assert [o for o, _ in got.values()] == [Outcome.UNKNOWN]
        rep = await world.repo.standing(mine[0].node_id)
        assert rep is not None and rep[1].unknown_count == 1


async def test_a_node_without_the_batch_endpoint_is_audited_one_piece_at_a_time(db, tmp_path) -> None:  # noqa: F811
    async with audit_world(db, tmp_path, nodes=4) as world:
        mine = await one_node(world, 3)
        node = world.node(mine[0].node_id)
        seen: list[str] = []
        async with aiohttp.ClientSession() as session:

            async def single(request: web.Request) -> web.Response:  # an older release: no /v1/audit/batch
                seen.append(request.path)
                async with session.post(f"{node.url}{request.path}", data=await request.read()) as r:
                    return web.Response(status=r.status, body=await r.read(), content_type="application/json")

            app = web.Application()
            app.router.add_post("/v1/audit", single)
            async with serve_on_loopback(app) as url:
                await set_address(world, node.node_id, url)
                got = await audit_node(world, mine)
        assert [o for o, _ in got.values()] == [Outcome.SUCCESS] * 3
        assert seen == ["/v1/audit"] * 3


async def test_a_forged_or_replayed_batch_answer_fails_every_piece(db, tmp_path) -> None:  # noqa: F811
    async with audit_world(db, tmp_path, nodes=4, audit_lambda=0.999, audit_initial_alpha=1000.0) as world:
        mine = await one_node(world, 2)
        node = world.node(mine[0].node_id)

        def resign(identity: Identity, answer: bytes, **changes: object) -> bytes:
            proof = Signed.loads(answer, AuditBatchProof).message
            return Signed.sign(identity, dataclasses.replace(proof, **changes)).dumps().encode()  # type: ignore[arg-type]

        async def garbage(c: Signed[AuditBatchChallenge], answer: bytes) -> tuple[int, bytes]:
            return 200, os.urandom(300)

        async def other_key(c: Signed[AuditBatchChallenge], answer: bytes) -> tuple[int, bytes]:
            return 200, resign(Identity.generate(), answer)

        async def stale_nonce(c: Signed[AuditBatchChallenge], answer: bytes) -> tuple[int, bytes]:
            return 200, resign(node.peer.identity, answer, nonce=os.urandom(32))

        async def reordered(c: Signed[AuditBatchChallenge], answer: bytes) -> tuple[int, bytes]:
            p = Signed.loads(answer, AuditBatchProof).message
            flip = {
                f: tuple(reversed(getattr(p, f))) for f in ("piece_ids", "leaf_indexes", "errors", "leaves", "proofs")
            }
            return 200, resign(node.peer.identity, answer, **flip)

        expect = {
            garbage: "not a signed audit batch proof",
            other_key: "not by the audited node",
            stale_nonce: "nonce",
            reordered: "pieces and leaves the batch asked for",
        }
        for mangle, why in expect.items():
            async with batch_proxy(node.url, mangle) as url:
                await set_address(world, node.node_id, url)
                got = await audit_node(world, mine)
            assert all(o is Outcome.FAILURE and why in r for o, r in got.values()), (mangle.__name__, got)


async def test_a_batch_that_times_out_contains_the_node_once(db, tmp_path) -> None:  # noqa: F811
    async with audit_world(db, tmp_path, nodes=4) as world:
        mine = await one_node(world, 3)
        node = world.node(mine[0].node_id)

        async def hang(c: Signed[AuditBatchChallenge], answer: bytes) -> tuple[int, bytes]:
            await asyncio.sleep(1.5)
            return 200, answer

        async with batch_proxy(node.url, hang) as url:
            await set_address(world, node.node_id, url)
            got = await audit_node(world, mine, timeout=0.3)
        (only,) = got.values()  # the other pieces wait for later passes
        assert only[0] is Outcome.CONTAINED
        rs = await results(world, node.node_id)
        assert [r.outcome for r in rs] == ["contained"]
        rep = await world.repo.standing(node.node_id)
        assert rep is not None and rep[1].timeout_count == 1 and rep[2] is not None
        assert rep[2].piece_id == rs[0].piece_id  # the pending challenge is that piece's
        assert (await node_row(world, node.node_id)).contained_at is not None


def test_a_batch_challenge_names_each_piece_once_with_its_own_leaves() -> None:
    sat, node = Identity.generate(), Identity.generate()
    ok = dict(satellite_id=sat.id, node_id=node.id, piece_ids=("a" * 64, "b" * 64), leaf_indexes=((0, 1), (2,)),
              nonce=os.urandom(32), expires=0)  # fmt: skip
    Signed.sign(sat, AuditBatchChallenge(**ok))  # type: ignore[arg-type]
    for bad, why in (
        ({"piece_ids": ("a" * 64, "a" * 64)}, "each piece once"),
        ({"leaf_indexes": ((0,),)}, "one tuple of leaf indexes per piece"),
        ({"leaf_indexes": ((0,), ())}, "asks for 0 leaves"),
        ({"piece_ids": (), "leaf_indexes": ()}, "1 to 64 pieces"),
        ({"nonce": b"short"}, "nonce"),
    ):
        with pytest.raises(MessageError, match=why):
            Signed.sign(sat, AuditBatchChallenge(**{**ok, **bad}))  # type: ignore[arg-type]
