"""``geoshard admin`` as a user runs it: subprocesses against a freshly initialised, running satellite."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.devnet_fixture import free_port

GEOSHARD = [sys.executable, "-m", "geoshard.cli"]


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"satellite exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"satellite admin port {port} not open after {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def satellite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp_path = tmp_path_factory.mktemp("admin-cli")
    data = tmp_path / "sat"
    port, admin_port = free_port(), free_port()
    init = subprocess.run(
        [*GEOSHARD, "satellite", "init", "--data", str(data), "--port", str(port), "--admin-port", str(admin_port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    config = data / "satellite.json"
    log = tmp_path / "satellite.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*GEOSHARD, "satellite", "run", "--config", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_port(admin_port, proc, log)
        token = json.loads(config.read_text())["admin_token"]
        yield {
            "url": f"http://127.0.0.1:{admin_port}",
            "token": token,
            "config": str(config),
            "public": f"http://127.0.0.1:{port}",
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def admin(sat: dict[str, str], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GEOSHARD_ADMIN_")}
    base.update({"GEOSHARD_ADMIN_URL": sat["url"], "GEOSHARD_ADMIN_TOKEN": sat["token"]} if env is None else env)
    return subprocess.run([*GEOSHARD, "admin", *args], capture_output=True, text=True, env=base, timeout=60)


def test_policy_tenant_and_key_from_a_fresh_install(satellite: dict[str, str]) -> None:
    r = admin(
        satellite,
        "policy",
        "create",
        "eu",
        "--countries",
        "EU",
        "--exclude",
        "HU",
        "--scheme",
        "4/6/8/10",
        "--min-countries",
        "2",
    )
    assert r.returncode == 0, r.stderr
    assert "created policy" in r.stdout and "4/6/8/10" in r.stdout

    r = admin(satellite, "tenant", "create", "acme", "--default-policy", "eu")
    assert r.returncode == 0, r.stderr

    r = admin(satellite, "--json", "key", "create", "--tenant", "acme")
    assert r.returncode == 0, r.stderr
    key = json.loads(r.stdout)
    assert key["access_key_id"].startswith("GS") and key["secret_access_key"] and key["tenant"] == "acme"

    r = admin(satellite, "key", "list", "--tenant", "acme")
    assert r.returncode == 0 and key["access_key_id"] in r.stdout and "active" in r.stdout
    assert key["secret_access_key"] not in r.stdout

    r = admin(satellite, "policy", "list")
    lines = r.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "SCHEME"] and lines[1].split()[:2] == ["eu", "4/6/8/10"]
    r = admin(satellite, "tenant", "show", "acme", "--json")
    assert json.loads(r.stdout)["default_policy"] == "eu"
    r = admin(satellite, "policy", "update", "eu", "--countries", "EU", "--scheme", "3/5/7/9", "--min-countries", "3")
    assert r.returncode == 0 and "updated policy" in r.stdout and "3/5/7/9" in r.stdout, r.stderr
    r = admin(satellite, "policy", "update", "nope", "--scheme", "1/1/1/1")
    assert r.returncode == 1 and "no placement policy named 'nope'" in r.stderr

    # A policy in use cannot go, and the message says who uses it and what to run.
    r = admin(satellite, "policy", "delete", "eu")
    assert r.returncode == 1
    assert "the default of tenant acme" in r.stderr and "set-default-policy" in r.stderr

    r = admin(satellite, "key", "revoke", key["access_key_id"])
    assert r.returncode == 0 and "revoked" in r.stdout
    r = admin(satellite, "node", "list")
    assert r.returncode == 0 and r.stdout.strip() == "(none)"


def test_errors_people_can_act_on(satellite: dict[str, str]) -> None:
    r = admin(satellite, "policy", "list", env={"GEOSHARD_ADMIN_URL": satellite["url"], "GEOSHARD_ADMIN_TOKEN": "x"})
    assert r.returncode == 1 and "wrong admin token" in r.stderr
    r = admin(satellite, "policy", "list", env={"GEOSHARD_ADMIN_URL": satellite["url"]})
    assert r.returncode == 1 and "GEOSHARD_ADMIN_TOKEN" in r.stderr
    r = admin(satellite, "policy", "create", "x", "--countries", "DE,UK", "--scheme", "4/6/8/10")
    assert r.returncode == 1 and "UK" in r.stderr and "the United Kingdom is GB" in r.stderr
    r = admin(satellite, "tenant", "show", "ghost")
    assert r.returncode == 1 and "no tenant" in r.stderr
    dead = {"GEOSHARD_ADMIN_URL": f"http://127.0.0.1:{free_port()}", "GEOSHARD_ADMIN_TOKEN": "x"}
    r = admin(satellite, "policy", "list", env=dead)
    assert r.returncode == 1 and "cannot reach the admin API" in r.stderr
    # On the satellite's machine the config file is enough.
    r = admin(satellite, "--satellite-config", satellite["config"], "tenant", "list", env={})
    assert r.returncode == 0, r.stderr


def test_admin_api_is_not_on_the_public_port(satellite: dict[str, str]) -> None:
    req = urllib.request.Request(
        satellite["public"] + "/v1/policies", headers={"Authorization": f"Bearer {satellite['token']}"}
    )
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code in (401, 403, 404)
