"""A person watching a lifecycle rule work: ``geoshard devnet --lifecycle-day-seconds 1``, rules
put and read back with the AWS CLI (``aws s3api put-bucket-lifecycle-configuration`` /
``get-bucket-lifecycle-configuration``), an object announced with ``x-amz-expiration`` and
gone a few seconds later, taken away by the devnet satellite's own lifecycle chore; and in a versioned
bucket, old drafts beyond the newest noncurrent one and a lone delete marker removed for good."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.devnet_fixture import start_devnet
from tests.integration.test_real_clients import _bucket, _run, _tool

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.timeout(600)]

RULES = {"Rules": [
    {"ID": "scratch", "Filter": {"Prefix": "scratch/"}, "Status": "Enabled", "Expiration": {"Days": 2}},
    {"ID": "old-uploads", "Filter": {"Prefix": ""}, "Status": "Enabled",
     "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 30}},
]}  # fmt: skip


def test_aws_cli_lifecycle_rule_expires_an_object_on_a_devnet_with_second_long_days(tmp_path: Path) -> None:
    net = start_devnet(tmp_path / "devnet", nodes=5, extra=("--lifecycle-day-seconds", "1"))
    try:
        aws, env = _tool("aws"), net.client_env()
        bucket = _bucket("life")
        _run([aws, "s3api", "create-bucket", "--bucket", bucket], env)
        (tmp_path / "rules.json").write_text(json.dumps(RULES))
        _run([aws, "s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
              "--lifecycle-configuration", f"file://{tmp_path / 'rules.json'}"], env)  # fmt: skip
        got = json.loads(_run([aws, "s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket], env).stdout)
        assert got["Rules"] == RULES["Rules"]
        (tmp_path / "note.txt").write_bytes(b"gone soon")
        put = json.loads(_run([aws, "s3api", "put-object", "--bucket", bucket, "--key", "scratch/note.txt",
                               "--body", str(tmp_path / "note.txt")], env).stdout)  # fmt: skip
        assert put["Expiration"].endswith('rule-id="scratch"'), put
        _run([aws, "s3api", "put-object", "--bucket", bucket, "--key", "kept.txt", "--body",
              str(tmp_path / "note.txt")], env)  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            listed = json.loads(_run([aws, "s3api", "list-objects-v2", "--bucket", bucket], env).stdout or "{}")
            keys = {o["Key"] for o in listed.get("Contents", [])}
            if "scratch/note.txt" not in keys:
                break
            assert time.monotonic() < deadline, "the devnet's lifecycle chore did not expire scratch/note.txt"
            time.sleep(0.5)
        assert keys == {"kept.txt"}
        _run([aws, "s3api", "delete-bucket-lifecycle", "--bucket", bucket], env)
        res = subprocess.run([aws, "s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket], env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert res.returncode != 0 and "(NoSuchLifecycleConfiguration)" in res.stderr, res.stderr
    finally:
        net.stop()


VERSION_RULES = {"Rules": [
    {"ID": "old-versions", "Filter": {"Prefix": "docs/"}, "Status": "Enabled",
     "NoncurrentVersionExpiration": {"NoncurrentDays": 2, "NewerNoncurrentVersions": 1}},
    {"ID": "markers", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"ExpiredObjectDeleteMarker": True}},
]}  # fmt: skip


def test_aws_cli_noncurrent_versions_and_a_lone_delete_marker_go_on_a_devnet_with_second_long_days(
    tmp_path: Path,
) -> None:
    net = start_devnet(tmp_path / "devnet", nodes=5, extra=("--lifecycle-day-seconds", "1"))
    try:
        aws, env = _tool("aws"), net.client_env()
        bucket = _bucket("vlife")
        _run([aws, "s3api", "create-bucket", "--bucket", bucket], env)
        _run([aws, "s3api", "put-bucket-versioning", "--bucket", bucket, "--versioning-configuration",
              "Status=Enabled"], env)  # fmt: skip
        ids = []
        for i in range(3):
            (tmp_path / "doc.txt").write_bytes(b"draft %d" % i)
            put = json.loads(_run([aws, "s3api", "put-object", "--bucket", bucket, "--key", "docs/plan.txt",
                                   "--body", str(tmp_path / "doc.txt")], env).stdout)  # fmt: skip
            ids.append(put["VersionId"])
        marker = json.loads(_run([aws, "s3api", "delete-object", "--bucket", bucket, "--key", "gone.txt"], env).stdout)
        (tmp_path / "rules.json").write_text(json.dumps(VERSION_RULES))
        _run([aws, "s3api", "put-bucket-lifecycle-configuration", "--bucket", bucket,
              "--lifecycle-configuration", f"file://{tmp_path / 'rules.json'}"], env)  # fmt: skip
        got = json.loads(_run([aws, "s3api", "get-bucket-lifecycle-configuration", "--bucket", bucket], env).stdout)
        assert got["Rules"] == VERSION_RULES["Rules"]
        # The oldest draft goes two "days" after the second was written; the second is the one
        # newest noncurrent version kept; the lone marker on gone.txt goes at the first look.
        deadline = time.monotonic() + 60
        while True:
            listed = json.loads(_run([aws, "s3api", "list-object-versions", "--bucket", bucket], env).stdout or "{}")
            have = {(v["Key"], v["VersionId"]) for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])}
            if have == {("docs/plan.txt", ids[1]), ("docs/plan.txt", ids[2])}:
                break
            assert have <= {("docs/plan.txt", v) for v in ids} | {("gone.txt", marker["VersionId"])}, have
            assert time.monotonic() < deadline, f"the devnet's lifecycle chore did not remove the versions: {have}"
            time.sleep(0.5)
        body = tmp_path / "out.txt"
        _run([aws, "s3api", "get-object", "--bucket", bucket, "--key", "docs/plan.txt", "--version-id", ids[1],
              str(body)], env)  # fmt: skip
        assert body.read_bytes() == b"draft 1"
    finally:
        net.stop()
