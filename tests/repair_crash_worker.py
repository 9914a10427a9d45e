"""A repairer in its own process that SIGKILLs itself after uploading, before the metadata swap.

    python -m tests.repair_crash_worker DB_URL IDENTITY_PEM

It claims one job from the satellite database, downloads and rebuilds, uploads the new
pieces to their nodes, prints ``<segment id> <pieces uploaded>`` and kills itself with
SIGKILL: the deterministic crash point of the chaos test (no cleanup, no finally blocks).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from common.identity import Identity
from common.piece_client import PieceClient, UploadedPiece
from satellite.db import create_database
from satellite.db.nodes import NodeRepository
from satellite.nodeselection import SelectionConfig
from satellite.orders import OrderSigner
from satellite.repair import Repairer, RepairQueue
from satellite.repair.queue import StoredSegment


async def main(db_url: str, identity_path: str) -> None:
    db = create_database(db_url)

    async def crash(seg: StoredSegment, uploaded: list[UploadedPiece]) -> None:
        print(seg.id, len(uploaded), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    async with PieceClient.new_session() as session:
        repairer = Repairer(
            RepairQueue(db),
            NodeRepository(db),
            OrderSigner(Identity.load(identity_path), order_ttl=60, token_ttl=60),
            PieceClient(session),
            selection=SelectionConfig(online_window=60, new_node_fraction=1.0, min_free_bytes=0),
            claim_timeout=5,
            worker_id="doomed-worker",
            before_swap=crash,
        )
        result = await repairer.run_once()
    print("no crash:", result, flush=True)
    sys.exit(3)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
