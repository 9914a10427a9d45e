"""Listing at scale against a Python model, and racing commits of one key — on SQLite and PostgreSQL.

The listing bucket is filled with ~20k rows by a bulk insert (the API is not what is tested
there); every page is then read through the real HTTP API and compared with a model: all
keys sorted by their UTF-8 bytes, common prefixes rolled up, a marker resuming strictly
after itself (so a marker inside a common prefix never repeats that prefix).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, insert, select

from erasure.scheme import RedundancyScheme
from erasure.segment import SegmentLayout
from gateway import satellite_client as sc
from satellite.db.models import ObjectRow, PieceRow, SegmentRow
from satellite.nodeselection import PlacementPolicy
from tests.satellite_fixtures import NODE_PLACES, FakeNode, db, db_backend, satellite  # noqa: F401

SCHEME = RedundancyScheme(2, 3, 4, 5)
B64 = lambda b: base64.b64encode(b).decode()  # noqa: E731


def scale_keys() -> list[str]:
    """~20k keys: log files under day/host directories, host summaries beside them, root files,
    and a few keys whose order differs between UTF-8 bytes and naive collations."""
    keys = [f"logs/{d:02d}/host-{h:03d}/f{f}.json" for d in range(20) for h in range(100) for f in range(10)]
    keys += [f"logs/{d:02d}/host-{h:03d}.json" for d in range(20) for h in range(0, 100, 10)]
    keys += [f"top-{i:03d}.txt" for i in range(150)]
    keys += ["logs/05/Host-Z/a", "logs/05/host-é/a", "logs/05/host-~/a", "logs/05/host-.json", "logs/05/é", "Z", "é"]
    return keys


def model_entries(keys: list[str], prefix: str, delimiter: str) -> list[tuple[str, bool]]:
    """Every entry of a complete listing in order: (key or common prefix, is_prefix)."""
    out: list[tuple[str, bool]] = []
    for k in sorted(keys, key=lambda k: k.encode()):
        if not k.startswith(prefix):
            continue
        cut = k.find(delimiter, len(prefix)) if delimiter else -1
        entry = (k[: cut + len(delimiter)], True) if cut >= 0 else (k, False)
        if not out or out[-1] != entry:
            out.append(entry)
    return out


def model_page(entries: list[tuple[str, bool]], start_after: str, max_keys: int) -> list[tuple[str, bool]]:
    return [e for e in entries if e[0].encode() > start_after.encode()][:max_keys]


def as_entries(page: dict[str, Any]) -> list[tuple[str, bool]]:
    got = [(o["key"], False) for o in page["objects"]] + [(p, True) for p in page["prefixes"]]
    return sorted(got, key=lambda e: e[0].encode())


@pytest.fixture
async def listing(satellite) -> Any:  # noqa: F811
    sat = satellite
    await sat.tenancy.create_policy(PlacementPolicy(name="eu", scheme=SCHEME, allowed_countries=frozenset({"EU"})))
    tenant = await sat.tenancy.create_tenant("acme", default_policy="eu")
    bucket = await sat.metainfo.create_bucket(tenant.id, "scale", "")
    keys = scale_keys()
    now = dt.datetime.now(dt.UTC)
    rows = [
        {"bucket_id": bucket.id, "key": k, "version": 1, "status": "committed", "size": i, "etag": f"e{i}",
         "content_type": "", "user_metadata": {}, "checksums": {}, "tags": {}, "segment_count": 0, "created_at": now}
        for i, k in enumerate(keys)
    ]  # fmt: skip
    async with sat.db.transaction() as s:
        await s.execute(insert(ObjectRow), rows)
    async with sc.SatelliteClient(sat.api_url, sat.config.gateway_token) as client:
        yield client, tenant.id, keys


async def walk(client: sc.SatelliteClient, tenant: str, **kw: Any) -> list[dict[str, Any]]:
    pages, start = [], ""
    while True:
        page = await client.list_objects(tenant, "scale", start_after=start, **kw)
        pages.append(page)
        if not page["truncated"]:
            return pages
        start = page["next"]


@pytest.mark.parametrize(
    ("prefix", "delimiter", "max_keys"),
    [("", "", 1000), ("logs/05/", "", 333), ("", "/", 50), ("logs/", "/", 7), ("logs/05/", "/", 13),
     ("logs/05/host-0", "/", 9), ("logs/05/host-", ".json", 17)],
)  # fmt: skip
async def test_listing_walks_match_the_model(listing: Any, prefix: str, delimiter: str, max_keys: int) -> None:
    client, tenant, keys = listing
    expected = model_entries(keys, prefix, delimiter)
    pages = await walk(client, tenant, prefix=prefix, delimiter=delimiter, max_keys=max_keys)
    seen: list[tuple[str, bool]] = []
    start = ""
    for i, page in enumerate(pages):
        want = model_page(expected, start, max_keys)
        assert as_entries(page) == want, f"page {i} after {start!r}"
        assert page["truncated"] == (i < len(pages) - 1)
        if page["truncated"]:
            assert len(want) == max_keys and page["next"] == want[-1][0]
            start = page["next"]
        seen += want
    assert seen == expected
    assert len(pages) == max(1, -(-len(expected) // max_keys))


async def test_listing_from_markers_anywhere(listing: Any) -> None:
    """Markers that are keys, prefixes, inside prefixes, or between keys: each page is the model's."""
    client, tenant, keys = listing
    markers = ["", "Z", "logs/", "logs/07/", "logs/07/host-042/", "logs/07/host-042/f3.json",
               "logs/07/host-042.json", "logs/07/host-04", "logs/05/host-é/", "logs/19/host-099/f9.json",
               "top-", "top-149.txt", "zzz", "é"]  # fmt: skip
    for prefix, delimiter in (("", ""), ("", "/"), ("logs/07/", "/"), ("logs/", "/")):
        expected = model_entries(keys, prefix, delimiter)
        for m in markers:
            page = await client.list_objects(tenant, "scale", prefix=prefix, delimiter=delimiter, start_after=m,
                                             max_keys=25)  # fmt: skip
            want = model_page(expected, m, 25)
            assert as_entries(page) == want, (prefix, delimiter, m)
            assert page["truncated"] == (len(model_page(expected, m, 26)) > 25)


