"""Prometheus metrics, ``/health`` and the request id, scraped from a planet (a real satellite,
real nodes and a real gateway on loopback, one process) while it does real S3 work.

Each process keeps its own registry, so three kinds of process in one interpreter each
report only their own work: the numbers are checked to move with what was done.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import aiohttp
import botocore.exceptions
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.node_fixtures import files_on_disk
from tests.planet import Planet, planet


async def _get(url: str, **kw: object) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as s, s.get(url, **kw) as r:  # type: ignore[arg-type]
        return r.status, await r.text(), dict(r.headers)


async def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    status, text, headers = await _get(url)
    assert status == 200 and headers["Content-Type"].startswith("text/plain"), text[:300]
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _total(samples: dict, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


async def test_every_process_exports_metrics_that_move_with_the_work_done(tmp_path: Path) -> None:
    async with planet(tmp_path, nodes=6, metrics_port=0) as net:
        gw_metrics = net.gateway.metrics_url + "/metrics"
        sat_metrics = net.satellite.admin_url + "/metrics"  # no admin token needed
        before_gw, before_sat = await _scrape(gw_metrics), await _scrape(sat_metrics)
        before_nodes = [await _scrape(n.url + "/metrics") for n in net.nodes]
        assert _value(before_gw, "geoshard_s3_requests_total", operation="PutObject", status="200") == 0
        assert sum(_value(s, "geoshard_node_pieces") for s in before_nodes) == 0

        s3 = net.client()
        body = os.urandom(300_000)
        await net.s3(s3.create_bucket, Bucket="metrics")
        await net.s3(s3.put_object, Bucket="metrics", Key="a", Body=body)
        _, got = await net.get(s3, Bucket="metrics", Key="a")
        assert got == body
        with pytest.raises(botocore.exceptions.ClientError):
            await net.s3(s3.get_object, Bucket="metrics", Key="missing")

        gw = await _scrape(gw_metrics)
        assert _value(gw, "geoshard_s3_requests_total", operation="CreateBucket", status="200") == 1
        assert _value(gw, "geoshard_s3_requests_total", operation="PutObject", status="200") == 1
        assert _value(gw, "geoshard_s3_requests_total", operation="GetObject", status="200") == 1
        assert _value(gw, "geoshard_s3_requests_total", operation="GetObject", status="404") == 1
        assert _value(gw, "geoshard_s3_request_duration_seconds_count", operation="PutObject") == 1
        assert _value(gw, "geoshard_s3_received_bytes_total", operation="PutObject") >= len(body)
        assert _value(gw, "geoshard_s3_sent_bytes_total", operation="GetObject") >= len(body)

        nodes = [await _scrape(n.url + "/metrics") for n in net.nodes]
        stored = sum(_value(s, "geoshard_node_pieces") for s in nodes)
        assert stored >= 4  # the planet's scheme places at least success = 4 pieces
        for peer, samples in zip(net.nodes, nodes, strict=True):
            on_disk = sum(size for path, size in files_on_disk(peer.config.data_dir).items() if "blobs" in path)
            assert _value(samples, "geoshard_node_piece_bytes") == on_disk
        uploads = sum(_value(s, "geoshard_node_http_requests_total", operation="PUT /v1/pieces/{piece_id}",
                             status="200") for s in nodes)  # fmt: skip
        assert uploads >= stored

        sat = await _scrape(sat_metrics)
        assert _total(sat, "geoshard_db_query_duration_seconds_count") > _total(
            before_sat, "geoshard_db_query_duration_seconds_count"
        )
        assert _total(sat, "geoshard_satellite_http_requests_total") > 0
        # An audit pass and a disqualified node: audits and the repair queue move.
        done = await net.satellite.audit_chore.run_pass()
        assert done
        victim = net.nodes[0].identity.id
        headers = {"Authorization": f"Bearer {net.satellite.config.admin_token}"}
        async with aiohttp.ClientSession() as s, s.post(
            f"{net.satellite.admin_url}/v1/nodes/{victim}/disqualify", json={"reason": "test"}, headers=headers
        ) as r:
            assert r.status == 200
        await net.satellite.repair.checker.run_pass()
        sat = await _scrape(sat_metrics)
        assert _total(sat, "geoshard_audits_total") == len(done)
        assert _value(sat, "geoshard_audits_total", outcome="success") >= 1
        assert _total(sat, "geoshard_repair_queue_length") == await _segments_held_by(net, victim)


async def _segments_held_by(net: Planet, node_id: str) -> int:
    from sqlalchemy import func, select

    from satellite.db.models import PieceRow

    query = select(func.count(func.distinct(PieceRow.segment_id))).where(PieceRow.node_id == node_id)
    async with net.satellite.db.read() as s:
        return int((await s.execute(query)).scalar_one())


async def test_health_answers_without_credentials_on_every_process(tmp_path: Path) -> None:
    async with planet(tmp_path, nodes=5, metrics_port=0) as net:
        for url in (net.gateway.url, net.gateway.metrics_url, net.satellite.api_url, net.satellite.admin_url,
                    net.nodes[0].url):  # fmt: skip
            status, text, _ = await _get(url + "/health")
            assert status == 200, (url, text)
            assert '"status": "ok"' in text and "token" not in text.lower()
        # A signed request for /health is S3: it names a bucket "health".
        s3 = net.client()
        with pytest.raises(botocore.exceptions.ClientError) as e:
            await net.s3(s3.list_objects_v2, Bucket="health")
        assert e.value.response["Error"]["Code"] == "NoSuchBucket"
        # The admin API itself still needs its token.
        assert (await _get(net.satellite.admin_url + "/v1/nodes"))[0] == 401


async def test_the_s3_request_id_is_followed_to_the_satellite_and_the_nodes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with planet(tmp_path, nodes=5) as net:
        s3 = net.client()
        await net.s3(s3.create_bucket, Bucket="traced")
        with caplog.at_level(logging.DEBUG, logger="geoshard_satellite_http.access"), caplog.at_level(
            logging.DEBUG, logger="geoshard_node_http.access"
        ):
            resp = await net.s3(s3.put_object, Bucket="traced", Key="k", Body=os.urandom(200_000))
            await asyncio.sleep(0)  # let the last access lines be written
        rid = resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
        sat = [r for r in caplog.records if r.name == "geoshard_satellite_http.access"]
        node = [r for r in caplog.records if r.name == "geoshard_node_http.access"]
        assert any("/api/v1/metainfo/" in r.getMessage() for r in sat)
        # The gateway's revocation poll runs on its own clock, for no S3 request: it carries no id.
        served = [r for r in sat if "/metainfo/" in r.getMessage() and "/revocations" not in r.getMessage()]
        assert any("/object/commit" in r.getMessage() for r in served)
        assert {getattr(r, "request_id", None) for r in served} == {rid}
        assert node and {getattr(r, "request_id", None) for r in node if "PUT" in r.getMessage()} == {rid}
