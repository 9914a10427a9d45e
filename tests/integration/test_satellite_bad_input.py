# ruff: noqa: F811  (pytest fixtures imported by name)
"""Bad input, each a clear error with nothing changed; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import time
from typing import Any

import aiohttp
import pytest

from common.identity import Identity
from gateway import satellite_client as sc
from satellite.orders import OrderSigner
from tests.integration.test_satellite_lifecycle import SCHEME, World, world  # noqa: F401
from tests.satellite_fixtures import db, db_backend, satellite  # noqa: F401


async def _checkin(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.post(f"{url}/api/v1/nodes/checkin", json=body) as r:
        return r.status, await r.json()


async def test_forged_unsigned_and_impostor_checkins(world: World) -> None:
    url, node, other = world.sat.api_url, world.nodes[0], world.nodes[1]
    before = await world.sat.nodes.get(node.id)
    forged = node.checkin(address="http://10.99.0.1:7000")
    forged["signature"] = base64.b64encode(b"\0" * 64).decode()
    assert (await _checkin(url, forged))[0] == 403
    unsigned = dict(forged)
    del unsigned["signature"]
    assert (await _checkin(url, unsigned))[0] == 400
    impostor = other.checkin()  # signed by `other` but claiming `node`'s id
    impostor["message"]["node_id"] = node.id
    status, body = await _checkin(url, impostor)
    assert status == 403 and body["error"] == "NodeRejected"
    stale = node.checkin(timestamp=int(time.time()) - 3600, address="http://10.98.0.1:7000")
    assert (await _checkin(url, stale))[0] == 403
    after = await world.sat.nodes.get(node.id)
    assert after.address == before.address and after.last_net == before.last_net


async def test_gateway_token_required(world: World) -> None:
    for token in ("", "wrong"):
        async with sc.SatelliteClient(world.sat.api_url, token) as bad:
            with pytest.raises(sc.Unauthorized):
                await bad.list_buckets(world.tenant)
    async with aiohttp.ClientSession() as http, http.get(f"{world.sat.api_url}/api/v1/identity") as r:
        assert (await r.json())["id"] == world.sat.identity.id


async def _listing(world: World) -> list[str]:
    return [o["key"] for o in (await world.client.list_objects(world.tenant, "photos"))["objects"]]


async def test_bad_commits_change_nothing(world: World) -> None:
    c, t = world.client, world.tenant
    await c.create_bucket(t, "photos")
    meta = {"size": 10_000, "etag": "e"}
    seg = await world.pieced_segment("k", 10_000)

    wrong_signer = dict(seg, pieces=[dict(p) for p in seg["pieces"]])
    stranger = Identity.generate()
    r = wrong_signer["pieces"][0]["receipt"]
    from common.messages import PieceReceipt, Signed

    msg = Signed.from_json(r, PieceReceipt).message
    wrong_signer["pieces"][0]["receipt"] = Signed.sign(stranger, msg).to_json()
    with pytest.raises(sc.InvalidReceipt):
        await c.commit_object(t, "photos", "k", meta, [wrong_signer])

    swapped = dict(seg, pieces=[dict(p) for p in seg["pieces"]])
    swapped["pieces"][0]["receipt"], swapped["pieces"][1]["receipt"] = (
        swapped["pieces"][1]["receipt"], swapped["pieces"][0]["receipt"])  # fmt: skip
    with pytest.raises(sc.InvalidReceipt):
        await c.commit_object(t, "photos", "k", meta, [swapped])

    other_root = dict(seg, pieces=[dict(p) for p in seg["pieces"]])
    other_root["pieces"][0]["root"] = base64.b64encode(b"\1" * 32).decode()
    with pytest.raises(sc.InvalidReceipt, match="Merkle root"):
        await c.commit_object(t, "photos", "k", meta, [other_root])

    too_few = dict(seg, pieces=seg["pieces"][: SCHEME.success - 1])
    with pytest.raises(sc.TooFewPieces):
        await c.commit_object(t, "photos", "k", meta, [too_few])

    never_begun = dict(seg, token="eyJ9.AAAA")
    with pytest.raises(sc.InvalidToken):
        await c.commit_object(t, "photos", "k", meta, [never_begun])
    foreign = OrderSigner(Identity.generate(), order_ttl=60, token_ttl=60)
    forged_token = dict(seg, token=foreign.seal(world.sat.signer.open(seg["token"])))
    with pytest.raises(sc.InvalidToken, match="not issued by this satellite"):
        await c.commit_object(t, "photos", "k", meta, [forged_token])
    with pytest.raises(sc.InvalidToken, match="another bucket, key"):
        await c.commit_object(t, "photos", "other-key", meta, [seg])

    world.sat.signer.token_ttl = -1
    expired = await world.pieced_segment("k", 10_000)
    world.sat.signer.token_ttl = 60
    with pytest.raises(sc.InvalidToken, match="expired"):
        await c.commit_object(t, "photos", "k", meta, [expired])
    assert await _listing(world) == []
    await c.commit_object(t, "photos", "k", meta, [seg])  # the untampered commit still works
    assert await _listing(world) == ["k"]


async def test_policies_and_tenancy(world: World) -> None:
    c, t = world.client, world.tenant
    with pytest.raises(sc.InvalidLocationConstraint):
        await c.create_bucket(t, "nowhere", "atlantis")
    await c.create_bucket(t, "swiss", "ch")
    with pytest.raises(sc.NotEnoughNodes, match="ch"):
        await c.begin_segment(t, "swiss", "k", 8192)
    await c.create_bucket(t, "mine")
    with pytest.raises(sc.BucketAlreadyOwnedByYou):
        await c.create_bucket(t, "mine")
    other = (await world.sat.tenancy.create_tenant("evil", default_policy="eu")).id
    with pytest.raises(sc.BucketAlreadyExists):
        await c.create_bucket(other, "mine")
    seg = await world.pieced_segment("k", 10_000, bucket="mine")
    await c.commit_object(t, "mine", "k", {"size": 10_000, "etag": "e"}, [seg])
    for call in (
        c.get_bucket(other, "mine"), c.list_objects(other, "mine"), c.get_object(other, "mine", "k"),
        c.delete_object(other, "mine", "k"), c.delete_bucket(other, "mine"), c.begin_segment(other, "mine", "x", 8192),
        c.copy_object(t, "mine", "k", other, "mine", "stolen"), c.put_tags(other, "mine", "k", {"a": "b"}),
    ):  # fmt: skip
        with pytest.raises(sc.AccessDenied):
            await call
    assert (await c.head_object(t, "mine", "k"))["tags"] == {}
    assert [b["name"] for b in await c.list_buckets(other)] == []


async def test_listing_pages_and_delimiters(world: World) -> None:
    c, t = world.client, world.tenant
    await c.create_bucket(t, "list")
    keys = ["B", "a", "a/1", "a/2", "a/b/1", "a0", "b/x", "b/y", "c", "é", "a/b/2", "a//z"]
    inline = {"inline_data": "AA==", "plain_size": 0, "wrapped_key": "AA==", "nonce": "AA=="}
    for k in keys:
        await c.commit_object(t, "list", k, {"size": 0, "etag": "e"}, [inline])
    everything = await c.list_objects(t, "list")
    assert [o["key"] for o in everything["objects"]] == sorted(keys, key=lambda k: k.encode())
    top = await c.list_objects(t, "list", delimiter="/")
    assert top["prefixes"] == ["a/", "b/"] and [o["key"] for o in top["objects"]] == ["B", "a", "a0", "c", "é"]
    sub = await c.list_objects(t, "list", prefix="a/", delimiter="/")
    assert sub["prefixes"] == ["a//", "a/b/"] and [o["key"] for o in sub["objects"]] == ["a/1", "a/2"]
    # paging with a delimiter never repeats a common prefix
    seen, start = [], ""
    while True:
        page = await c.list_objects(t, "list", delimiter="/", start_after=start, max_keys=2)
        seen += page["prefixes"] + [o["key"] for o in page["objects"]]
        if not page["truncated"]:
            break
        start = page["next"]
    assert seen == ["B", "a", "a/", "a0", "b/", "c", "é"]


async def test_bad_input_to_the_security_operations_is_invalid_argument(world: World) -> None:
    c, t = world.client, world.tenant
    key = await world.sat.tenancy.create_access_key(t)
    await c.create_bucket(t, "photos")
    bad = [
        ("access-key/revocations", {"since": "yesterday"}),
        ("access-key/revocations", {"since": "2026-12-01T10:00:00"}),  # no time zone
        ("access-key/get", {"access_key_id": key.access_key_id, "date": "2026-12-01", "region": "us-east-1"}),
        ("access-key/get", {"access_key_id": key.access_key_id, "date": "20261201", "region": "us east\r\n"}),
        ("access-key/verify-v2", {"access_key_id": key.access_key_id, "signature": "x", "strings_to_sign": []}),
        ("access-key/verify-v2", {"access_key_id": key.access_key_id, "signature": "x", "strings_to_sign": [1]}),
        ("object/authorize-write", {"tenant_id": t, "bucket": "photos", "key": "k", "size": -1}),
        ("object/authorize-write", {"tenant_id": t, "bucket": "photos", "key": "k", "size": "10"}),
    ]
    for op, body in bad:
        with pytest.raises(sc.InvalidArgument):
            await c.call(op, body)
    with pytest.raises(sc.AccessDenied):  # another tenant's bucket, refused before any body
        other = await world.sat.tenancy.create_tenant("other")
        await c.authorize_write(other.id, "photos", "k", 10, placed=False)
    with pytest.raises(sc.NoSuchUpload):
        await c.authorize_write(t, "photos", "k", 10, placed=True, upload_id="nope")
    assert (await _listing(world)) == []
