"""The whole object lifecycle through gateway/satellite_client.py against a real satellite.

Nodes are identities that check in over HTTP and sign real receipts; nothing is stored on them.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import aiohttp
import pytest

from common.s3keys import sigv4_signing_key
from erasure.scheme import RedundancyScheme
from erasure.segment import SegmentLayout
from gateway import satellite_client as sc
from satellite.nodeselection import PlacementPolicy
from tests.satellite_fixtures import NODE_PLACES, FakeNode, db, db_backend, satellite  # noqa: F401

SCHEME = RedundancyScheme(2, 3, 4, 5)
B64 = lambda b: base64.b64encode(b).decode()  # noqa: E731


class World:
    def __init__(self, sat: Any, client: sc.SatelliteClient, tenant: str, nodes: list[FakeNode]) -> None:
        self.sat, self.client, self.tenant, self.nodes = sat, client, tenant, nodes
        self.by_id = {n.id: n for n in nodes}

    async def pieced_segment(
        self,
        key: str,
        size: int,
        *,
        begin: dict[str, Any] | None = None,
        bucket: str = "photos",
        drop: int = 0,
        upload: tuple[str, int] | None = None,
    ) -> dict[str, Any]:
        layout = SegmentLayout.for_segment(SCHEME, size)
        if begin is None:
            if upload is None:
                begin = await self.client.begin_segment(self.tenant, bucket, key, layout.piece_size)
            else:
                begin = await self.client.begin_part_segment(self.tenant, bucket, key, upload[0], upload[1],
                                                             layout.piece_size)  # fmt: skip
        pieces = []
        for lim in begin["limits"][drop:]:
            root = hashlib.blake2b(f"{key}{lim['number']}".encode(), digest_size=32).digest()
            node = self.by_id[lim["node_id"]]
            pieces.append({"number": lim["number"], "root": B64(root),
                           "receipt": node.receipt(lim["order_limit"], layout.piece_size, root)})  # fmt: skip
        return {"token": begin["token"], "layout": layout.to_dict(), "wrapped_key": B64(b"k" * 40),
                "nonce": B64(b"n" * 16), "pieces": pieces}  # fmt: skip


@pytest.fixture
async def world(satellite) -> Any:  # noqa: F811
    sat = satellite
    async with aiohttp.ClientSession() as http:
        nodes = [FakeNode(c, r, i + 1) for i, (c, r) in enumerate(NODE_PLACES)]
        for n in nodes:
            async with http.post(f"{sat.api_url}/api/v1/nodes/checkin", json=n.checkin()) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["satellite_id"] == sat.identity.id
    await sat.tenancy.create_policy(PlacementPolicy(name="eu", scheme=SCHEME, allowed_countries=frozenset({"EU"})))
    await sat.tenancy.create_policy(
        PlacementPolicy(name="na", scheme=SCHEME, allowed_countries=frozenset({"US", "CA"}))
    )
    await sat.tenancy.create_policy(PlacementPolicy(name="ch", scheme=SCHEME, allowed_countries=frozenset({"CH"})))
    tenant = await sat.tenancy.create_tenant("acme", default_policy="eu")
    async with sc.SatelliteClient(sat.api_url, sat.config.gateway_token) as client:
        yield World(sat, client, tenant.id, nodes)


async def test_full_object_lifecycle(world: World) -> None:
    c, t = world.client, world.tenant
    key = await world.sat.tenancy.create_access_key(t)
    got = await c.get_access_key(key.access_key_id)  # never the secret (docs/security.md)
    assert got == {"access_key_id": key.access_key_id, "tenant_id": t, "status": "active"}
    scoped = await c.get_access_key(key.access_key_id, "20261201", "us-east-1")
    assert base64.b64decode(scoped["signing_key"]) == sigv4_signing_key(key.secret_access_key, "20261201", "us-east-1")
    assert key.secret_access_key not in str(scoped)

    assert (await c.create_bucket(t, "photos"))["policy"] == "eu"
    assert (await c.create_bucket(t, "us-data", "na"))["policy"] == "na"
    assert [b["name"] for b in await c.list_buckets(t)] == ["photos", "us-data"]
    assert (await c.get_bucket(t, "us-data"))["policy"] == "na"

    # begin: every order is for an EU node, signed by the satellite, one per piece
    begin = await c.begin_segment(t, "photos", "a/big.bin", SegmentLayout.for_segment(SCHEME, 10_000).piece_size)
    assert begin["scheme"] == SCHEME.to_dict() and len(begin["limits"]) == SCHEME.total
    assert all(world.by_id[lim["node_id"]].country in {"DE", "FR", "NL"} for lim in begin["limits"])

    # pieced commit with only `success` receipts (one upload lost to the long tail)
    seg = await world.pieced_segment("a/big.bin", 10_000, begin=begin, drop=1)
    meta = {"size": 10_000, "etag": "e1", "content_type": "image/png", "metadata": {"x-amz-meta-a": "1"},
            "checksums": {"crc32": "abc"}, "tags": {"t": "1"}}  # fmt: skip
    obj = await c.commit_object(t, "photos", "a/big.bin", meta, [seg])
    assert obj["size"] == 10_000 and obj["etag"] == "e1" and obj["version"] == 1

    # inline object
    inline = {"inline_data": B64(b"x" * 100), "plain_size": 84, "wrapped_key": B64(b"k"), "nonce": B64(b"n")}
    await c.commit_object(t, "photos", "small.txt", {"size": 84, "etag": "e2"}, [inline])

    full = await c.get_object(t, "photos", "a/big.bin")
    assert full["object"]["content_type"] == "image/png" and full["range"] is None
    (s0,) = full["segments"]
    assert len(s0["pieces"]) == SCHEME.success
    assert all(p["order_limit"]["message"]["action"] == "GET" for p in s0["pieces"])
    rng = await c.get_object(t, "photos", "a/big.bin", suffix_length=10)
    assert rng["range"] == [9990, 9999]
    with pytest.raises(sc.InvalidRange) as ei:
        await c.get_object(t, "photos", "a/big.bin", range_start=10_000)
    assert ei.value.size == 10_000
    small = await c.get_object(t, "photos", "small.txt")
    assert base64.b64decode(small["segments"][0]["inline_data"]) == b"x" * 100

    # replacing keeps one version visible and bumps it
    obj2 = await c.commit_object(
        t, "photos", "a/big.bin", {**meta, "etag": "e3"}, [await world.pieced_segment("a/big.bin", 10_000)]
    )
    assert obj2["version"] == 2 and (await c.head_object(t, "photos", "a/big.bin"))["etag"] == "e3"

    listing = await c.list_objects(t, "photos", delimiter="/")
    assert listing["prefixes"] == ["a/"] and [o["key"] for o in listing["objects"]] == ["small.txt"]

    # tags
    await c.put_tags(t, "photos", "small.txt", {"k": "v"})
    assert await c.get_tags(t, "photos", "small.txt") == {"k": "v"}
    await c.delete_tags(t, "photos", "small.txt")
    assert await c.get_tags(t, "photos", "small.txt") == {}

    # copy: within EU shares pieces; to the NA bucket the pieces are out of policy
    copied = await c.copy_object(t, "photos", "a/big.bin", t, "photos", "b/copy.bin")
    assert copied["etag"] == "e3"
    got_copy = await c.get_object(t, "photos", "b/copy.bin")
    assert [p["node_id"] for p in got_copy["segments"][0]["pieces"]] == [
        p["node_id"] for p in (await c.get_object(t, "photos", "a/big.bin"))["segments"][0]["pieces"]
    ]
    with pytest.raises(sc.CopyNeedsReupload):
        await c.copy_object(t, "photos", "a/big.bin", t, "us-data", "x")
    # An inline object's bytes are in the satellite's database (in DE): not in a US-only bucket.
    with pytest.raises(sc.CopyNeedsReupload):
        await c.copy_object(t, "photos", "small.txt", t, "us-data", "small-copy")
    await c.copy_object(t, "photos", "small.txt", t, "photos", "small-copy", meta={"content_type": "text/plain"})
    assert (await c.head_object(t, "photos", "small-copy"))["content_type"] == "text/plain"
    assert await c.delete_object(t, "photos", "small-copy") is True

    await c.report_bad_piece(t, s0["pieces"][0]["node_id"], s0["pieces"][0]["order_limit"]["message"]["piece_id"],
                             "share 3 failed its Merkle check")  # fmt: skip

    with pytest.raises(sc.BucketNotEmpty):
        await c.delete_bucket(t, "photos")
    assert await c.delete_objects(t, "photos", ["a/big.bin", "nope"]) == ["a/big.bin"]
    assert await c.delete_object(t, "photos", "small.txt") is True
    assert await c.delete_object(t, "photos", "b/copy.bin") is True
    with pytest.raises(sc.NoSuchKey):
        await c.head_object(t, "photos", "small.txt")
    await c.delete_bucket(t, "photos")
    with pytest.raises(sc.NoSuchBucket):
        await c.get_bucket(t, "photos")


async def test_multipart(world: World) -> None:
    c, t = world.client, world.tenant
    world.sat.multipart.min_part_size = 10_000  # keep parts small; the rule is what is tested
    await c.create_bucket(t, "mpu")
    up = await c.create_upload(t, "mpu", "big", {"content_type": "video/mp4", "tags": {"a": "b"}})
    uid = up["upload_id"]
    parts = []
    for n, size in ((1, 10_000), (2, 10_000), (3, 500)):
        seg = await world.pieced_segment("big", size, bucket="mpu", upload=(uid, n))
        etag = hashlib.md5(str(n).encode()).hexdigest()
        await c.commit_part(t, "mpu", "big", uid, n, size=size, etag=etag, segments=[seg])
        parts.append((n, etag))
    # re-uploading part 2 replaces it
    seg = await world.pieced_segment("big", 10_000, bucket="mpu", upload=(uid, 2))
    etag2 = hashlib.md5(b"2bis").hexdigest()
    await c.commit_part(t, "mpu", "big", uid, 2, size=10_000, etag=etag2, segments=[seg])
    parts[1] = (2, etag2)
    lp = await c.list_parts(t, "mpu", "big", uid)
    assert [(p["part_number"], p["etag"]) for p in lp["parts"]] == parts
    assert [u["upload_id"] for u in (await c.list_uploads(t, "mpu"))["uploads"]] == [uid]
    with pytest.raises(sc.BucketNotEmpty):
        await c.delete_bucket(t, "mpu")

    with pytest.raises(sc.InvalidPartOrder):
        await c.complete_upload(t, "mpu", "big", uid, [parts[1], parts[0]])
    with pytest.raises(sc.InvalidPart):
        await c.complete_upload(t, "mpu", "big", uid, [(1, parts[0][1]), (2, parts[0][1])])
    seg4 = await world.pieced_segment("big", 500, bucket="mpu", upload=(uid, 4))
    await c.commit_part(t, "mpu", "big", uid, 4, size=500, etag="e4", segments=[seg4])
    with pytest.raises(sc.EntityTooSmall):
        await c.complete_upload(t, "mpu", "big", uid, [parts[2], (4, "e4")])
    obj = await c.complete_upload(t, "mpu", "big", uid, parts)
    md5s = b"".join(bytes.fromhex(e) for _, e in parts)
    assert obj["etag"] == f"{hashlib.md5(md5s).hexdigest()}-3" and obj["size"] == 20_500
    assert obj["content_type"] == "video/mp4" and obj["tags"] == {"a": "b"}
    got = await c.get_object(t, "mpu", "big", range_start=19_000)
    assert [s["part_number"] for s in got["segments"]] == [2, 3]
    assert [s["plain_offset"] for s in got["segments"]] == [10_000, 20_000]
    with pytest.raises(sc.NoSuchUpload):
        await c.list_parts(t, "mpu", "big", uid)

    up2 = await c.create_upload(t, "mpu", "gone")
    await c.abort_upload(t, "mpu", "gone", up2["upload_id"])
    with pytest.raises(sc.NoSuchUpload):
        await c.abort_upload(t, "mpu", "gone", up2["upload_id"])
