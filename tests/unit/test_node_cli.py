"""``geoshard node init`` validation and ``node status``, through the real command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
import tomllib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from common.identity import Identity
from geoshard.cli import main
from storage_node.config import NodeConfig, parse_size

GOOD_WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
SAT_ID = Identity.generate().id


def _init(tmp_path, *extra: str, data=None, satellite=None, capacity="100MB", country="DE", wallet=GOOD_WALLET):
    """``node init``; without ``satellite``, offline against an id (tests of the other checks)."""
    offline = ("--offline",) if satellite is None else ()
    argv = [
        "node", "init", "--data", str(data or tmp_path / "node"), "--capacity", capacity,
        "--country", country, "--region", "eu", "--wallet", wallet,
        "--satellite", satellite or f"{SAT_ID}@http://127.0.0.1:7070", "--port", "0", *offline, *extra,
    ]
    return main(argv)


def test_init_writes_identity_0600_and_a_loadable_config(tmp_path, capsys):
    assert _init(tmp_path, "--port", "7788", "--address", "http://node.example:7788") == 0
    out = capsys.readouterr().out
    data = tmp_path / "node"
    ident = data / "identity.pem"
    assert stat.S_IMODE(ident.stat().st_mode) == 0o600
    cfg = NodeConfig.load(data / "config.toml")
    assert cfg.satellite_id == SAT_ID and cfg.satellite_url == "http://127.0.0.1:7070"
    assert cfg.capacity == 100_000_000 and cfg.country == "DE" and cfg.region == "eu"
    assert cfg.port == 7788 and cfg.address == "http://node.example:7788" and cfg.wallet == GOOD_WALLET
    assert Identity.load(ident).id in out and "pinned" in out
    # the file is plain TOML a person can read and edit
    assert tomllib.loads((data / "config.toml").read_text())["country"] == "DE"


def test_init_refuses_to_overwrite_without_force_and_keeps_the_identity(tmp_path, capsys):
    assert _init(tmp_path) == 0
    node_id = Identity.load(tmp_path / "node" / "identity.pem").id
    assert _init(tmp_path, capacity="200MB") == 2
    assert "already exists" in capsys.readouterr().err
    assert _init(tmp_path, "--force", capacity="200MB") == 0
    assert Identity.load(tmp_path / "node" / "identity.pem").id == node_id
    assert NodeConfig.load(tmp_path / "node" / "config.toml").capacity == 200_000_000


@pytest.mark.parametrize(
    ("wallet", "needle"),
    [
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", "fails its EIP-55 checksum"),  # one case flipped
        ("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "no EIP-55 checksum"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA", "not an Ethereum address"),
        ("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "not an Ethereum address"),
    ],
)
def test_init_rejects_bad_wallets(tmp_path, capsys, wallet, needle):
    assert _init(tmp_path, wallet=wallet) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "node" / "config.toml").exists()


@pytest.mark.parametrize("country", ["XX", "UK", "EU", "Germany", "D", ""])
def test_init_rejects_unknown_countries(tmp_path, capsys, country):
    assert _init(tmp_path, country=country) == 2
    err = capsys.readouterr().err
    assert "ISO 3166-1 alpha-2" in err and "DE" in err
    assert not (tmp_path / "node").exists()


def test_init_accepts_lower_case_country_and_stores_it_upper(tmp_path):
    assert _init(tmp_path, country="fr") == 0
    assert NodeConfig.load(tmp_path / "node" / "config.toml").country == "FR"


def test_init_rejects_an_unwritable_data_dir(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert _init(tmp_path, data=blocker / "node") == 2
    assert "cannot write to the data directory" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to a mode-0500 directory")
def test_init_rejects_a_read_only_data_dir(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o500)
    assert _init(tmp_path, data=ro) == 2
    assert "cannot write" in capsys.readouterr().err


def test_init_rejects_more_capacity_than_the_disk_has(tmp_path, capsys):
    assert _init(tmp_path, capacity="900PB") == 2
    err = capsys.readouterr().err
    assert "lower --capacity" in err
    assert not (tmp_path / "node" / "config.toml").exists()


@pytest.mark.parametrize("sat", ["not-a-url", "abc@http://127.0.0.1:1", "ftp://x"])
def test_init_rejects_bad_satellite_arguments(tmp_path, capsys, sat):
    assert _init(tmp_path, satellite=sat) == 2
    assert "satellite" in capsys.readouterr().err


@contextlib.asynccontextmanager
async def _identity_server(answer: object) -> AsyncIterator[str]:
    async def identity(_req: web.Request) -> web.Response:
        return web.json_response(answer)

    app = web.Application()
    app.router.add_get("/api/v1/identity", identity)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_init_fetches_and_pins_the_satellite_id_from_a_plain_url(tmp_path, capsys):
    sat = Identity.generate().id
    async with _identity_server({"id": sat}) as url:
        assert await asyncio.to_thread(_init, tmp_path, satellite=url) == 0
    out = capsys.readouterr().out
    assert f"fetched from {url}/api/v1/identity" in out
    assert NodeConfig.load(tmp_path / "node" / "config.toml").satellite_id == sat


async def test_init_fails_clearly_when_the_satellite_answers_nonsense(tmp_path, capsys):
    async with _identity_server({"id": "nope"}) as url:
        assert await asyncio.to_thread(_init, tmp_path, satellite=url) == 2
    assert "did not answer with a satellite id" in capsys.readouterr().err


@pytest.mark.parametrize("sat", ["http://127.0.0.1:9", f"{SAT_ID}@http://127.0.0.1:9"], ids=["url", "id-at-url"])
def test_init_fails_clearly_when_the_satellite_is_unreachable_with_or_without_an_id(tmp_path, capsys, sat):
    assert _init(tmp_path, satellite=sat) == 2
    err = capsys.readouterr().err
    assert "could not reach the satellite" in err and "ID@URL" in err
    assert not (tmp_path / "node" / "config.toml").exists()


def test_status_reports_local_state(tmp_path, capsys):
    assert _init(tmp_path) == 0
    capsys.readouterr()
    assert main(["node", "status", "--config", str(tmp_path / "node" / "config.toml"), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["used"] == 0 and st["piece_count"] == 0 and st["free"] == 100_000_000
    assert main(["node", "status", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "geoshard node init" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "n"),
    [("50GB", 50 * 10**9), ("1.5TiB", int(1.5 * 2**40)), ("1024", 1024), ("10 mb", 10**7), (5, 5)],
)
def test_parse_size(text, n):
    assert parse_size(text) == n


def test_config_round_trips_through_toml(tmp_path):
    cfg = NodeConfig.for_tests(tmp_path, SAT_ID, address='http://h"x:1', capacity=123)
    cfg.save(tmp_path / "c.toml")
    assert NodeConfig.load(tmp_path / "c.toml") == cfg
