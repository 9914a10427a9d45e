"""Chaos (e): processes killed with SIGKILL mid-upload and mid-commit, then started again.

Every test runs a network of real processes (``tests/chaos_net.py``: ``geoshard satellite
run``, five ``geoshard node run``, ``geoshard gateway run``) and kills one of them at a point
made deterministic by what the test can observe from outside:

* the gateway, while it streams a new version of an existing key: after the first segment's
  pieces are on the nodes' disks (the test holds the rest of the body back), with piece
  bytes waiting in every node's socket (the nodes are stopped, so no piece can complete), and
  with every segment landed and only the end of the body missing (right before the commit);
  and between the parts of multipart uploads;
* the satellite, while many small PUTs commit through the gateway, after a seeded-random
  number of acknowledged PUTs, several rounds;
* a node, while it holds a partial piece in its temp folder and a PUT streams to it.

After each kill: no acknowledged write is lost, no object is half-visible (GET returns one
whole version, HEAD and LIST agree with it), no piece row is counted twice, and the pieces
the dead uploads left behind are collected from every node's disk by the retain lists.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import text

from tests.chaos_net import ChaosNet, StreamingPut, running_net, wait_for

pytestmark = pytest.mark.xdist_group("chaos")

BUCKET = "chaos"
BIG_SEGMENT = 12 * 2**20  # pieces of 6 MiB with k = 2


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[ChaosNet]:
    async with running_net(tmp_path) as n:
        yield n


async def call(fn: Any, /, **kw: Any) -> Any:
    return await asyncio.to_thread(fn, **kw)


async def read(s3: Any, key: str) -> tuple[bytes, dict[str, Any]]:
    r = await call(s3.get_object, Bucket=BUCKET, Key=key)
    return await asyncio.to_thread(r["Body"].read), r


async def assert_exactly(net: ChaosNet, s3: Any, key: str, data: bytes, etag: str) -> None:
    """GET, HEAD and LIST all show ``key`` as exactly this version, once."""
    body, got = await read(s3, key)
    assert body == data and got["ETag"] == etag
    head = await call(s3.head_object, Bucket=BUCKET, Key=key)
    assert (head["ContentLength"], head["ETag"]) == (len(data), etag)
    listed = [o for o in (await call(s3.list_objects_v2, Bucket=BUCKET)).get("Contents", []) if o["Key"] == key]
    assert [(o["Size"], o["ETag"]) for o in listed] == [(len(data), etag)]


async def garbage_collected(net: ChaosNet) -> None:
    """Wait for the retain lists to reduce every disk to the referenced pieces, then check the
    nodes' own accounting agrees with their disks."""
    await wait_for("the dead uploads' pieces to be collected", net.disk_matches_live)

    async def reported() -> bool:
        used = await net.reported_used()
        return all(used[n.node_id] == n.usage().used for n in net.nodes)

    await wait_for("every node to report its disk", reported)


# --- the gateway ---------------------------------------------------------------------------


async def test_gateway_killed_mid_put_leaves_the_previous_version_whole_and_its_pieces_are_collected(
    net: ChaosNet,
) -> None:
    s3, seg, success = net.s3(), net.segment_size, net.scheme[2]
    await call(s3.create_bucket, Bucket=BUCKET)
    old = os.urandom(seg + 1000)
    etag = (await call(s3.put_object, Bucket=BUCKET, Key="k", Body=old))["ETag"]

    for point in ("first segment landed", "mid piece", "before commit"):
        new = os.urandom(BIG_SEGMENT + 1 if point == "mid piece" else 3 * seg)
        before = net.blobs()
        if point == "first segment landed":
            # One byte past the first segment: it is cut and placed, the second waits for bytes.
            put = StreamingPut(net, BUCKET, "k", new, seg + 1).start()
            await wait_for(point, lambda: net.new_blobs(before) >= success)  # noqa: B023
        elif point == "mid piece":
            # Stopped nodes read nothing: the gateway's piece uploads stall with their first
            # bytes in the nodes' sockets. Pieces larger than what the kernel buffers between
            # the two processes (4 MiB) cannot complete even after the gateway is gone.
            for n in net.nodes:
                n.signal(signal.SIGSTOP)
            put = StreamingPut(net, BUCKET, "k", new, BIG_SEGMENT + 1).start()
            await wait_for(point, lambda: all(n.queued_bytes() > 0 for n in net.nodes))
        else:
            # Every byte but the final chunk: all three segments land, the commit waits for the end.
            put = StreamingPut(net, BUCKET, "k", new, len(new)).start()
            await wait_for(point, lambda: net.new_blobs(before) >= 3 * success)  # noqa: B023
        net.gateway.kill()
        for n in net.nodes:
            n.signal(signal.SIGCONT)
        await put.abandon()
        # The mid-piece round needs pieces of 6 MiB: its gateway cuts 12 MiB segments.
        net.set_segment_size(BIG_SEGMENT if point == "first segment landed" else seg)
        await net.restart(net.gateway)

        await assert_exactly(net, s3, "k", old, etag)
        assert (await call(s3.list_multipart_uploads, Bucket=BUCKET)).get("Uploads", []) == []
        if point == "mid piece":
            # The nodes saw each piece upload end early: nothing stored, the temp files dropped.
            assert net.new_blobs(before) == 0
            await wait_for("the nodes to drop the partial pieces", lambda: not any(n.partial() for n in net.nodes))

    await garbage_collected(net)
    await assert_exactly(net, s3, "k", old, etag)


