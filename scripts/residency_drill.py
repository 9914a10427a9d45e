"""Issue 14's closing run on a real 8-node devnet: a bucket repaired, migrated and collected, its evidence verified.

    .venv/bin/python scripts/residency_drill.py      # about 12 minutes: GC waits out devnet's 300 s upload margin

Bucket ``evidence`` under devnet's ``eu`` policy: three 300 kB objects and three small ones (inline
in the satellite's database, DE); one of each deleted and one large one overwritten. A German
node holding pieces is disqualified and repaired around; then policy ``no-de`` (DE excluded)
is set on the bucket, which migrates the German pieces and the inline segments out. Once the
nodes' garbage collection has reported what it trashed, the history is exported, verified,
and verified again with one line changed. Every ``geoshard`` command and its output is printed
(quoted in docs/residency.md). The devnet's data stays in /tmp/residency-drill.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.devnet_fixture import start_devnet  # free ports, devnet.env, a clean stop

DATA = Path("/tmp/residency-drill")
T0 = time.monotonic()


def say(*parts: object) -> None:
    print(f"[{time.monotonic() - T0:7.1f}s]", *parts, flush=True)


def main() -> int:
    shutil.rmtree(DATA, ignore_errors=True)
    net = start_devnet(DATA, nodes=8, timeout=400)
    env = {**os.environ, **net.env}
    admin, token = net.env["GEOSHARD_ADMIN_URL"], net.env["GEOSHARD_ADMIN_TOKEN"]

    def api(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            admin + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())

    def geoshard(*argv: str, show: bool = True) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-m", "geoshard.cli", *argv], env=env, capture_output=True, text=True)
        out = done.stdout + done.stderr
        if show:
            print(f"$ geoshard {' '.join(argv)}   # exit {done.returncode}\n{out.rstrip()}", flush=True)
        return done.returncode, out

    def wait(what: str, check: Any, timeout: float) -> None:
        end = time.monotonic() + timeout
        while not check():
            if time.monotonic() > end:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(3)
        say(what)

    def entries() -> list[dict[str, Any]]:
        req = urllib.request.Request(
            admin + "/v1/buckets/evidence/residency-history", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            lines = [json.loads(t) for t in r.read().decode().splitlines() if t]
        return [e for e in lines if e["type"] == "entry"]

    try:
        s3 = net.boto3()
        s3.create_bucket(Bucket="evidence", CreateBucketConfiguration={"LocationConstraint": "eu"})
        for i in range(3):
            s3.put_object(Bucket="evidence", Key=f"big-{i}", Body=os.urandom(300_000))
            s3.put_object(Bucket="evidence", Key=f"small-{i}", Body=f"small object {i}".encode())
        s3.put_object(Bucket="evidence", Key="big-1", Body=os.urandom(300_000))  # an overwrite
        s3.delete_object(Bucket="evidence", Key="big-2")
        s3.delete_object(Bucket="evidence", Key="small-2")
        say("stored, overwrote and deleted")

        held: dict[str, int] = {}
        for e in entries():
            held[e["node"]] = held.get(e["node"], 0) + (1 if e["action"] == "add" else -1)
        german = [n["id"] for n in api("GET", "/v1/nodes")["nodes"] if n.get("country") == "DE" and held.get(n["id"])]
        victim = max(german, key=lambda n: held[n])
        geoshard("admin", "node", "disqualify", victim, "--reason", "drill: lost its disk")
        wait(
            "repaired around the disqualified node",
            lambda: any(e["event"] == "repair" and e["action"] == "add" for e in entries()),
            300,
        )
        wait(
            "no segment below its repair threshold",
            lambda: api("GET", "/v1/buckets/evidence/report")["below_repair_threshold"]["segments"] == 0,
            300,
        )

        geoshard("admin", "policy", "create", "no-de", "--exclude", "DE", "--scheme", "2/3/3/4")
        geoshard("admin", "bucket", "set-policy", "evidence", "no-de")
        wait(
            "migrated: compliant under no-de",
            lambda: api("GET", "/v1/buckets/evidence/report")["status"] == "compliant",
            600,
        )
        for key in ("big-0", "big-1", "small-0", "small-1"):
            s3.get_object(Bucket="evidence", Key=key)["Body"].read()
        say("every object reads back")
        wait(
            "the nodes' garbage collection reported (gc entries)",
            lambda: any(e["event"] == "gc" for e in entries()),
            900,
        )
        time.sleep(65)  # one more retain round (30 s apart) for the remaining nodes' reports

        geoshard("admin", "report", "evidence")
        evidence = DATA / "evidence.jsonl"
        geoshard("admin", "residency-history", "evidence", "--export", str(evidence))
        geoshard("admin", "residency-info")
        sat_id = api("GET", "/v1/residency")["satellite_id"]
        code, _ = geoshard("verify-residency", str(evidence), "--satellite-id", sat_id)
        lines = evidence.read_text().splitlines()
        target = next(i for i, t in enumerate(lines) if '"country":"DE"' in t and '"action":"add"' in t)
        forged = DATA / "forged.jsonl"
        forged.write_text("\n".join([*lines[:target], lines[target].replace('"country":"DE"', '"country":"FR"'),
                                     *lines[target + 1:]]) + "\n")  # fmt: skip
        say(f"line {target + 1}: DE changed to FR")
        bad, _ = geoshard("verify-residency", str(forged), "--satellite-id", sat_id)
        per = {}
        for e in entries():
            k = f"{e['event']} {e['action']} {e['country']}{' (satellite-db)' if e['node'] == 'satellite-db' else ''}"
            per[k] = per.get(k, 0) + 1
        say("entries by event, action and country:", json.dumps(dict(sorted(per.items())), indent=1))
        return 0 if code == 0 and bad == 1 else 1
    finally:
        net.stop()
        say("devnet stopped; its data and logs are in", DATA)


if __name__ == "__main__":
    raise SystemExit(main())
