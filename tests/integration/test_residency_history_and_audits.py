"""Residency evidence end to end (issue 14 §2, §3): `geoshard admin report` cannot read better
than the data, and a bucket's residency ledger — written in the transactions that move
pieces — exports signed and verifies with nothing but the file and the satellite's key."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from sqlalchemy import select

from geoshard.cli import main
from satellite.db.models import PieceRow
from satellite.db.residency_ledger import INLINE_HOLDER
from satellite.repair import RepairOutcome
from storage_node.gracefulexit import request_exit
from tests.planet import Planet, planet
from tests.repair_helpers import delete_pieces, read_all, repair_all, upload_objects
from tests.residency_helpers import DE_SATELLITE, admin, collect_garbage, country_policy, held_now, history, replay
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)

SEGMENT = 64 * 1024


async def _cli(net: Planet, capsys, *argv: str, err: bool = False) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """``geoshard …`` in a thread (its HTTP client blocks), against the planet's admin API;
    its exit status and what it printed (on stderr with ``err``)."""
    admin = ["--url", net.satellite.admin_url, "--token", net.satellite.config.admin_token]
    args = [*argv[:2], *admin, *argv[2:]] if argv[0] == "admin" else list(argv)
    capsys.readouterr()
    code = await asyncio.to_thread(main, args)
    captured = capsys.readouterr()
    return code, captured.err if err else captured.out




async def test_admin_report_exits_non_zero_for_out_of_policy_and_for_lost_data(
    tmp_path, capsys, db  # noqa: F811
) -> None:
    async with planet(tmp_path, nodes=5, database=db, satellite_config=DE_SATELLITE) as net:
        s3 = net.client()
        await upload_objects(net, "bkt", 1, 100_000)  # obj-0: pieced
        await net.s3(s3.put_object, Bucket="bkt", Key="small", Body=b"hello")  # inline, in DE
        code, out = await _cli(net, capsys, "admin", "report", "bkt")
        assert code == 0 and out.rstrip().endswith("COMPLIANT"), out
        assert "DE" in out.split("inline bytes per country")[1].split("\n\n")[0]

        # Inline bytes in a database the new policy excludes: out of policy, exit 3.
        await net.s3(s3.create_bucket, Bucket="cee")
        await net.s3(s3.put_object, Bucket="cee", Key="tiny", Body=b"x")
        await admin(net, "PUT", "/v1/buckets/cee/policy", {"policy": "na"})
        code, out = await _cli(net, capsys, "admin", "report", "cee")
        assert code == 3 and "NOT COMPLIANT" in out and "inline segments out of policy: 1" in out, out
        assert "\nCOMPLIANT" not in out

        # Four of five nodes disqualified: obj-0 is below k, its key listed, exit 4.
        for n in (await net.satellite.nodes.candidates())[:4]:
            await admin(net, "POST", f"/v1/nodes/{n.id}/disqualify", {"reason": "test"})
        code, out = await _cli(net, capsys, "admin", "report", "bkt")
        assert code == 4 and "DATA LOST, NOT COMPLIANT" in out and "obj-0" in out, out
        assert "\nCOMPLIANT" not in out
        code, raw = await _cli(net, capsys, "admin", "report", "bkt", "--json")
        report = json.loads(raw)
        assert code == 4 and report["status"] == "data_lost" and not report["compliant"]
        assert [k["object"] for k in report["data_lost"]["keys"]] == ["obj-0"]
        assert report["inline_bytes_by_country"] == {"DE": 5 + 16}


async def test_a_repaired_and_migrated_bucket_has_a_history_that_verifies_and_tampering_fails(
    tmp_path, capsys, db  # noqa: F811
) -> None:
    async with planet(tmp_path, nodes=12, scheme="2/3/4/4", segment_size=SEGMENT, database=db,
                      satellite_config=DE_SATELLITE) as net:  # fmt: skip
        await country_policy(net, "fr-nl", {"FR", "NL"})
        s3 = net.client()
        objects = await upload_objects(net, "data", 3, 2 * SEGMENT + 100,
                                       CreateBucketConfiguration={"LocationConstraint": "eu"})  # fmt: skip
        await net.s3(s3.put_object, Bucket="data", Key="small", Body=b"tiny")
        objects["small"] = b"tiny"
        await net.s3(s3.put_object, Bucket="data", Key="obj-1", Body=objects["obj-1"])  # an overwrite
        await net.s3(s3.delete_object, Bucket="data", Key="obj-2")
        del objects["obj-2"]
        # A repair: the German node holding most pieces is disqualified (FR and NL stay for later).
        german = {n.id for n in await net.satellite.nodes.candidates() if n.country == "DE"}
        counts: dict[str, int] = {}
        for _, _, node in await held_now(net):
            if node in german:
                counts[node] = counts.get(node, 0) + 1
        victim = max(counts, key=lambda n: counts[n])
        await admin(net, "POST", f"/v1/nodes/{victim}/disqualify", {"reason": "lost data"})
        assert all(r.outcome is RepairOutcome.REPAIRED for r in await repair_all(net))
        # A graceful exit: another German node hands its pieces over.
        leaving = max((n for n in german if n != victim), key=lambda n: counts.get(n, 0))
        sat = net.satellite
        peer = net.node_of(leaving)
        await asyncio.to_thread(request_exit, peer.identity, sat.identity.id, sat.api_url, "begin")
        for _ in range(20):
            await sat.exit_chore.run_once()
            if not any(node == leaving for _, _, node in await held_now(net)):
                break
        assert not any(node == leaving for _, _, node in await held_now(net))
        # A migration: eu -> FR and NL only (DE and the satellite's database excluded).
        before = await held_now(net)
        await admin(net, "PUT", "/v1/buckets/data/policy", {"policy": "fr-nl"})
        results = await repair_all(net)
        assert results and all(r.outcome is RepairOutcome.REPAIRED for r in results), [r.error for r in results]
        await read_all(net, "data", objects)

        evidence = Path(tmp_path) / "data.residency.jsonl"
        code, out = await _cli(net, capsys, "admin", "residency-history", "data", "--export", str(evidence))
        assert code == 0, out
        lines = evidence.read_text().splitlines()
        entries = [json.loads(t) for t in lines if json.loads(t)["type"] == "entry"]
        # The ledger replays to exactly the piece table: no placement went unrecorded.
        assert replay(entries) == await held_now(net)
        events = {e["event"] for e in entries}
        assert {"upload", "deletion", "repair", "graceful_exit", "migration"} <= events, events
        nodes = {n.id: n for n in await net.satellite.nodes.candidates()}
        migration = [e for e in entries if e["event"] == "migration"]
        assert {e["country"] for e in migration if e["action"] == "add"} <= {"FR", "NL"}
        left = {(e["segment"], e["piece"], e["node"]) for e in migration if e["action"] == "remove"}
        country = {**{n: m.country for n, m in nodes.items()}, INLINE_HOLDER: "DE"}  # the satellite's database
        assert {p for p in before if country[p[2]] not in ("FR", "NL")} <= left
        assert any(p[2] == INLINE_HOLDER for p in left)  # "small" left the database too

        sat_id = net.satellite.identity.id
        code, out = await _cli(net, capsys, "verify-residency", str(evidence), "--satellite-id", sat_id)
        assert code == 0 and "VERIFIED" in out and "NOT VERIFIED" not in out, out
        countries = out.split("countries that ever held a piece: ")[1].splitlines()[0]
        assert {"DE", "FR", "NL"} <= set(countries.split(", "))

        # Tamper with one line: the piece in DE "was" in FR all along.
        target = next(i for i, t in enumerate(lines) if '"country":"DE"' in t)
        lines[target] = lines[target].replace('"country":"DE"', '"country":"FR"')
        forged = Path(tmp_path) / "forged.jsonl"
        forged.write_text("\n".join(lines) + "\n")
        code, out = await _cli(net, capsys, "verify-residency", str(forged), "--satellite-id", sat_id)
        assert code == 1 and f"FAILED line {target + 1}:" in out and "NOT VERIFIED" in out, out


async def test_concurrent_writers_to_one_bucket_never_fork_its_chain(tmp_path, capsys, db) -> None:  # noqa: F811
    async with planet(tmp_path, nodes=5, database=db, satellite_config=DE_SATELLITE) as net:
        s3 = net.client(max_pool_connections=8)
        await net.s3(s3.create_bucket, Bucket="busy")
        # Four at a time: boto3 calls hold threads of the loop's default executor, which the
        # gateway's encoder needs too (six threads on two cores).
        for _ in range(3):
            await asyncio.gather(*(
                net.s3(s3.put_object, Bucket="busy", Key=f"k{i}", Body=os.urandom(20_000)) for i in range(4)
            ))  # fmt: skip
        evidence = Path(tmp_path) / "busy.jsonl"
        code, _ = await _cli(net, capsys, "admin", "residency-history", "busy", "--export", str(evidence))
        assert code == 0
        entries = [json.loads(t) for t in evidence.read_text().splitlines() if '"type":"entry"' in t]
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
        assert replay(entries) == await held_now(net)
        code, out = await _cli(net, capsys, "verify-residency", str(evidence), "--satellite-id",
                               net.satellite.identity.id)  # fmt: skip
        assert code == 0, out
        # Bad input: the admin API's error, nothing exported.
        code, said = await _cli(net, capsys, "admin", "residency-history", "busy", "--since", "yesterday", err=True)
        assert code == 1 and "since must be an ISO 8601 time" in said, said
        code, said = await _cli(net, capsys, "admin", "residency-history", "no-such-bucket", err=True)
        assert code == 1 and "no residency history" in said, said
        # A --since after every entry: a signed head and no entries, which verifies.
        code, _ = await _cli(net, capsys, "admin", "residency-history", "busy", "--since", "2999-01-01T00:00:00Z",
                             "--export", str(evidence))  # fmt: skip
        assert code == 0 and '"type":"entry"' not in evidence.read_text()
        code, out = await _cli(net, capsys, "verify-residency", str(evidence), "--satellite-id",
                               net.satellite.identity.id)  # fmt: skip
        assert code == 0 and "VERIFIED" in out, out


async def test_a_residency_audit_holds_node_signed_proofs_that_verify_and_names_an_unproven_piece(
    tmp_path, capsys, db  # noqa: F811
) -> None:
    async with planet(tmp_path, nodes=5, database=db, satellite_config=DE_SATELLITE) as net:
        await upload_objects(net, "audited", 2, 100_000)
        held = await held_now(net, inline=False)
        sat_id = net.satellite.identity.id
        evidence = Path(tmp_path) / "audit.jsonl"
        code, out = await _cli(net, capsys, "admin", "residency-audit", "audited", "--export", str(evidence))
        assert code == 0 and f"{len(held)} of {len(held)} pieces proven" in out, out
        code, out = await _cli(net, capsys, "verify-residency", str(evidence), "--satellite-id", sat_id)
        assert code == 0 and f"pieces proven held by their nodes (node-signed audits): {len(held)} of" in out
        assert "VERIFIED" in out and "UNPROVEN" not in out, out
        lines = evidence.read_text().splitlines()
        audits = [json.loads(t) for t in lines if '"type":"audit"' in t]
        assert {a["node"] for a in audits} == {n for _, _, n in held}
        assert all(a["proof"]["signer"] == a["node"] for a in audits)

        # A node loses one piece behind the satellite's back: the audit names it, still signed evidence.
        seg, num, node = sorted(held)[0]
        async with net.satellite.db.read() as s:
            piece_id = (await s.execute(select(PieceRow.piece_id).where(
                PieceRow.segment_id == seg, PieceRow.number == num))).scalar_one()  # fmt: skip
        assert delete_pieces(net, node, among={piece_id}) == 1
        code, out = await _cli(net, capsys, "admin", "residency-audit", "audited", "--export", str(evidence))
        assert code == 5 and f"{len(held) - 1} of {len(held)} pieces proven" in out, out
        code, out = await _cli(net, capsys, "verify-residency", str(evidence), "--satellite-id", sat_id)
        assert code == 0 and "UNPROVEN line" in out and f"piece {seg}/{num}" in out, out

        # Moving a proven piece to another country in the file: fails at that line.
        lines = evidence.read_text().splitlines()
        i = next(i for i, t in enumerate(lines) if '"type":"audit"' in t and '"proof":{' in t)
        item = json.loads(lines[i])
        item["country"] = "CH"
        lines[i] = json.dumps(item)
        evidence.write_text("\n".join(lines) + "\n")
        code, out = await _cli(net, capsys, "verify-residency", str(evidence), "--satellite-id", sat_id)
        assert code == 1 and f"FAILED line {i + 1}:" in out, out


async def test_garbage_collection_enters_the_history_as_the_nodes_signed_word_and_still_verifies(
    tmp_path, capsys, db  # noqa: F811
) -> None:
    async with planet(tmp_path, nodes=5, database=db, satellite_config={"gc_false_positive_rate": 1e-9,
                      "online_window": 600}) as net:  # fmt: skip
        s3 = net.client()
        objects = await upload_objects(net, "collected", 3, 100_000)
        await net.s3(s3.put_object, Bucket="collected", Key="obj-1", Body=os.urandom(50_000))  # an overwrite
        await net.s3(s3.delete_object, Bucket="collected", Key="obj-2")
        del objects["obj-1"], objects["obj-2"]
        before = await history(net, "collected")
        removed = {(e["segment"], e["piece"], e["node"]) for e in before if e["action"] == "remove"}
        assert removed and not any(e["event"] == "gc" for e in before)

        clock = await collect_garbage(net)
        entries = await history(net, "collected")
        gc = [e for e in entries if e["event"] == "gc"]
        # Every piece the deletions removed, and only those, went to its node's trash, said the node.
        assert {(e["segment"], e["piece"], e["node"]) for e in gc} == removed
        assert all(e["action"] == "remove" for e in gc) and len(gc) == len(removed)
        assert replay(entries) == await held_now(net)
        assert all(net.node_of(e["node"]).retain.trashed.take(1) == [] for e in gc)  # all reported
        await collect_garbage(net, after=clock)  # nothing new trashed: nothing new recorded
        assert len(await history(net, "collected")) == len(entries)

        evidence = Path(tmp_path) / "gc.jsonl"
        code, _ = await _cli(net, capsys, "admin", "residency-history", "collected", "--export", str(evidence))
        assert code == 0
        sat_id = net.satellite.identity.id
        code, out = await _cli(net, capsys, "verify-residency", str(evidence), "--satellite-id", sat_id)
        assert code == 0 and f"gc {len(gc)}" in out and "VERIFIED" in out and "NOT VERIFIED" not in out, out
        # Tamper with a gc line (the piece "was collected" from another node): fails at that line.
        lines = evidence.read_text().splitlines()
        target = next(i for i, t in enumerate(lines) if '"event":"gc"' in t)
        item = json.loads(lines[target])
        item["node"] = next(n.identity.id for n in net.nodes if n.identity.id != item["node"])
        lines[target] = json.dumps(item, sort_keys=True, separators=(",", ":"))
        evidence.write_text("\n".join(lines) + "\n")
        code, out = await _cli(net, capsys, "verify-residency", str(evidence), "--satellite-id", sat_id)
        assert code == 1 and f"FAILED line {target + 1}:" in out and "NOT VERIFIED" in out, out