async def test_gateway_killed_between_and_mid_parts_leaves_the_upload_pending_with_its_parts_intact(
    net: ChaosNet,
) -> None:
    s3, seg, success = net.s3(), net.segment_size, net.scheme[2]
    await call(s3.create_bucket, Bucket=BUCKET)
    part1 = os.urandom(5 * 2**20 + 10)  # every part but the last is at least 5 MiB
    uploads: dict[str, tuple[str, str]] = {}
    for key in ("completed", "aborted"):
        upload_id = (await call(s3.create_multipart_upload, Bucket=BUCKET, Key=key))["UploadId"]
        e1 = (await call(s3.upload_part, Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1,
                         Body=part1))["ETag"]  # fmt: skip
        uploads[key] = (upload_id, e1)

    # Between parts: the gateway dies with part 1 acknowledged and nothing of part 2 sent.
    net.gateway.kill()
    await net.restart(net.gateway)
    # Mid part 2: its first segment is on the nodes when the gateway dies.
    part2 = os.urandom(2 * seg + 7)
    upload_id, _ = uploads["completed"]
    before = net.blobs()
    put = StreamingPut(net, BUCKET, "completed", part2, seg + 1,
                       query={"partNumber": "2", "uploadId": upload_id}).start()  # fmt: skip
    await wait_for("part 2's first segment to land", lambda: net.new_blobs(before) >= success)
    net.gateway.kill()
    await put.abandon()
    await net.restart(net.gateway)

    pending = (await call(s3.list_multipart_uploads, Bucket=BUCKET)).get("Uploads", [])
    assert sorted((u["Key"], u["UploadId"]) for u in pending) == sorted((k, u) for k, (u, _) in uploads.items())
    for key, (upload_id, e1) in uploads.items():
        parts = (await call(s3.list_parts, Bucket=BUCKET, Key=key, UploadId=upload_id)).get("Parts", [])
        assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts] == [(1, len(part1), e1)]
    assert (await call(s3.list_objects_v2, Bucket=BUCKET)).get("KeyCount") == 0  # nothing half-visible

    upload_id, e1 = uploads["completed"]
    e2 = (await call(s3.upload_part, Bucket=BUCKET, Key="completed", UploadId=upload_id, PartNumber=2,
                     Body=part2))["ETag"]  # fmt: skip
    parts = [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]
    done = await call(s3.complete_multipart_upload, Bucket=BUCKET, Key="completed", UploadId=upload_id,
                      MultipartUpload={"Parts": parts})  # fmt: skip
    await call(s3.abort_multipart_upload, Bucket=BUCKET, Key="aborted", UploadId=uploads["aborted"][0])
    await assert_exactly(net, s3, "completed", part1 + part2, done["ETag"])
    assert (await call(s3.list_multipart_uploads, Bucket=BUCKET)).get("Uploads", []) == []

    await garbage_collected(net)
    await assert_exactly(net, s3, "completed", part1 + part2, done["ETag"])


# --- the satellite -------------------------------------------------------------------------


class Writes:
    """Every PUT a client made, in order per key, and whether it was acknowledged (200 + ETag)."""

    def __init__(self) -> None:
        self.history: dict[str, list[tuple[bytes, bool]]] = {}

    def allowed(self, key: str) -> tuple[list[bytes], bool]:
        """What GET may return: the last acknowledged version or any later failed one; and
        whether the key may be absent (nothing acknowledged yet)."""
        h = self.history[key]
        acked = [i for i, (_, ok) in enumerate(h) if ok]
        start = acked[-1] if acked else 0
        return [d for d, _ in h[start:]], not acked

    def failed(self) -> int:
        return sum(1 for h in self.history.values() for _, ok in h if not ok)


