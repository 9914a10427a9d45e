"""What an audit costs: bytes on the wire per audit, Merkle challenge vs Storj's stripe
download, and how many audits per second the satellite sustains against real nodes.

**Bytes.** For 64 MiB segments coded 4/10 and 29/80 with 4 KiB shares, pieces of the real
size are stored on real node processes and audited through a counting TCP proxy, so the
figure is every byte of the HTTP request and response (request line, headers, bodies) as
sent. Our audit asks one node for 1-3 leaves with their Merkle paths. Storj's audit
downloads one stripe — one share from *every* node holding the segment — and checks it with
Reed-Solomon: ``total × share`` plus per-request overhead. We compute that from the layout
and also measure it, by really downloading one share of each of ``total`` pieces (an
AUDIT order each, as Storj does) through the same proxy. ``*_ratio`` = Storj / Merkle.

**Rate.** The satellite's full audit path — keyset scan into the weighted reservoir,
challenge, HTTP to a node process on loopback, proof verification, and one transaction per
group recording the results and the new scores — run by the audit chore at several
concurrencies, on SQLite and (when one answers at 127.0.0.1:5432, or ``GEOSHARD_BENCH_PG``)
on PostgreSQL; audits per second over whole passes, and the satellite side's CPU per audit
(this process's CPU time: the nodes run in their own processes) as audits per satellite
core-second and as a ratio to the raw primitive an audit cannot avoid, checking one signed
3-leaf proof. ``--batch N`` asks each node for up to N of a group's pieces in one request
(``POST /v1/audit/batch``, the satellite's ``audit_batch``); 1, the default, is one request a
piece, as the figures before batches were taken.

    python bench/audit.py [--quick] [--batch N] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.identity import Identity
from common.messages import Action, AuditChallenge, AuditProof, OrderLimit, Signed, new_serial, now
from erasure import RedundancyScheme
from erasure.merkle import MerkleTree
from erasure.segment import SegmentLayout, piece_root
from satellite.audit import AuditChore, AuditTarget, AuditVerifier, pick_leaves
from satellite.config import SatelliteConfig
from satellite.db import Database, create_database, upgrade_schema
from satellite.db.audits import AuditRepository
from satellite.db.engine import sqlite_url
from satellite.db.models import Bucket, Node, ObjectRow, PieceRow, PlacementPolicyRow, SegmentRow, Tenant
from satellite.reputation import Outcome, ReputationConfig
from storage_node.piecestore.verification import encode_order_header

MiB = 2**20
SHARE = 4096
GEOSHARD = Path(sys.executable).with_name("geoshard")
WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _geoshard(*args: str) -> list[str]:
    if GEOSHARD.exists():
        return [str(GEOSHARD), *args]
    return [sys.executable, "-m", "geoshard.cli", *args]


async def start_node(tmp: Path, i: int, satellite: Identity) -> tuple[asyncio.subprocess.Process, str, str]:
    data = tmp / f"node{i}"
    init = await asyncio.create_subprocess_exec(
        *_geoshard("node", "init", "--data", str(data), "--capacity", "20GB", "--country", "DE", "--region", "eu",
                   "--wallet", WALLET, "--satellite", f"{satellite.id}@http://127.0.0.1:9", "--offline", "--port", "0",
                   "--listen-host", "127.0.0.1"),
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    if await init.wait() != 0:
        raise SystemExit("geoshard node init failed")
    proc = await asyncio.create_subprocess_exec(
        *_geoshard("node", "run", "--config", str(data / "config.toml"), "--log-level", "ERROR"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await proc.stdout.readline()).decode()
    m = re.search(r"serving at (http://\S+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"node did not start: {line!r}")
    return proc, m.group(1), Identity.load(data / "identity.pem").id


class CountingProxy:
    """A TCP relay that counts the bytes each way: HTTP exactly as sent, headers and all."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = self.down = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._conn, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _conn(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        sr, sw = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter, up: bool) -> None:
            try:
                while data := await r.read(1 << 16):
                    if up:
                        self.up += len(data)
                    else:
                        self.down += len(data)
                    w.write(data)
                    await w.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(cr, sw, True), pipe(sr, cw, False))

    def reset(self) -> None:
        self.up = self.down = 0

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()


