"""Object Lock through the unmodified AWS CLI against a real devnet: a lock bucket, a default
retention, a retained version that the CLI cannot delete, and a legal hold."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.devnet_fixture import Devnet
from tests.integration.test_real_clients import _bucket, _run, _tool

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.timeout(600)]


def test_aws_cli_object_lock_retention_and_legal_hold_on_devnet(devnet: Devnet, tmp_path: Path) -> None:
    aws = _tool("aws")
    env = devnet.client_env()
    bucket = _bucket("cliworm")
    api = [aws, "s3api"]
    _run([*api, "create-bucket", "--bucket", bucket, "--object-lock-enabled-for-bucket"], env)
    _run([*api, "put-object-lock-configuration", "--bucket", bucket, "--object-lock-configuration",
          '{"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}'], env)
    got = json.loads(_run([*api, "get-object-lock-configuration", "--bucket", bucket], env).stdout)
    assert got["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    (tmp_path / "record").write_bytes(b"ledger line")
    put = json.loads(_run([*api, "put-object", "--bucket", bucket, "--key", "r", "--body", str(tmp_path / "record")],
                          env).stdout)  # fmt: skip
    vid = put["VersionId"]
    compliance = '{"Mode": "COMPLIANCE", "RetainUntilDate": "2030-01-01T00:00:00Z"}'
    # The default GOVERNANCE retention in force: changing its mode needs the bypass, as at AWS.
    refused = subprocess.run([*api, "put-object-retention", "--bucket", bucket, "--key", "r", "--retention",
                              compliance], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr
    _run([*api, "put-object-retention", "--bucket", bucket, "--key", "r", "--version-id", vid,
          "--retention", compliance, "--bypass-governance-retention"], env)
    retention = json.loads(_run([*api, "get-object-retention", "--bucket", bucket, "--key", "r"], env).stdout)
    assert retention["Retention"]["Mode"] == "COMPLIANCE"
    assert retention["Retention"]["RetainUntilDate"].startswith("2030-01-01T00:00:00")
    refused = subprocess.run([*api, "delete-object", "--bucket", bucket, "--key", "r", "--version-id", vid,
                              "--bypass-governance-retention"], env=env, capture_output=True, text=True,
                             timeout=120)  # fmt: skip
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr
    _run([*api, "put-object-legal-hold", "--bucket", bucket, "--key", "r", "--legal-hold", "Status=ON"], env)
    hold = json.loads(_run([*api, "get-object-legal-hold", "--bucket", bucket, "--key", "r"], env).stdout)
    assert hold["LegalHold"]["Status"] == "ON"
    listed = json.loads(_run([*api, "list-object-versions", "--bucket", bucket], env).stdout)
    assert [v["VersionId"] for v in listed["Versions"]] == [vid]
