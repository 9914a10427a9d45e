"""Issue 9's three waves on a real 12-node devnet (policy global, 4/6/8/10), timed.

    .venv/bin/python scripts/durability_drill.py      # about 14 minutes (WAVE_GAP=240 s)

Stores 8 objects of 8 MiB, then: wave 1 SIGKILLs the 4 nodes holding the most pieces; after
WAVE_GAP seconds, wave 2 writes 64 random bytes in the middle of 5 piece files on each of the
two survivors holding the most; after WAVE_GAP more, wave 3 SIGKILLs the 2 other survivors
holding the most. Every 20 s it prints the bucket's compliance status, the repair queue and
the capacity-short state; at the end it reads every object back and compares its SHA-256.
The devnet's data stays in /tmp/durability-drill for a look at the logs. A run's figures are
in docs/durability.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import struct
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.devnet_fixture import start_devnet  # free ports, devnet.env, a clean stop

WAVE_GAP = float(os.environ.get("WAVE_GAP", "240"))
DATA = Path("/tmp/durability-drill")
T0 = time.monotonic()


def say(*parts: object) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s]", *parts, flush=True)


def flip_middle(piece: Path) -> None:
    """64 random bytes in the middle of the piece's data: a rotten sector, size unchanged."""
    with open(piece, "r+b") as f:
        (header_len,) = struct.unpack(">I", f.read(14)[10:14])
        size = os.path.getsize(piece)
        f.seek(header_len + (size - header_len) // 2)
        f.write(os.urandom(64))
        f.flush()
        os.fsync(f.fileno())


def main() -> int:
    shutil.rmtree(DATA, ignore_errors=True)
    net = start_devnet(DATA, nodes=12, timeout=400)
    say("devnet up at", net.endpoint)
    admin, token = net.env["GEOSHARD_ADMIN_URL"], net.env["GEOSHARD_ADMIN_TOKEN"]

    def api(path: str) -> Any:
        req = urllib.request.Request(admin + path, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def status(tag: str) -> None:
        report, capacity = api("/v1/buckets/waves/report"), api("/v1/repair")
        say(tag, "| report:", report.get("status"), "| queue:", json.dumps(capacity.get("queue")),
            "| capacity short:", json.dumps(capacity.get("capacity_short"))[:300])  # fmt: skip

    def watch(seconds: float, tag: str) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            status(tag)
            time.sleep(20)

    try:
        s3 = net.boto3()
        s3.create_bucket(Bucket="waves")
        digests = {}
        for i in range(8):
            body = os.urandom(8 * 2**20)
            s3.put_object(Bucket="waves", Key=f"obj{i}", Body=body)
            digests[f"obj{i}"] = hashlib.sha256(body).hexdigest()
        say("stored 8 objects of 8 MiB")
        pids = {e["name"]: e["pid"] for e in json.loads((DATA / "devnet.pids").read_text())}
        nodes = sorted(n for n in pids if n.startswith("node"))
        alive = set(nodes)

        def pieces(name: str) -> list[Path]:  # devnet names a node "node03-DE", its directory "node03"
            return sorted((DATA / "nodes" / name.split("-")[0] / "blobs").glob("*/*.gsp"))

        def kill(names: list[str]) -> None:
            for name in names:
                os.kill(pids[name], signal.SIGKILL)
                alive.discard(name)
                say("SIGKILL", name, f"({len(pieces(name))} piece files)")

        assert any(pieces(n) for n in nodes), "no piece files found"
        kill(sorted(nodes, key=lambda n: -len(pieces(n)))[:4])
        watch(WAVE_GAP, "wave 1")
        rotten = sorted(alive, key=lambda n: -len(pieces(n)))[:2]
        for name in rotten:
            for piece in pieces(name)[:5]:
                flip_middle(piece)
            say("64 bytes flipped in", min(5, len(pieces(name))), "piece files of", name)
        watch(WAVE_GAP, "wave 2")
        kill(sorted(alive - set(rotten), key=lambda n: -len(pieces(n)))[:2])
        watch(WAVE_GAP, "wave 3")
        lost = []
        for key, digest in digests.items():
            try:
                if hashlib.sha256(s3.get_object(Bucket="waves", Key=key)["Body"].read()).hexdigest() != digest:
                    lost.append((key, "content differs"))
            except Exception as e:  # an unreadable object is what this drill looks for
                lost.append((key, repr(e)[:200]))
        say("objects lost:", len(lost), lost)
        status("final")
        return 1 if lost else 0
    finally:
        net.stop()
        say("devnet stopped; its data and logs are in", DATA)


if __name__ == "__main__":
    raise SystemExit(main())