async def put_signed(session: Any, net: ChaosNet, key: str, data: bytes) -> bool:
    """One PutObject signed by botocore and sent by aiohttp; True if acknowledged with an ETag."""
    from tests.s3_requests import sign

    req = sign("v4", "PUT", f"{net.endpoint}/{BUCKET}/{key}", data, credentials=net.credentials()).prepare()
    try:
        async with session.put(req.url, data=data, headers=dict(req.headers.items())) as resp:
            await resp.read()
            return resp.status == 200 and bool(resp.headers.get("ETag"))
    except (TimeoutError, OSError, aiohttp.ClientError):
        return False


async def commit_storm(net: ChaosNet, writes: Writes, rng: random.Random, kill_after: int, keys: list[str]) -> int:
    """Concurrent small PUTs (each key owned by one writer); SIGKILL the satellite once
    ``kill_after`` of them were acknowledged. Returns how many were acknowledged."""
    acked = 0
    killed = asyncio.Event()
    writers = 12
    owned = [keys[i::writers] for i in range(writers)]
    seeds = [rng.randrange(2**32) for _ in range(writers)]

    async def writer(mine: list[str], seed: int) -> None:
        nonlocal acked
        r = random.Random(seed)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            while not killed.is_set():
                key = r.choice(mine)
                data = r.randbytes(r.choice((3000, 70_000, 150_000, 300_000)))  # inline to 5 segments
                ok = await put_signed(session, net, key, data)
                writes.history.setdefault(key, []).append((data, ok))
                if ok:
                    acked += 1
                    if acked >= kill_after and not killed.is_set():
                        killed.set()
                        net.satellite.kill()

    await asyncio.gather(*(writer(m, s) for m, s in zip(owned, seeds, strict=True)))
    return acked


async def check_db(net: ChaosNet) -> None:
    """No piece row counted twice, no segment without its object, every object whole."""
    db = await net.db()
    async with db.read() as s:
        for sql in (
            "SELECT segment_id, number FROM pieces GROUP BY segment_id, number HAVING count(*) > 1",
            "SELECT segment_id, node_id FROM pieces GROUP BY segment_id, node_id HAVING count(*) > 1",
            # No copies here: a stored piece is named by one row only (a commit applied twice would not be).
            "SELECT piece_id FROM pieces GROUP BY piece_id HAVING count(*) > 1",
            "SELECT id FROM segments WHERE object_id IS NULL AND upload_id IS NULL",
            # Every object has its segments, whose plaintext adds up to its size.
            "SELECT o.id FROM objects o LEFT JOIN segments s ON s.object_id = o.id GROUP BY o.id, o.size, "
            "o.segment_count HAVING count(s.id) <> o.segment_count OR coalesce(sum(s.plain_size), 0) <> o.size",
            # Every remote segment keeps between success and total pieces.
            "SELECT s.id FROM segments s LEFT JOIN pieces p ON p.segment_id = s.id WHERE s.inline_data IS NULL "
            "GROUP BY s.id, s.success_threshold, s.total "
            "HAVING count(p.number) < s.success_threshold OR count(p.number) > s.total",
        ):
            assert (await s.execute(text(sql))).all() == [], sql
    if db.dialect == "sqlite":
        path = net.database_url.split("///", 1)[1]
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as c:
            assert c.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert c.execute("PRAGMA foreign_key_check").fetchall() == []


async def check_key(s3: Any, writes: Writes, key: str, readers: asyncio.Semaphore) -> bool:
    """GET shows one whole version written to ``key`` (or none if none was acknowledged) and
    HEAD agrees with it; True if that version is one whose PUT failed."""
    allowed, may_be_absent = writes.allowed(key)
    async with readers:
        try:
            body, got = await read(s3, key)
        except ClientError as e:
            assert may_be_absent and e.response["Error"]["Code"] == "NoSuchKey", key
            return False
        assert body in allowed, key  # one whole version, never a mix or a part
        head = await call(s3.head_object, Bucket=BUCKET, Key=key)
    assert (head["ContentLength"], head["ETag"]) == (len(body), got["ETag"]), key
    return body != allowed[0] or may_be_absent


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_satellite_killed_mid_commit_loses_no_acknowledged_put_and_leaves_none_half_visible(
    tmp_path: Path, backend: str
) -> None:
    async with running_net(tmp_path, backend, segment_size=64 * 1024) as net:
        s3, rng, writes = net.s3(), random.Random(5), Writes()
        await call(s3.create_bucket, Bucket=BUCKET)
        keys = [f"key{i:03d}" for i in range(48)]
        for round_ in range(3):
            kill_after = rng.randint(5, 30)
            failed_before = writes.failed()
            acked = await commit_storm(net, writes, rng, kill_after, keys)
            assert acked >= kill_after and writes.failed() > failed_before  # the kill cut PUTs short
            await net.restart(net.satellite)

            readers = asyncio.Semaphore(6)
            shown = await asyncio.gather(*(check_key(s3, writes, k, readers) for k in sorted(writes.history)))
            listed = (await call(s3.list_objects_v2, Bucket=BUCKET)).get("Contents", [])
            assert len({o["Key"] for o in listed}) == len(listed)
            await check_db(net)
            print(
                f"round {round_}: {acked} acknowledged, {writes.failed() - failed_before} failed, "
                f"{sum(shown)} keys show a PUT whose answer was lost"
            )

        report = await asyncio.to_thread(net.admin.call, "GET", net.admin.path("v1", "buckets", BUCKET, "report"))
        assert report["out_of_policy"]["pieces"] == 0 and report["below_repair_threshold"]["segments"] == 0
        await garbage_collected(net)  # what the failed PUTs stored is collected, nothing live is


