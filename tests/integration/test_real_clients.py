"""Unmodified S3 clients against a real devnet, tried as a new user would.

Each test creates a bucket in the ``eu`` policy, uploads, lists, downloads and compares
bytes, with the client's own defaults: boto3 (checksums on), the AWS CLI, rclone, s3cmd
and the MinIO SDK over HTTP, and boto3 over HTTPS through a second, TLS-serving gateway
on the same satellite (gateways are stateless, so any number can share one network).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.devnet_fixture import Devnet, free_port

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.timeout(600)]

BIN = Path(sys.executable).parent


def _bucket(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed: `make test` installs it (scripts/install-test-tools.sh)")
    return found


def _run(argv: list[str], env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]
    assert res.returncode == 0, f"{argv[0]} {' '.join(argv[1:4])}… failed:\n{res.stdout}\n{res.stderr}"
    return res


def _random_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def test_boto3_defaults_round_trip_in_eu_bucket(devnet: Devnet) -> None:
    s3 = devnet.boto3()
    bucket = _bucket("boto")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu"})
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "eu"
    blobs = {"empty": b"", "small.txt": b"hello geoshard", "big.bin": os.urandom(3 * 2**20 + 17)}
    for key, body in blobs.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    listed = s3.list_objects_v2(Bucket=bucket)
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(blobs)
    for key, body in blobs.items():
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == body
        assert got["ETag"].strip('"') == hashlib.md5(body).hexdigest()
    part = s3.get_object(Bucket=bucket, Key="big.bin", Range="bytes=1000000-1000999")
    assert part["Body"].read() == blobs["big.bin"][1000000:1001000]


def test_boto3_multipart_upload_file_gets_multipart_etag(devnet: Devnet, tmp_path: Path) -> None:
    from boto3.s3.transfer import TransferConfig

    s3 = devnet.boto3()
    bucket = _bucket("mpu")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu"})
    src = tmp_path / "src.bin"
    data = _random_file(src, 12 * 2**20 + 5)
    cfg = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)
    s3.upload_file(str(src), bucket, "mp.bin", Config=cfg)
    head = s3.head_object(Bucket=bucket, Key="mp.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].strip('"').endswith("-3")
    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "mp.bin", str(dst))
    assert dst.read_bytes() == data


def test_aws_cli_cp_sync_ls_rm(devnet: Devnet, tmp_path: Path) -> None:
    aws = _tool("aws")
    env = devnet.client_env()
    bucket = _bucket("cli")
    _run([aws, "s3api", "create-bucket", "--bucket", bucket,
          "--create-bucket-configuration", "LocationConstraint=eu"], env)
    big = _random_file(tmp_path / "big.bin", 20 * 2**20 + 3)  # over the CLI's 8 MiB multipart threshold
    _run([aws, "s3", "cp", str(tmp_path / "big.bin"), f"s3://{bucket}/big.bin"], env)
    tree = tmp_path / "tree"
    (tree / "sub dir").mkdir(parents=True)
    files = {"a.txt": b"alpha", "sub dir/ü.txt": "unicode ✓".encode(), "sub dir/b.bin": os.urandom(70_000)}
    for name, body in files.items():
        (tree / name).write_bytes(body)
    _run([aws, "s3", "sync", str(tree), f"s3://{bucket}/tree/"], env)
    ls = _run([aws, "s3", "ls", "--recursive", f"s3://{bucket}/"], env).stdout
    for name in ["big.bin", *(f"tree/{n}" for n in files)]:
        assert name in ls
    out = tmp_path / "out"
    _run([aws, "s3", "sync", f"s3://{bucket}/tree/", str(out)], env)
    for name, body in files.items():
        assert (out / name).read_bytes() == body
    _run([aws, "s3", "cp", f"s3://{bucket}/big.bin", str(tmp_path / "big.back")], env)
    assert (tmp_path / "big.back").read_bytes() == big
    _run([aws, "s3", "rm", "--recursive", f"s3://{bucket}/"], env)
    assert _run([aws, "s3", "ls", f"s3://{bucket}/"], env, check=False).stdout.strip() == ""


def test_rclone_copy_and_check(devnet: Devnet, tmp_path: Path) -> None:
    rclone = _tool("rclone")
    env = devnet.client_env()
    env.update({
        "RCLONE_CONFIG_GS_TYPE": "s3",
        "RCLONE_CONFIG_GS_PROVIDER": "Other",
        "RCLONE_CONFIG_GS_ENDPOINT": devnet.endpoint,
        "RCLONE_CONFIG_GS_ACCESS_KEY_ID": devnet.env["AWS_ACCESS_KEY_ID"],
        "RCLONE_CONFIG_GS_SECRET_ACCESS_KEY": devnet.env["AWS_SECRET_ACCESS_KEY"],
        "RCLONE_CONFIG_GS_LOCATION_CONSTRAINT": "eu",
        "RCLONE_CONFIG": str(tmp_path / "rclone.conf"),
    })
    bucket = _bucket("rclone")
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        _random_file(src / f"f{i}.bin", 1000 * (i + 1) * 37)
    _random_file(src / "large.bin", 6 * 2**20)
    _run([rclone, "mkdir", f"gs:{bucket}"], env)
    _run([rclone, "copy", str(src), f"gs:{bucket}/data"], env)
    _run([rclone, "check", str(src), f"gs:{bucket}/data"], env)
    back = tmp_path / "back"
    _run([rclone, "copy", f"gs:{bucket}/data", str(back)], env)
    for f in src.iterdir():
        assert (back / f.name).read_bytes() == f.read_bytes()


def test_s3cmd_put_ls_get(devnet: Devnet, tmp_path: Path) -> None:
    s3cmd = _tool("s3cmd")
    hostport = devnet.endpoint.split("://", 1)[1]
    cfg = tmp_path / "s3cfg"
    cfg.write_text(
        "[default]\n"
        f"access_key = {devnet.env['AWS_ACCESS_KEY_ID']}\n"
        f"secret_key = {devnet.env['AWS_SECRET_ACCESS_KEY']}\n"
        f"host_base = {hostport}\nhost_bucket = {hostport}\n"
        "use_https = False\nsignature_v2 = False\nbucket_location = eu\n"
    )
    env = devnet.client_env()
    bucket = _bucket("s3cmd")
    base = [s3cmd, "-c", str(cfg)]
    _run([*base, "mb", f"s3://{bucket}"], env)
    data = _random_file(tmp_path / "up.bin", 300_000)
    _run([*base, "put", str(tmp_path / "up.bin"), f"s3://{bucket}/dir/up.bin"], env)
    assert "dir/up.bin" in _run([*base, "ls", "--recursive", f"s3://{bucket}"], env).stdout
    _run([*base, "get", f"s3://{bucket}/dir/up.bin", str(tmp_path / "down.bin")], env)
    assert (tmp_path / "down.bin").read_bytes() == data
    info = _run([*base, "info", f"s3://{bucket}"], env).stdout
    assert "eu" in info


def test_minio_sdk_round_trip(devnet: Devnet) -> None:
    import io

    from minio import Minio

    client = Minio(
        devnet.endpoint.split("://", 1)[1],
        access_key=devnet.env["AWS_ACCESS_KEY_ID"],
        secret_key=devnet.env["AWS_SECRET_ACCESS_KEY"],
        secure=False,
    )
    bucket = _bucket("minio")
    client.make_bucket(bucket, location="eu")
    assert client.bucket_exists(bucket)
    data = os.urandom(200_000)
    client.put_object(bucket, "x/y.bin", io.BytesIO(data), len(data), content_type="application/x-test")
    names = [o.object_name for o in client.list_objects(bucket, prefix="x/", recursive=True)]
    assert names == ["x/y.bin"]
    resp = client.get_object(bucket, "x/y.bin")
    try:
        assert resp.read() == data
        assert resp.headers["Content-Type"] == "application/x-test"
    finally:
        resp.close()
        resp.release_conn()


def test_boto3_over_https_through_a_second_gateway(devnet: Devnet, tmp_path: Path) -> None:
    from geoshard.tls import ensure_self_signed

    cert, key = ensure_self_signed(tmp_path / "tls")
    port = free_port()
    sat_cfg = devnet.data / "satellite" / "satellite.json"
    import json

    cfg = json.loads(sat_cfg.read_text())
    argv = [
        sys.executable, "-m", "geoshard.cli", "gateway", "run",
        "--satellite", f"http://127.0.0.1:{cfg['port']}",
        "--satellite-token-file", str(devnet.data / "gateway" / "satellite.token"),
        "--host", "127.0.0.1", "--port", str(port),
        "--master-key-file", str(devnet.data / "gateway" / "master.key"),
        "--tls-cert", str(cert), "--tls-key", str(key),
    ]
    log = open(tmp_path / "gw.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=f"https://127.0.0.1:{port}",
            aws_access_key_id=devnet.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=devnet.env["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
            verify=str(cert),
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                s3.list_buckets()
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        bucket = _bucket("tls")
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu"})
        data = os.urandom(1_500_000)
        s3.put_object(Bucket=bucket, Key="secure.bin", Body=data)  # HTTPS: boto3 sends trailing checksums
        assert s3.get_object(Bucket=bucket, Key="secure.bin")["Body"].read() == data
        # The object written over TLS is the same object on the plain gateway.
        assert devnet.boto3().get_object(Bucket=bucket, Key="secure.bin")["Body"].read() == data
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
