"""``geoshard devnet --stake``: the stake profile end to end — the satellite deploys the token,
payout and staking contracts on its in-process chain, stakes for its own nodes, and an S3
client's upload lands on nodes that placement only picks once they are staked."""

from __future__ import annotations

import os
import time
from pathlib import Path

from botocore.exceptions import ClientError

from satellite.admin.client import AdminClient
from tests.devnet_fixture import start_devnet


def test_stake_devnet_deploys_the_contracts_stakes_its_nodes_and_serves_s3(tmp_path: Path) -> None:
    net = start_devnet(tmp_path / "devnet", nodes=5, extra=("--stake",), timeout=240)
    try:
        banner = net.log.read_text()
        assert "payouts         in-process test chain: token 0x" in banner and ", staking 0x" in banner
        admin = AdminClient(net.env["GEOSHARD_ADMIN_URL"], net.env["GEOSHARD_ADMIN_TOKEN"])
        chain = admin.call("GET", "/v1/settlement/chain")
        assert chain["staking_contract"] and int(chain["payer_token_balance"]) > 0
        s3 = net.boto3()
        s3.create_bucket(Bucket="staked")
        body = os.urandom(300_000)  # past the inline threshold: its pieces go to nodes
        deadline = time.monotonic() + 120
        while True:  # nodes are staked for within seconds of checking in; until then placement says 503
            try:
                s3.put_object(Bucket="staked", Key="k", Body=body)
                break
            except ClientError as e:
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                assert status == 503 and time.monotonic() < deadline, e
                time.sleep(0.5)
        assert s3.get_object(Bucket="staked", Key="k")["Body"].read() == body
    finally:
        assert net.stop() == 0
