"""Inline data is data (issue 14 §1): a small object is stored in the satellite's database only
where its bucket's policy allows the satellite's country; elsewhere it is pieced like any other,
refused with the same 503 when the policy has no nodes, and migrated out on a policy change."""

from __future__ import annotations

import os

from botocore.exceptions import ClientError
from sqlalchemy import select

from satellite.db.models import PieceRow, SegmentRow
from satellite.db.residency_ledger import INLINE_HOLDER, INLINE_PIECE
from satellite.errors import NotEnoughNodes
from satellite.repair import RepairOutcome
from tests.planet import Planet, fails, planet, status
from tests.repair_helpers import read_all, repair_all
from tests.residency_helpers import DE_SATELLITE, admin, country_policy, held_now, history, replay
from tests.satellite_fixtures import db, db_backend  # noqa: F401  (pytest fixtures)


async def _bucket(net: Planet, name: str, policy: str) -> None:
    await net.s3(net.client().create_bucket, Bucket=name, CreateBucketConfiguration={"LocationConstraint": policy})


async def _segments(net: Planet, key: str) -> list[tuple[int, int, bytes | None]]:
    """(k, pieces, inline bytes) of every segment of objects named ``key``."""
    from satellite.db.models import ObjectRow

    async with net.satellite.db.read() as s:
        rows = (
            await s.execute(
                select(SegmentRow.id, SegmentRow.k, SegmentRow.inline_data)
                .join(ObjectRow, ObjectRow.id == SegmentRow.object_id)
                .where(ObjectRow.key == key)
            )
        ).all()
        out = []
        for sid, k, inline in rows:
            n = len((await s.execute(select(PieceRow.number).where(PieceRow.segment_id == sid))).all())
            out.append((k, n, inline))
    return out




async def test_a_ch_only_bucket_without_ch_nodes_refuses_5_bytes_with_the_same_503_as_1_mb(
    tmp_path, db  # noqa: F811
) -> None:
    async with planet(tmp_path, nodes=5, database=db, satellite_config=DE_SATELLITE) as net:
        await country_policy(net, "ch", {"CH"})
        await _bucket(net, "swiss", "ch")
        s3 = net.client()
        big = await fails(net, s3.put_object, Bucket="swiss", Key="big", Body=os.urandom(1 << 20))
        small = await fails(net, s3.put_object, Bucket="swiss", Key="small", Body=b"hello")
        for err in (big, small):
            assert status(err) == 503 and err.response["Error"]["Code"] == "ServiceUnavailable"
            assert "'ch'" in err.response["Error"]["Message"]
        assert big.response["Error"]["Message"] == small.response["Error"]["Message"]
        assert await _segments(net, "small") == [] and await _segments(net, "big") == []


async def test_the_satellite_refuses_an_inline_commit_its_policy_excludes(tmp_path, db) -> None:  # noqa: F811
    """The gateway's word is not trusted: a commit carrying inline bytes for a bucket whose
    policy excludes the satellite's country is refused, and nothing is stored."""
    async with planet(tmp_path, nodes=5, database=db, satellite_config=DE_SATELLITE) as net:
        await country_policy(net, "ch", {"CH"})
        await _bucket(net, "swiss", "ch")
        seg = {"plain_size": 1, "encrypted_size": 17, "wrapped_key": "A" * 56, "nonce": "A" * 24,
               "inline_data": "A" * 24}  # fmt: skip
        try:
            await net.satellite.metainfo.commit_object(
                net.tenants[0].id, "swiss", "k", {"size": 1}, [seg]
            )
            raise AssertionError("the inline commit was accepted")
        except NotEnoughNodes as e:
            assert e.policy == "ch" and "DE/eu" in str(e)
        assert await _segments(net, "k") == []


async def test_an_eu_bucket_on_an_eu_satellite_stores_small_objects_inline(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, nodes=5, scheme="2/2/3/3", database=db,
                      satellite_config=DE_SATELLITE) as net:  # fmt: skip
        await _bucket(net, "eu-data", "eu")
        s3 = net.client()
        await net.s3(s3.put_object, Bucket="eu-data", Key="tiny", Body=b"hello")
        [(k, pieces, inline)] = await _segments(net, "tiny")
        assert (k, pieces) == (0, 0) and inline is not None and len(inline) == 5 + 16
        _, body = await net.get(s3, Bucket="eu-data", Key="tiny")
        assert body == b"hello"


