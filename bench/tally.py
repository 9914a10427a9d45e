"""What accounting costs: a tally of stored bytes at 1M pieces, and order settlement per second.

**Tally.** A SQLite satellite database is filled with 1M pieces (100k segments of 10 pieces
over 200 nodes; ``--quick``: 50k pieces) and the tally chore runs one whole tally, batch by
batch, as the satellite does (a grouped ``SUM(size) … GROUP BY node_id`` per 10k segment ids,
one upsert and a cursor update per batch, in its own transaction each). The reference is the
same question asked the fastest way SQL can: one ``GROUP BY node_id`` over the whole pieces
table joined with nodes, no batches, measured in the same run on the same file.
``tally_vs_raw_sql_ratio`` = tally / reference: what resumability costs.

**Settlement.** Download orders signed by a satellite identity, settled through
``OrderSettler`` (node signature, satellite signature per order, one ``INSERT … ON CONFLICT
DO NOTHING RETURNING`` per batch of 1000) — orders per second.

    python bench/tally.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from common.identity import Identity
from common.messages import Action, OrderLimit, OrderSettlement, Signed, new_serial, now
from satellite.accounting import AccountingConfig
from satellite.accounting.service import AccountingService
from satellite.db import create_database, upgrade_schema
from satellite.db.engine import sqlite_url
from satellite.db.models import Node, PieceRow
from tests.accounting_fixtures import seed_network


async def bench_tally(tmp: Path, pieces: int, nodes: int) -> dict[str, float]:
    db = create_database(sqlite_url(str(tmp / "tally.db")))
    await upgrade_schema(db)
    per_segment = 10
    t0 = time.perf_counter()
    await seed_network(db, nodes=nodes, segments=pieces // per_segment, pieces=per_segment, piece_size=2**20)
    seeded = time.perf_counter() - t0
    acc = AccountingService(db, AccountingConfig.from_dict({}), Identity.generate().id)
    t0 = time.perf_counter()
    await acc.tally.tally(now=now())
    tally = time.perf_counter() - t0
    query = (
        select(PieceRow.node_id, func.sum(PieceRow.size))
        .join(Node, Node.id == PieceRow.node_id)
        .where(Node.disqualified_at.is_(None), Node.suspended_at.is_(None), Node.exit_finished_at.is_(None))
        .group_by(PieceRow.node_id)
    )
    t0 = time.perf_counter()
    async with db.read() as s:
        rows = (await s.execute(query)).all()
    raw = time.perf_counter() - t0
    assert len(rows) == nodes
    await db.close()
    return {
        "pieces": pieces,
        "nodes": nodes,
        "seed_seconds": round(seeded, 2),
        "tally_seconds": round(tally, 3),
        "raw_sql_seconds": round(raw, 3),
        "tally_pieces_per_second": round(pieces / tally),
        "tally_vs_raw_sql_ratio": round(tally / raw, 2),
    }


async def bench_settlement(tmp: Path, orders: int) -> dict[str, float]:
    db = create_database(sqlite_url(str(tmp / "orders.db")))
    await upgrade_schema(db)
    sat, node = Identity.generate(), Identity.generate()
    acc = AccountingService(db, AccountingConfig.from_dict({}), sat.id)
    t = now()
    batches = []
    for lo in range(0, orders, OrderSettlement.MAX_ORDERS):
        n = min(OrderSettlement.MAX_ORDERS, orders - lo)
        limits = [
            Signed.sign(sat, OrderLimit(serial=new_serial(), satellite_id=sat.id, node_id=node.id, piece_id="ab" * 32,
                                        action=Action.GET, max_bytes=2**20, expires=t + 3600, created=t)).dumps()
            for _ in range(n)
        ]  # fmt: skip
        msg = OrderSettlement(node_id=node.id, satellite_id=sat.id, timestamp=t, orders=tuple(limits),
                              amounts=tuple([2**20] * n))  # fmt: skip
        batches.append(Signed.sign(node, msg).to_json())
    t0 = time.perf_counter()
    accepted = 0
    for env in batches:
        accepted += len((await acc.settler.settle(env)).accepted)
    elapsed = time.perf_counter() - t0
    assert accepted == orders
    await db.close()
    return {"orders": orders, "settle_seconds": round(elapsed, 3), "orders_settled_per_second": round(orders / elapsed)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50k pieces and 2k orders instead of 1M and 20k")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="geoshard-bench-tally-") as tmp:
        results = {
            "tally": await bench_tally(Path(tmp), 50_000 if args.quick else 1_000_000, 50 if args.quick else 200),
            "settlement": await bench_settlement(Path(tmp), 2_000 if args.quick else 20_000),
        }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
