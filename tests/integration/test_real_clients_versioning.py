"""S3 versioning through the unmodified AWS CLI against a real devnet (satellite, nodes and
gateway as processes): put-bucket-versioning, versions of one key, delete markers and
list-object-versions, with the CLI's own pagination."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.devnet_fixture import Devnet
from tests.integration.test_real_clients import _bucket, _run, _tool

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.timeout(600)]


def test_aws_cli_versioning_versions_markers_and_list_object_versions(devnet: Devnet, tmp_path: Path) -> None:
    aws = _tool("aws")
    env = devnet.client_env()
    bucket = _bucket("ver")

    def api(*args: str) -> dict:  # type: ignore[type-arg]
        out = _run([aws, "s3api", *args, "--output", "json"], env).stdout
        return json.loads(out) if out.strip() else {}

    api("create-bucket", "--bucket", bucket, "--create-bucket-configuration", "LocationConstraint=eu")
    assert api("get-bucket-versioning", "--bucket", bucket) == {}
    api("put-bucket-versioning", "--bucket", bucket, "--versioning-configuration", "Status=Enabled")
    assert api("get-bucket-versioning", "--bucket", bucket)["Status"] == "Enabled"
    ids = []
    for i in range(3):
        body = tmp_path / f"v{i}"
        body.write_bytes(b"version %d" % i)
        ids.append(api("put-object", "--bucket", bucket, "--key", "doc.txt", "--body", str(body))["VersionId"])
    marker = api("delete-object", "--bucket", bucket, "--key", "doc.txt")
    assert marker["DeleteMarker"] is True
    # --page-size 1: one version a request; the CLI follows NextKeyMarker and NextVersionIdMarker itself.
    listed = api("list-object-versions", "--bucket", bucket, "--page-size", "1")
    assert [v["VersionId"] for v in listed["Versions"]] == list(reversed(ids))
    assert [(d["VersionId"], d["IsLatest"]) for d in listed["DeleteMarkers"]] == [(marker["VersionId"], True)]
    out = tmp_path / "back"
    got = api("get-object", "--bucket", bucket, "--key", "doc.txt", "--version-id", ids[0], str(out))
    assert got["VersionId"] == ids[0] and out.read_bytes() == b"version 0"
    # Deleting every version and the marker for good empties the bucket; then it can go.
    for vid in [*ids, marker["VersionId"]]:
        api("delete-object", "--bucket", bucket, "--key", "doc.txt", "--version-id", vid)
    assert "Versions" not in api("list-object-versions", "--bucket", bucket)
    api("delete-bucket", "--bucket", bucket)