async def test_a_small_object_outside_the_satellites_country_is_pieced_and_reads_back(tmp_path) -> None:
    async with planet(tmp_path, nodes=10, scheme="2/3/4/4", satellite_config=DE_SATELLITE) as net:
        await country_policy(net, "fr-nl", {"FR", "NL"})
        await _bucket(net, "fr-nl", "fr-nl")
        s3 = net.client()
        for key, body in (("five", b"12345"), ("empty", b""), ("4k", os.urandom(4096))):
            await net.s3(s3.put_object, Bucket="fr-nl", Key=key, Body=body)
            [(k, pieces, inline)] = await _segments(net, key)
            assert k == 2 and pieces >= 3 and inline is None, (key, k, pieces)
            _, got = await net.get(s3, Bucket="fr-nl", Key=key)
            assert got == body
        # A server-side copy of an inline object into the bucket goes through the pipeline: pieced.
        await _bucket(net, "eu-src", "eu")
        await net.s3(s3.put_object, Bucket="eu-src", Key="note", Body=b"copy me")
        assert [k for k, _, _ in await _segments(net, "note")] == [0]
        await net.s3(s3.copy_object, Bucket="fr-nl", Key="note-copy", CopySource={"Bucket": "eu-src", "Key": "note"})
        [(k, pieces, inline)] = await _segments(net, "note-copy")
        assert k == 2 and pieces >= 3 and inline is None
        _, got = await net.get(s3, Bucket="fr-nl", Key="note-copy")
        assert got == b"copy me"
        # The smallest share size: a 5-byte object's pieces are a few hundred bytes, not a segment's.
        async with net.satellite.db.read() as s:
            sizes = set((await s.execute(select(SegmentRow.piece_size).where(SegmentRow.plain_size == 5))).scalars())
        assert max(sizes) <= 1024, sizes


async def test_a_policy_change_excluding_the_satellite_migrates_inline_segments_to_pieces(
    tmp_path, db  # noqa: F811
) -> None:
    async with planet(tmp_path, nodes=10, scheme="2/3/4/4", database=db,
                      satellite_config=DE_SATELLITE) as net:  # fmt: skip
        await country_policy(net, "fr-nl", {"FR", "NL"})
        await _bucket(net, "data", "eu")
        s3 = net.client()
        objects = {f"small-{i}": os.urandom(i * 300) for i in range(1, 5)}
        for key, body in objects.items():
            await net.s3(s3.put_object, Bucket="data", Key=key, Body=body)
        for key in objects:
            assert [k for k, _, _ in await _segments(net, key)] == [0]
        assert await repair_all(net) == []  # in policy: nothing to migrate

        await admin(net, "PUT", "/v1/buckets/data/policy", {"policy": "fr-nl"})
        results = await repair_all(net)
        assert len(results) == len(objects)
        assert all(r.outcome is RepairOutcome.REPAIRED for r in results), [r.error for r in results]
        nodes = {n.id: n for n in await net.satellite.nodes.candidates()}
        for key in objects:
            [(k, pieces, inline)] = await _segments(net, key)
            assert k == 2 and pieces >= 3 and inline is None
        async with net.satellite.db.read() as s:
            holders = set((await s.execute(select(PieceRow.node_id))).scalars())
        assert {nodes[h].country for h in holders} <= {"FR", "NL"}
        assert await repair_all(net) == []  # migrated once; a second pass finds nothing
        await read_all(net, "data", objects)
        # And the bucket now pieces new small objects too.
        await net.s3(s3.put_object, Bucket="data", Key="new", Body=b"x")
        assert [k for k, _, _ in await _segments(net, "new")] == [2]


async def test_without_a_configured_location_only_an_unrestricted_policy_keeps_data_inline(tmp_path) -> None:
    no_location = {"metadata_country": "", "metadata_region": ""}
    async with planet(tmp_path, nodes=5, scheme="2/2/3/3", satellite_config=no_location) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="anywhere")  # the tenant's default: "global"
        await _bucket(net, "eu-data", "eu")
        await net.s3(s3.put_object, Bucket="anywhere", Key="a", Body=b"a")
        await net.s3(s3.put_object, Bucket="eu-data", Key="b", Body=b"b")
        assert [k for k, _, _ in await _segments(net, "a")] == [0]
        assert [k for k, _, _ in await _segments(net, "b")] == [2]
        try:
            await net.s3(s3.put_object, Bucket="eu-data", Key="c", Body=b"c")
        except ClientError as e:  # pragma: no cover - the eu policy has three nodes here
            raise AssertionError(e) from None


def _of(entries: list[dict], key: str) -> list[tuple[str, str, str, int, str, str]]:
    """(event, action, node, piece, country, region) of the key's entries, in chain order."""
    return [(e["event"], e["action"], e["node"], e["piece"], e["country"], e["region"]) for e in entries
            if e["key"] == key]  # fmt: skip


