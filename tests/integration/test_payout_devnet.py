"""``geoshard devnet`` pays its nodes on its embedded chain within a minute of data being
stored, and the stake profile (``--stake``) end to end — the satellite deploys the token,
payout and staking contracts on its in-process chain, stakes for its own nodes, and an S3
client's upload lands on nodes that placement only picks once they are staked."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from botocore.exceptions import ClientError

from geoshard.devnet import node_wallet
from satellite.admin.client import AdminClient
from tests.devnet_fixture import start_devnet
from tests.node_fixtures import files_on_disk

NODES = 5


def _put_when_placed(s3, bucket: str, key: str, body: bytes, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Nodes are placed once they checked in (and, with --stake, once staked): until then, 503."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            return
        except ClientError as e:
            status = e.response["ResponseMetadata"]["HTTPStatusCode"]
            assert status == 503 and time.monotonic() < deadline, e
            time.sleep(0.5)


def test_devnet_pays_the_nodes_holding_pieces_on_its_chain_within_a_minute_of_the_upload(tmp_path: Path) -> None:
    net = start_devnet(tmp_path / "devnet", nodes=NODES, timeout=240)
    try:
        admin = AdminClient(net.env["GEOSHARD_ADMIN_URL"], net.env["GEOSHARD_ADMIN_TOKEN"])
        s3 = net.boto3()
        s3.create_bucket(Bucket="paid")
        _put_when_placed(s3, "paid", "k", os.urandom(300_000))  # past the inline threshold: pieces on nodes
        stored = time.monotonic()
        nodes = net.data / "nodes"
        holders = [i for i in range(NODES) if any(f.startswith("blobs") for f in files_on_disk(nodes / f"node{i:02d}"))]
        assert holders, "the upload left no piece on any node"

        def paid() -> tuple[int, dict[str, object]] | None:
            batches = admin.call("GET", "/v1/settlement/batches")["batches"]
            if not any(b["state"] == "confirmed" for b in batches):
                return None
            for i in holders:
                wallet = node_wallet(i)
                balance = int(admin.call("GET", f"/v1/settlement/wallets/{wallet}")["token_balance"])
                if balance > 0:
                    return i, {"wallet": wallet, "balance": balance}
            return None

        deadline = stored + 120
        while (found := paid()) is None:  # a condition polled, measured against the minute
            assert time.monotonic() < deadline, f"no node holding pieces paid in 120 s:\n{net.log.read_text()[-3000:]}"
            time.sleep(0.5)
        seconds = time.monotonic() - stored
        print(f"devnet: node {found[0]} paid {found[1]['balance']} token units on chain {seconds:.1f}s after upload")
        assert seconds < 60, f"the devnet took {seconds:.1f}s to pay a node holding pieces"

        # The operator sees it through `geoshard node status`: paid, confirmed on chain, is not zero.
        cfg = nodes / f"node{found[0]:02d}" / "config.toml"
        out = subprocess.run([sys.executable, "-m", "geoshard.cli", "node", "status", "--config", str(cfg)],
                             capture_output=True, text=True, timeout=120, env=net.client_env())  # fmt: skip
        assert out.returncode == 0, out.stderr
        line = next(x for x in out.stdout.splitlines() if x.startswith("earnings"))
        shown = re.search(r", paid ([0-9.]+),", line)
        assert shown is not None and Decimal(shown.group(1)) > 0, line
    finally:
        assert net.stop() == 0


def test_stake_devnet_deploys_the_contracts_stakes_its_nodes_and_serves_s3(tmp_path: Path) -> None:
    net = start_devnet(tmp_path / "devnet", nodes=5, extra=("--stake",), timeout=240)
    try:
        deadline = time.monotonic() + 30
        while "payouts         " not in (banner := net.log.read_text()):  # printed just after devnet.env
            assert time.monotonic() < deadline, banner
            time.sleep(0.2)
        assert "payouts         in-process test chain: token 0x" in banner and ", staking 0x" in banner
        admin = AdminClient(net.env["GEOSHARD_ADMIN_URL"], net.env["GEOSHARD_ADMIN_TOKEN"])
        chain = admin.call("GET", "/v1/settlement/chain")
        assert chain["staking_contract"] and int(chain["payer_token_balance"]) > 0
        s3 = net.boto3()
        s3.create_bucket(Bucket="staked")
        body = os.urandom(300_000)  # past the inline threshold: its pieces go to nodes
        _put_when_placed(s3, "staked", "k", body)  # nodes are staked for within seconds of checking in
        assert s3.get_object(Bucket="staked", Key="k")["Body"].read() == body
    finally:
        assert net.stop() == 0