# --- racing commits ---------------------------------------------------------------------------


@pytest.fixture
async def race(satellite) -> Any:  # noqa: F811
    sat = satellite
    nodes = [FakeNode(c, r, i + 1) for i, (c, r) in enumerate(NODE_PLACES)]
    async with aiohttp.ClientSession() as http:
        for n in nodes:
            async with http.post(f"{sat.api_url}/api/v1/nodes/checkin", json=n.checkin()) as resp:
                assert resp.status == 200, await resp.text()
    await sat.tenancy.create_policy(PlacementPolicy(name="eu", scheme=SCHEME, allowed_countries=frozenset({"EU"})))
    tenant = await sat.tenancy.create_tenant("acme", default_policy="eu")
    async with (
        sc.SatelliteClient(sat.api_url, sat.config.gateway_token) as a,
        sc.SatelliteClient(sat.api_url, sat.config.gateway_token) as b,
    ):
        await a.create_bucket(tenant.id, "race")
        yield sat, (a, b), tenant.id, {n.id: n for n in nodes}


async def _prepared_commit(client: sc.SatelliteClient, tenant: str, nodes: dict[str, FakeNode], key: str,
                           tag: str) -> tuple[dict[str, Any], list[dict[str, Any]], bytes]:  # fmt: skip
    layout = SegmentLayout.for_segment(SCHEME, 10_000)
    begin = await client.begin_segment(tenant, "race", key, layout.piece_size)
    root = hashlib.blake2b(tag.encode(), digest_size=32).digest()
    pieces = [
        {"number": lim["number"], "root": B64(root),
         "receipt": nodes[lim["node_id"]].receipt(lim["order_limit"], layout.piece_size, root)}
        for lim in begin["limits"]
    ]  # fmt: skip
    seg = {"token": begin["token"], "layout": layout.to_dict(), "wrapped_key": B64(b"k" * 40), "nonce": B64(b"n" * 16),
           "pieces": pieces}  # fmt: skip
    return {"size": 10_000, "etag": tag}, [seg], root


async def test_racing_commits_leave_one_latest_version(race: Any) -> None:
    """Two commits of one key at once both succeed; the key then has exactly one version, one of
    the two, with that commit's pieces (the design keeps no older versions: the loser of the
    version race retries as the next version and deletes the first)."""
    sat, (a, b), tenant, nodes = race
    key = "same/key.bin"
    for rnd in range(5):
        ma, sa, root_a = await _prepared_commit(a, tenant, nodes, key, f"a{rnd}")
        mb, sb, root_b = await _prepared_commit(b, tenant, nodes, key, f"b{rnd}")
        got = await asyncio.gather(
            a.commit_object(tenant, "race", key, ma, sa), b.commit_object(tenant, "race", key, mb, sb)
        )
        assert {o["etag"] for o in got} == {f"a{rnd}", f"b{rnd}"}
        assert sorted(o["version"] for o in got) == [2 * rnd + 1, 2 * rnd + 2]
        winner = max(got, key=lambda o: o["version"])
        head = await a.head_object(tenant, "race", key)
        assert (head["etag"], head["version"]) == (winner["etag"], winner["version"])
        full = await b.get_object(tenant, "race", key)
        roots = {p["root"] for s in full["segments"] for p in s["pieces"]}
        assert roots == {B64(root_a if winner["etag"] == f"a{rnd}" else root_b)}
        async with sat.db.read() as s:
            versions = (await s.execute(select(ObjectRow.version).where(ObjectRow.key == key))).scalars().all()
            segments = (await s.execute(select(func.count()).select_from(SegmentRow))).scalar_one()
            pieces = (await s.execute(select(func.count()).select_from(PieceRow))).scalar_one()
        assert versions == [winner["version"]]
        assert (segments, pieces) == (1, SCHEME.total)  # the replaced version's rows went with it
    listing = await a.list_objects(tenant, "race")
    assert [o["key"] for o in listing["objects"]] == [key]
