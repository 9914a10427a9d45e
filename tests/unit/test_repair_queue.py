"""The repair queue and checker over a real database (SQLite and PostgreSQL), no nodes needed:
ordering by closeness to loss, claims and their expiry, concurrent claimers, the checker's
batched pass, and the health rule itself."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from common.identity import Identity
from erasure import RedundancyScheme
from satellite.db.models import Bucket, Node, ObjectRow, PieceRow, PlacementPolicyRow, SegmentRow, Tenant
from satellite.db.nodes import NodeRepository
from satellite.nodeselection import NodeCandidate, PlacementPolicy
from satellite.repair import PieceState, RepairChecker, RepairQueue, RepairReason, segment_health
from satellite.repair.queue import QueueEntry
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

# One fixed clock for the whole module: the checker is told this time, so how long the
# suite takes before a test runs never makes its nodes look offline.
NOW = dt.datetime.now(dt.UTC)


def _node(country: str, region: str = "eu", **kw: object) -> NodeCandidate:
    base = dict(id=Identity.generate().id, address="http://x", country=country, region=region, net="10.0.0",
                free_bytes=1, vetted=True, last_contact=time.time())  # fmt: skip
    base.update(kw)
    return NodeCandidate(**base)  # type: ignore[arg-type]


def test_health_counts_only_online_good_standing_in_policy_pieces() -> None:
    eu = PlacementPolicy("eu", RedundancyScheme.parse("2/3/4/5"), allowed_regions=frozenset({"eu"}))
    ok, us, dq, off, ex = _node("DE"), _node("US", "na"), _node("FR", disqualified=True), \
        _node("NL", last_contact=time.time() - 1000), _node("DE", exiting=True)  # fmt: skip
    nodes = {n.id: n for n in (ok, us, dq, off, ex)}
    pieces = [(0, ok.id), (1, us.id), (2, dq.id), (3, off.id), (4, ex.id), (5, "gone")]
    h = segment_health(pieces, nodes, eu, k=2, repair_threshold=3, now=time.time(), online_window=60)
    assert h.states == {0: PieceState.HEALTHY, 1: PieceState.OUT_OF_POLICY, 2: PieceState.DISQUALIFIED,
                        3: PieceState.OFFLINE, 4: PieceState.EXITING, 5: PieceState.UNKNOWN_NODE}  # fmt: skip
    assert h.healthy == [0] and h.margin == -1 and h.reason is RepairReason.LOST
    four = [(i, _node("DE").id) for i in range(4)]
    nodes4 = {**nodes, **{n: _node("DE", id=n) for _, n in four}}
    h = segment_health(four, nodes4, eu, k=2, repair_threshold=3, now=time.time(), online_window=60)
    assert h.reason is None
    h = segment_health([*four, (4, us.id)], nodes4, eu, k=2, repair_threshold=3, now=time.time(), online_window=60)
    assert h.reason is RepairReason.OUT_OF_POLICY
    h = segment_health(four[:3], nodes4, eu, k=2, repair_threshold=3, now=time.time(), online_window=60)
    assert h.reason is RepairReason.BELOW_THRESHOLD
    # A piece on a disqualified node is replaced even while the segment is above threshold.
    h = segment_health([*four, (4, dq.id)], nodes4, eu, k=2, repair_threshold=3, now=time.time(), online_window=60)
    assert len(h.healthy) == 4 and h.reason is RepairReason.DISQUALIFIED


async def test_jobs_come_out_closest_to_loss_first_and_a_claim_expires(db) -> None:  # noqa: F811
    q = RepairQueue(db)
    await q.push([QueueEntry(1, 5, 3, "out_of_policy"), QueueEntry(2, 3, 1, "below_threshold"),
                  QueueEntry(3, 2, 0, "below_threshold")], NOW)  # fmt: skip
    assert [j.segment_id for j in await q.jobs()] == [3, 2, 1]
    first = await q.claim("w1", NOW, 60)
    assert first is not None and first.segment_id == 3 and first.attempts == 1
    # The checker refreshing a claimed job leaves the claim alone.
    await q.push([QueueEntry(3, 2, 0, "below_threshold")], NOW)
    assert (await q.claim("w2", NOW, 60)).segment_id == 2  # type: ignore[union-attr]
    assert (await q.claim("w2", NOW, 60)).segment_id == 1  # type: ignore[union-attr]
    assert await q.claim("w2", NOW, 60) is None
    await q.finish(1, "w2")
    await q.finish(2, "w2")
    # w1 died: its claim on 3 comes back once the timeout has passed, with the attempt counted.
    again = await q.claim("w3", NOW + dt.timedelta(seconds=61), 60)
    assert again is not None and again.segment_id == 3 and again.attempts == 2
    # A failure releases the worker but keeps claimed_at: retried after the timeout (backoff).
    await q.fail(3, "w3", "boom", NOW + dt.timedelta(seconds=61))
    assert await q.claim("w4", NOW + dt.timedelta(seconds=62), 60) is None
    later = await q.claim("w4", NOW + dt.timedelta(seconds=200), 60)
    assert later is not None and later.segment_id == 3
    assert (await q.stats()) == {"queued": 1, "claimed": 1, "with_errors": 1}
    await q.finish(3, "w4")
    assert await q.jobs() == []


async def test_concurrent_claimers_never_take_the_same_job(db, db_backend) -> None:  # noqa: F811
    q = RepairQueue(db)
    await q.push([QueueEntry(i, 3, 1, "below_threshold") for i in range(1, 41)], NOW)
    claimed: list[int] = []

    async def worker(name: str) -> None:
        while (job := await q.claim(name, NOW, 3600)) is not None:
            claimed.append(job.segment_id)

    await asyncio.gather(*(worker(f"w{i}") for i in range(8)))
    assert sorted(claimed) == list(range(1, 41))


async def _populate(db, nodes: list[Node], segments: int) -> tuple[int, int]:  # noqa: F811
    """A tenant, a bucket under policy "eu" (2/3/4/5, region eu) and ``segments`` segments, each
    with 5 pieces on nodes 0-4; returns the bucket and policy ids."""
    async with db.transaction() as s:
        s.add_all(nodes)
        pol = PlacementPolicyRow(name="eu", allowed_regions=["eu"], k=2, repair=3, success=4, total=5, created_at=NOW)
        s.add(pol)
        await s.flush()
        s.add(Tenant(id="t", name="t", default_policy_id=pol.id, created_at=NOW))
        await s.flush()
        b = Bucket(name="b", tenant_id="t", policy_id=pol.id, created_at=NOW)
        s.add(b)
        await s.flush()
        for i in range(segments):
            o = ObjectRow(bucket_id=b.id, key=f"k{i}", version=1, size=1, etag="e", created_at=NOW)
            s.add(o)
            await s.flush()
            seg = SegmentRow(object_id=o.id, plain_size=1, encrypted_size=17, layout={}, wrapped_key=b"", nonce=b"",
                             root_piece_id="00" * 32, k=2, repair_threshold=3, success_threshold=4, total=5,
                             piece_size=64, created_at=NOW)  # fmt: skip
            s.add(seg)
            await s.flush()
            for num in range(5):
                s.add(PieceRow(segment_id=seg.id, number=num, node_id=nodes[num].id, piece_id=f"{i:02x}{num:062x}",
                               merkle_root=b"\0" * 32, size=64))  # fmt: skip
        return b.id, pol.id


def _node_row(country: str, region: str, i: int) -> Node:
    return Node(id=Identity.generate().id, address=f"http://10.{i}.0.1:1", last_net=f"10.{i}.0", country=country,
                region=region, created_at=NOW, last_contact_at=NOW)  # fmt: skip


async def test_checker_queues_at_risk_and_out_of_policy_segments_in_small_batches(db) -> None:  # noqa: F811
    nodes = [_node_row("DE", "eu", i) for i in range(5)]
    await _populate(db, nodes, 25)
    q = RepairQueue(db)
    checker = RepairChecker(q, NodeRepository(db), online_window=60, batch_size=7)
    counts = await checker.run_pass(NOW.timestamp())
    assert counts["checked"] == 25 and counts["queued"] == 0 and checker.state.passes == 1
    # Node 4 moves to the US (override): every segment holds a piece out of policy.
    await NodeRepository(db).set_location_override(nodes[4].id, "US", "na")
    counts = await checker.run_pass(NOW.timestamp())
    assert counts["queued"] == 25 and counts["out_of_policy"] == 25
    assert {j.reason for j in await q.jobs()} == {"out_of_policy"}
    # Node 3 is disqualified too: 3 healthy left, at the repair threshold and closer to loss.
    await NodeRepository(db).disqualify(nodes[3].id, "test")
    await checker.run_pass(NOW.timestamp())
    jobs = await q.jobs()
    assert len(jobs) == 25 and {(j.reason, j.healthy, j.margin) for j in jobs} == {("below_threshold", 3, 1)}
    # Both back: the next pass forgets every job (none is claimed).
    await NodeRepository(db).reinstate(nodes[3].id)
    await NodeRepository(db).set_location_override(nodes[4].id, None, None)
    counts = await checker.run_pass(NOW.timestamp())
    assert counts["forgotten"] == 25 and await q.jobs() == []


async def test_swap_applies_only_to_an_unchanged_segment(db) -> None:  # noqa: F811
    nodes = [_node_row("DE", "eu", i) for i in range(6)]
    await _populate(db, nodes, 2)
    q = RepairQueue(db)
    await q.push([QueueEntry(1, 3, 1, "below_threshold"), QueueEntry(2, 3, 1, "below_threshold")], NOW)
    seg = await q.load_segment(1)
    assert seg is not None and [p.number for p in seg.pieces] == [0, 1, 2, 3, 4]
    expected = [p.key for p in seg.pieces]
    from satellite.repair.queue import StoredPiece

    new = StoredPiece(3, nodes[5].id, "ff" * 32, b"\1" * 32, 64)
    assert (await q.claim("w", NOW, 60)).segment_id == 1  # type: ignore[union-attr]
    # Another writer changed the pieces meanwhile: the swap is a no-op and ends the job.
    changed = [*expected[:3], (3, nodes[5].id, expected[3][2]), expected[4]]
    assert not await q.swap(1, changed, [3], [new], worker="w")
    assert [p.key for p in (await q.load_segment(1)).pieces] == expected  # type: ignore[union-attr]
    assert 1 not in {j.segment_id for j in await q.jobs()}
    # Unchanged: piece 3 replaced in one transaction, job gone.
    assert (await q.claim("w", NOW, 60)).segment_id == 2  # type: ignore[union-attr]
    seg2 = await q.load_segment(2)
    assert await q.swap(2, [p.key for p in seg2.pieces], [3], [new], worker="w")  # type: ignore[union-attr]
    after = {p.number: p.node_id for p in (await q.load_segment(2)).pieces}  # type: ignore[union-attr]
    assert after[3] == nodes[5].id and len(after) == 5
    assert await q.jobs() == []