async def test_an_inline_objects_history_holds_it_in_the_satellites_database_until_deleted_or_migrated(
    tmp_path, db  # noqa: F811
) -> None:
    async with planet(tmp_path, nodes=10, scheme="2/3/4/4", database=db,
                      satellite_config=DE_SATELLITE) as net:  # fmt: skip
        await country_policy(net, "fr-nl", {"FR", "NL"})
        await _bucket(net, "data", "eu")
        s3 = net.client()
        for key in ("kept", "gone", "replaced"):
            await net.s3(s3.put_object, Bucket="data", Key=key, Body=b"small")
        await net.s3(s3.put_object, Bucket="data", Key="replaced", Body=b"again")
        await net.s3(s3.delete_object, Bucket="data", Key="gone")
        in_db = (INLINE_HOLDER, INLINE_PIECE, "DE", "eu")  # the satellite's declared place
        entries = await history(net, "data")
        assert _of(entries, "kept") == [("upload", "add", *in_db)]
        assert _of(entries, "gone") == [("upload", "add", *in_db), ("deletion", "remove", *in_db)]
        assert _of(entries, "replaced") == [("upload", "add", *in_db), ("deletion", "remove", *in_db),
                                            ("upload", "add", *in_db)]  # fmt: skip
        assert replay(entries) == await held_now(net)

        # The policy moves to FR and NL: the segment leaves the database, its pieces arrive there.
        await admin(net, "PUT", "/v1/buckets/data/policy", {"policy": "fr-nl"})
        results = await repair_all(net)
        assert len(results) == 2 and all(r.outcome is RepairOutcome.REPAIRED for r in results)
        entries = await history(net, "data")
        [(k, pieces, _)] = await _segments(net, "kept")
        assert k == 2
        moved = _of(entries, "kept")[1:]
        assert moved[0] == ("migration", "remove", *in_db)
        arrived = moved[1:]
        assert len(arrived) == pieces >= 3
        assert all(e[:2] == ("migration", "add") and e[2] != INLINE_HOLDER and e[3] >= 0 for e in arrived)
        assert {e[4] for e in arrived} <= {"FR", "NL"}
        assert replay(entries) == await held_now(net)
        await read_all(net, "data", {"kept": b"small", "replaced": b"again"})


async def test_a_ch_only_buckets_history_never_shows_the_satellites_database(tmp_path, db) -> None:  # noqa: F811
    async with planet(tmp_path, nodes=8, database=db, satellite_config=DE_SATELLITE) as net:
        for n in (await net.satellite.nodes.candidates())[:4]:  # four nodes turn out to be in Switzerland
            await admin(net, "PUT", f"/v1/nodes/{n.id}/location", {"country": "CH", "region": "eu"})
        await country_policy(net, "ch", {"CH"})
        await _bucket(net, "swiss", "ch")
        s3 = net.client()
        await net.s3(s3.put_object, Bucket="swiss", Key="small", Body=b"hello")
        await net.s3(s3.put_object, Bucket="swiss", Key="small", Body=b"hello again")
        await net.s3(s3.delete_object, Bucket="swiss", Key="small")
        entries = await history(net, "swiss")
        assert {(e["event"], e["action"]) for e in entries} == {("upload", "add"), ("deletion", "remove")}
        assert all(e["node"] != INLINE_HOLDER and e["piece"] >= 0 for e in entries)
        assert {e["country"] for e in entries} == {"CH"}


async def test_a_learned_inline_bucket_takes_one_satellite_call_per_small_put_and_a_policy_change_is_re_asked(
    tmp_path,
) -> None:
    """With the gateway's caches on, a small PutObject into a bucket the gateway has learned keeps
    small objects inline makes no preflight call, only the commit; once the bucket's policy
    excludes the satellite, that commit is refused (503, "retry") and the retry is asked about and pieced."""
    async with planet(tmp_path, nodes=10, scheme="2/3/4/4", satellite_config=DE_SATELLITE,
                      credential_cache_ttl=60.0) as net:  # fmt: skip
        await country_policy(net, "fr-nl", {"FR", "NL"})
        await _bucket(net, "data", "eu")
        sat, ops = net.gateway.satellite, []
        real = sat.call

        async def recording(op: str, body: dict) -> dict:  # type: ignore[type-arg]
            if not op.startswith("access-key/"):  # credentials and the revocation feed poll on their own
                ops.append(op)
            return await real(op, body)

        sat.call = recording  # type: ignore[method-assign]
        s3 = net.client()
        await net.s3(s3.put_object, Bucket="data", Key="first", Body=b"one")
        assert ops[:2] == ["object/authorize-write", "object/commit"]  # then the lifecycle rules, cached
        ops.clear()
        await net.s3(s3.put_object, Bucket="data", Key="second", Body=b"two")
        assert ops == ["object/commit"]
        assert [k for k, _, _ in await _segments(net, "second")] == [0]

        await admin(net, "PUT", "/v1/buckets/data/policy", {"policy": "fr-nl"})
        ops.clear()
        # The client's one retry (botocore's legacy max_attempts counts retries) follows the 503.
        await net.s3(s3.put_object, Bucket="data", Key="third", Body=b"three")
        assert ops[:3] == ["object/commit", "object/authorize-write", "segment/begin"]
        [(k, pieces, inline)] = await _segments(net, "third")
        assert k == 2 and pieces >= 3 and inline is None
        _, body = await net.get(s3, Bucket="data", Key="third")
        assert body == b"three"
