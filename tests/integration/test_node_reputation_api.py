"""The node's own view: ``POST /api/v1/nodes/reputation`` (node-signed) and
``geoshard node status``, against a running satellite on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
from pathlib import Path

import aiohttp

from common.identity import Identity
from common.messages import ReputationRequest, Signed, now
from satellite.audit.verifier import AuditTarget
from satellite.reputation import Outcome
from storage_node.cli import cmd_status
from storage_node.config import NodeConfig
from tests.satellite_fixtures import FakeNode, db, db_backend, satellite  # noqa: F401  (pytest fixtures)


def request(identity: Identity, satellite_id: str, *, node_id: str | None = None, skew: int = 0) -> str:
    msg = ReputationRequest(node_id=node_id or identity.id, satellite_id=satellite_id, timestamp=now() + skew)
    return Signed.sign(identity, msg).dumps()


async def post(sat, body: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as s, s.post(f"{sat.api_url}/api/v1/nodes/reputation", data=body) as r:
        return r.status, await r.json()


async def check_in(sat, node: FakeNode) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as s, s.post(f"{sat.api_url}/api/v1/nodes/checkin", json=node.checkin()) as r:
        assert r.status == 200


async def test_node_sees_its_scores_reasons_and_warnings(satellite, tmp_path: Path) -> None:  # noqa: F811
    node = FakeNode("DE", "eu", 1)
    await check_in(satellite, node)
    target = AuditTarget(node.id, node.address, 7, 3, "ab" * 32, b"\0" * 32, 4096, 1024)
    # Two failures with test parameters (λ=0.98, α₀=50): 0.9604 — not yet disqualified, but warned.
    for _ in range(2):
        await satellite.audits.record(target, Outcome.FAILURE, "piece missing — node answered 404 PieceNotFound")
    status, rep = await post(satellite, request(node.identity, satellite.identity.id))
    assert status == 200, rep
    assert rep["node_id"] == node.id and not rep["disqualified"] and rep["counts"]["failure"] == 2
    assert rep["scores"]["audit"] < 0.97 and rep["thresholds"]["audit_disqualify"] == 0.96
    assert any("falling toward disqualification" in w for w in rep["warnings"])
    assert [a["outcome"] for a in rep["recent_audits"]] == ["failure", "failure"]
    assert "404 PieceNotFound" in rep["recent_audits"][0]["reason"]

    # `geoshard node status` fetches and shows the same, with the warning.
    cfg = NodeConfig.for_tests(tmp_path / "node", satellite.identity.id, satellite_url=satellite.api_url)
    cfg.data_dir.mkdir(parents=True)
    node.identity.save(cfg.identity_path)
    cfg_path = tmp_path / "node.toml"
    cfg.save(cfg_path)
    out = io.StringIO()

    def status_cli() -> int:
        with contextlib.redirect_stdout(out):
            return cmd_status(argparse.Namespace(config=cfg_path, json=False))

    assert await asyncio.to_thread(status_cli) == 0
    text = out.getvalue()
    assert "audit score  0.96" in text and "WARNING" in text and "falling toward disqualification" in text
    assert "404 PieceNotFound" in text

    # A third failure disqualifies; the node is told when and why.
    await satellite.audits.record(target, Outcome.FAILURE, "leaf 3 does not verify against the piece's Merkle root")
    _, rep = await post(satellite, request(node.identity, satellite.identity.id))
    assert rep["disqualified"] and "Merkle root" in rep["disqualification_reason"]


async def test_only_the_node_itself_recently_and_for_this_satellite(satellite) -> None:  # noqa: F811
    node = FakeNode("DE", "eu", 2)
    await check_in(satellite, node)
    sid = satellite.identity.id
    status, body = await post(satellite, request(Identity.generate(), sid, node_id=node.id))
    assert status == 403 and "own reputation" in body["message"]
    status, body = await post(satellite, request(node.identity, Identity.generate().id))
    assert status == 403 and "not this one" in body["message"]
    status, body = await post(satellite, request(node.identity, sid, skew=3 * 3600))
    assert status == 403 and "+10800s off the satellite's clock" in body["message"]
    status, body = await post(satellite, request(Identity.generate(), sid))
    assert status == 404 and "never checked in" in body["message"]
    status, body = await post(satellite, "not json")
    assert status == 400