# --- a storage node ------------------------------------------------------------------------


async def start_partial_piece(net: ChaosNet, victim: Any, size: int, sent: int) -> asyncio.StreamWriter:
    """Begin a piece upload to ``victim`` under a satellite-signed order and stop after ``sent``
    of its ``size`` bytes; the connection stays open, so the node holds a partial temp file."""
    from common.identity import Identity
    from common.messages import Action, OrderLimit, Signed, new_serial, now
    from satellite.config import load_config
    from storage_node.piecestore.verification import LEAF_SIZE_HEADER, ORDER_HEADER, encode_order_header

    sat = Identity.load(load_config(net.sat_config).resolved_identity_path)
    piece_id, t = os.urandom(32).hex(), now()
    order = Signed.sign(sat, OrderLimit(serial=new_serial(), satellite_id=sat.id, node_id=victim.node_id,
                                        piece_id=piece_id, action=Action.PUT, max_bytes=size, expires=t + 60,
                                        created=t))  # fmt: skip
    head = (f"PUT /v1/pieces/{piece_id} HTTP/1.1\r\nHost: {victim.host}\r\nContent-Length: {size}\r\n"
            f"{ORDER_HEADER}: {encode_order_header(order)}\r\n{LEAF_SIZE_HEADER}: 4096\r\n\r\n")  # fmt: skip
    _, writer = await asyncio.open_connection(victim.host, victim.port)
    writer.write(head.encode() + os.urandom(sent))
    await writer.drain()
    return writer


async def test_node_killed_mid_upload_put_succeeds_and_node_restarts_without_partial_pieces(net: ChaosNet) -> None:
    s3, seg = net.s3(), net.segment_size
    await call(s3.create_bucket, Bucket=BUCKET)
    victim = net.nodes[0]  # total = 5 = nodes: every segment places a piece on it
    # A partial piece on the victim's disk: 3 of 8 MiB received, written in 1 MiB batches.
    raw = await start_partial_piece(net, victim, 8 * 2**20, 3 * 2**20)
    await wait_for("a partial piece on the victim", lambda: any(p.stat().st_size >= 2**20 for p in victim.partial()))
    # Stopped, the victim reads nothing more: the PUT's first piece for it waits in its socket.
    victim.signal(signal.SIGSTOP)
    waiting = victim.queued_bytes()
    data = os.urandom(3 * seg + 5)
    put = StreamingPut(net, BUCKET, "object", data, len(data)).start()
    put.release()  # the whole body, to its end
    await wait_for("the PUT's piece to reach the stopped victim", lambda: victim.queued_bytes() > waiting)
    victim.kill()
    # The unfinished upload was an unnamed file: it vanished with the process, nothing to clean.
    assert victim.partial() == []
    status, _, _ = await asyncio.wait_for(put.task, 60)  # type: ignore[arg-type]
    raw.close()
    assert status == 200  # long tail: the other four pieces of each segment are success
    body, _ = await read(s3, "object")
    assert body == data

    victim.start()
    await victim.ready()
    # The crashed upload's temp file is gone and no partial piece became a piece.
    assert victim.partial() == []
    live = await net.live_bytes()
    assert victim.usage().pieces == live[victim.node_id][1]

    async def reported() -> bool:
        return (await net.reported_used())[victim.node_id] == victim.usage().used

    await wait_for("the restarted victim to report its disk", reported)
    body, _ = await read(s3, "object")
    assert body == data