def order(satellite: Identity, node_id: str, piece_id: str, action: Action) -> str:
    t = now()
    return encode_order_header(
        Signed.sign(satellite, OrderLimit(new_serial(), satellite.id, node_id, piece_id, action, 1 << 30, t + 600, t))
    )


async def put(s: aiohttp.ClientSession, sat: Identity, url: str, node_id: str, pid: str, data: bytes) -> None:
    h = {"Geoshard-Order-Limit": order(sat, node_id, pid, Action.PUT), "Geoshard-Leaf-Size": str(SHARE)}
    async with s.put(f"{url}/v1/pieces/{pid}", data=data, headers=h) as r:
        if r.status != 200:
            raise RuntimeError(f"PUT {r.status}: {await r.text()}")


async def wire_bytes(args: argparse.Namespace, sat: Identity, url: str, node_id: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    port = int(url.rsplit(":", 1)[1])
    proxy = CountingProxy(port)
    purl = await proxy.start()
    rounds = 10 if args.quick else 40
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as s:
        for scheme in ("4/6/8/10", "29/35/65/80"):
            rs = RedundancyScheme.parse(scheme)
            layout = SegmentLayout.for_segment(rs, 64 * MiB, share_size=SHARE)
            name = f"{rs.k}of{rs.total}"
            data = os.urandom(layout.piece_size)
            pid = secrets.token_hex(32)
            await put(s, sat, url, node_id, pid, data)
            target = AuditTarget(node_id, purl, 1, 0, pid, piece_root(data, SHARE), layout.piece_size, SHARE)
            verifier = AuditVerifier(sat, timeout=30)
            merkle: dict[int, float] = {}
            for leaves in (1, 2, 3):
                await verifier.audit(target, pick_leaves(target.leaf_count, leaves))  # open the connection
                proxy.reset()
                for _ in range(rounds):
                    rep = await verifier.audit(target, pick_leaves(target.leaf_count, leaves))
                    assert rep.outcome is Outcome.SUCCESS, rep.reason
                merkle[leaves] = (proxy.up + proxy.down) / rounds
                figures[f"merkle_{name}_{leaves}leaf_bytes"] = round(merkle[leaves])
            await verifier.close()
            # Storj: one share of each of `total` pieces, an AUDIT order per request (no proof).
            stripe = secrets.randbelow(layout.stripes)
            warm = {"Geoshard-Order-Limit": order(sat, node_id, pid, Action.AUDIT)}
            async with s.get(f"{purl}/v1/pieces/{pid}", headers=warm,
                             params={"offset": stripe * SHARE, "length": SHARE}) as r:  # fmt: skip
                await r.read()
            proxy.reset()
            for _ in range(rs.total):
                h = {"Geoshard-Order-Limit": order(sat, node_id, pid, Action.AUDIT)}
                async with s.get(f"{purl}/v1/pieces/{pid}", headers=h,
                                 params={"offset": stripe * SHARE, "length": SHARE}) as r:  # fmt: skip
                    got = await r.read()
                    assert r.status == 200 and len(got) == SHARE, r.status
            storj_measured = proxy.up + proxy.down
            storj_layout = rs.total * SHARE
            figures[f"storj_{name}_layout_bytes"] = storj_layout
            figures[f"storj_{name}_measured_bytes"] = storj_measured
            figures[f"storj_{name}_vs_merkle_1leaf_ratio"] = round(storj_measured / merkle[1], 1)
            figures[f"storj_{name}_vs_merkle_3leaf_ratio"] = round(storj_measured / merkle[3], 1)
            print(f"{scheme:>12} 64 MiB segment, piece {layout.piece_size / MiB:.2f} MiB ({layout.stripes} leaves): "
                  f"Merkle {merkle[1]:.0f} / {merkle[2]:.0f} / {merkle[3]:.0f} B (1/2/3 leaves); "
                  f"Storj stripe {storj_measured} B measured ({storj_layout} B of shares) "
                  f"= {storj_measured / merkle[1]:.1f}x / {storj_measured / merkle[3]:.1f}x", flush=True)
    await proxy.close()
    return figures


async def fresh_pg(tmp: Path) -> tuple[Database, str] | None:
    """A new database on the local PostgreSQL (None when none answers at ``GEOSHARD_BENCH_PG``)."""
    base = os.environ.get("GEOSHARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"bench_audit_{secrets.token_hex(4)}"
    try:
        conn = await asyncpg.connect(base, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = base.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    return create_database(url), name


async def drop_pg(name: str) -> None:
    base = os.environ.get("GEOSHARD_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def proof_answer(node: Identity, t: AuditTarget, challenge: AuditChallenge, data: bytes) -> bytes:
    """The node-signed answer a node would send (built here, so timing it needs no server)."""
    tree = MerkleTree.from_data(data, t.share_size)
    leaves = tuple(data[i * t.share_size : (i + 1) * t.share_size] for i in challenge.leaf_indexes)
    proof = AuditProof(node_id=node.id, piece_id=t.piece_id, nonce=challenge.nonce,
                       leaf_indexes=challenge.leaf_indexes, leaves=leaves,
                       proofs=tuple(tuple(tree.proof(i)) for i in challenge.leaf_indexes))  # fmt: skip
    return Signed.sign(node, proof).dumps().encode()


def verify_cpu(sat: Identity, node: Identity, rounds: int) -> float:
    """CPU seconds per proof check alone (the raw primitive an audit cannot avoid): sign a
    challenge, have the node's key sign a 3-leaf proof of a 4 KiB-share piece, judge it."""
    rs = RedundancyScheme.parse("2/3/4/4")
    layout = SegmentLayout.for_segment(rs, 512 * 1024, share_size=SHARE)
    data = os.urandom(layout.piece_size)
    t = AuditTarget(node.id, "http://x", 1, 0, secrets.token_hex(32), piece_root(data, SHARE), len(data), SHARE)
    verifier = AuditVerifier(sat, timeout=5)
    answers = []
    for _ in range(rounds):
        indexes = pick_leaves(t.leaf_count, 3)
        challenge = verifier.challenge(t, indexes).message
        answers.append((challenge, proof_answer(node, t, challenge, data)))
    start = time.process_time()
    for challenge, answer in answers:
        assert AuditVerifier.judge(t, challenge, answer) is None
    return (time.process_time() - start) / rounds


async def audit_rate(
    args: argparse.Namespace, sat: Identity, nodes: list[tuple[str, str]], tmp: Path, backend: str, reference: float
) -> dict[str, float]:
    pg_name = None
    if backend == "postgresql":
        made = await fresh_pg(tmp)
        if made is None:
            print("PostgreSQL: none answers at 127.0.0.1:5432, skipped", flush=True)
            return {}
        db, pg_name = made
    else:
        db = create_database(sqlite_url(str(tmp / "satellite.db")))
    await upgrade_schema(db)
    cfg = SatelliteConfig.for_tests(str(tmp), audit_lambda=0.999, audit_initial_alpha=1000.0)
    repo = AuditRepository(db, ReputationConfig.from_satellite(cfg))
    rs = RedundancyScheme.parse("2/3/4/4")
    plain = 512 * 1024
    layout = SegmentLayout.for_segment(rs, plain, share_size=SHARE)
    segments = 40 if args.quick else 150
    t0 = dt.datetime.now(dt.UTC)
    async with db.transaction() as s:
        for i, (url, node_id) in enumerate(nodes):
            s.add(Node(id=node_id, address=url, last_ip=f"127.0.{i}.1", last_net=f"127.0.{i}", country="DE",
                       region="eu", capacity=10**10, free=10**10, used=0, created_at=t0,
                       last_contact_at=t0))  # fmt: skip
        s.add(PlacementPolicyRow(id=1, name="b", k=2, repair=3, success=4, total=4, created_at=t0))
        s.add(Tenant(id="tenant01", name="b", created_at=t0))
        await s.flush()
        s.add(Bucket(id=1, name="b", tenant_id="tenant01", policy_id=1, created_at=t0))
    async with aiohttp.ClientSession() as http:
        for seg in range(segments):
            holders = [nodes[(seg + j) % len(nodes)] for j in range(rs.total)]
            rows = []
            for number, (url, node_id) in enumerate(holders):
                data, pid = os.urandom(layout.piece_size), secrets.token_hex(32)
                await put(http, sat, url, node_id, pid, data)
                rows.append((number, node_id, pid, piece_root(data, SHARE)))
            async with db.transaction() as s:
                obj = ObjectRow(bucket_id=1, key=f"o{seg}", version=1, size=plain, etag="e", created_at=t0)
                s.add(obj)
                await s.flush()
                row = SegmentRow(object_id=obj.id, plain_size=plain, encrypted_size=layout.cipher_size,
                                 layout=layout.to_dict(), wrapped_key=b"k", nonce=b"n", k=2, repair_threshold=3,
                                 success_threshold=4, total=4, piece_size=layout.piece_size, created_at=t0)  # fmt: skip
                s.add(row)
                await s.flush()
                for number, node_id, pid, root in rows:
                    s.add(PieceRow(segment_id=row.id, number=number, node_id=node_id, piece_id=pid,
                                   merkle_root=root, size=layout.piece_size))  # fmt: skip
    figures: dict[str, float] = {}
    total = segments * rs.total
    for conc in sorted({1, 4, len(nodes)}):
        chore = AuditChore(repo, AuditVerifier(sat, timeout=30), leaves=3, reservoir_size=total,
                           scan_batch=1000, concurrency=conc, batch=args.batch)  # fmt: skip
        await chore.run_pass()  # warm: connections, caches
        t, cpu = time.perf_counter(), time.process_time()
        done = []
        for _ in range(2 if args.quick else 3):
            done += await chore.run_pass()
        secs, cpu = time.perf_counter() - t, time.process_time() - cpu
        await chore.close()
        bad = [d.reason for d in done if d.outcome is not Outcome.SUCCESS]
        assert not bad, bad[:3]
        rate = len(done) / secs
        per_core = len(done) / cpu  # this process is the satellite's side: chore, verifier, database client
        c = f"c{conc}" if args.batch == 1 else f"c{conc}_b{args.batch}"
        figures[f"{backend}_audits_per_s_{c}"] = round(rate, 1)
        figures[f"{backend}_audits_per_satellite_core_s_{c}"] = round(per_core, 1)
        figures[f"{backend}_audit_cpu_vs_proof_check_{c}_ratio"] = round(cpu / len(done) / reference, 1)
        print(f"audit chore, concurrency {conc:>2}, batch {args.batch}, {len(nodes)} node processes, {backend}: "
              f"{len(done)} audits in {secs:.2f}s = {rate:.0f} audits/s; satellite CPU {cpu / len(done) * 1e3:.2f} ms "
              f"an audit = {per_core:.0f} audits per satellite core-second "
              f"({cpu / len(done) / reference:.1f}x the proof check alone)", flush=True)
    await db.close()
    if pg_name is not None:
        await drop_pg(pg_name)
    return figures


async def run(args: argparse.Namespace) -> dict[str, float]:
    sat = Identity.generate()
    tmp = Path(tempfile.mkdtemp(prefix="geoshard-bench-audit-"))
    procs: list[asyncio.subprocess.Process] = []
    figures: dict[str, Any] = {}
    try:
        nodes = []
        for i in range(4 if args.quick else 8):
            proc, url, node_id = await start_node(tmp, i, sat)
            procs.append(proc)
            nodes.append((url, node_id))
        figures.update(await wire_bytes(args, sat, nodes[0][0], nodes[0][1]))
        reference = verify_cpu(sat, Identity.generate(), 200)
        print(f"proof check alone (verify a signed 3-leaf proof): {reference * 1e3:.3f} ms of CPU", flush=True)
        figures["proof_check_ms"] = round(reference * 1e3, 3)
        for backend in ("sqlite", "postgresql"):
            figures.update(await audit_rate(args, sat, nodes, tmp, backend, reference))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            await p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return figures


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds, 4 nodes (under a minute)")
    ap.add_argument("--json", type=Path, help="write the figures as one flat JSON object")
    ap.add_argument("--batch", type=int, default=1, help="pieces of one node per request (audit_batch)")
    args = ap.parse_args()
    figures = asyncio.run(run(args))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
