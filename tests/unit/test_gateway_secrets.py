"""The gateway's satellite token never travels in argv (issue 16, finding 4).

``geoshard gateway run`` reads it from ``--satellite-token-file`` (mode 0600) or
``GEOSHARD_SATELLITE_TOKEN``; the old ``--satellite-token`` flag is refused with the way
out; ``gateway init --config`` writes a config only its owner can read.
"""

from __future__ import annotations

import argparse
import os
import stat

import pytest

from gateway.cli import config_from_args, register
from gateway.config import ConfigError, GatewayConfig, create_master_key


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["gateway", *argv])


@pytest.fixture
def key(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "master.key"
    create_master_key(path)
    return str(path)


def test_token_on_the_command_line_is_refused_and_names_the_alternatives(key):
    args = _parse("run", "--satellite", "http://127.0.0.1:1", "--satellite-token", "s3cret", "--master-key-file", key)
    with pytest.raises(ConfigError) as e:
        config_from_args(args, environ={})
    assert "--satellite-token-file" in str(e.value) and "GEOSHARD_SATELLITE_TOKEN" in str(e.value)
    assert "s3cret" not in str(e.value)


def test_token_comes_from_the_environment_or_a_private_file(tmp_path, key):
    args = _parse("run", "--satellite", "http://127.0.0.1:1", "--master-key-file", key)
    assert config_from_args(args, environ={"GEOSHARD_SATELLITE_TOKEN": "from-env"}).satellite_token == "from-env"
    with pytest.raises(ConfigError, match="GEOSHARD_SATELLITE_TOKEN"):
        config_from_args(args, environ={})
    token = tmp_path / "satellite.token"
    token.write_text("from-file\n")
    token.chmod(0o644)
    args = _parse("run", "--satellite", "http://127.0.0.1:1", "--master-key-file", key,
                  "--satellite-token-file", str(token))  # fmt: skip
    with pytest.raises(ConfigError, match="readable by others"):
        config_from_args(args, environ={})
    token.chmod(0o600)
    assert config_from_args(args, environ={"GEOSHARD_SATELLITE_TOKEN": "ignored"}).satellite_token == "from-file"


def test_init_writes_a_private_config_that_names_the_token_file(tmp_path):
    token = tmp_path / "satellite.token"
    token.write_text("tok-7f3a9c\n")
    token.chmod(0o600)
    cfg = tmp_path / "gateway.toml"
    args = _parse("init", "--master-key-file", str(tmp_path / "master.key"), "--config", str(cfg),
                  "--satellite", "http://127.0.0.1:7777", "--satellite-token-file", str(token))  # fmt: skip
    assert args.func(args) == 0
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert "tok-7f3a9c" not in cfg.read_text()
    loaded = GatewayConfig.load(cfg)
    assert loaded.satellite_token == "tok-7f3a9c" and loaded.satellite_url == "http://127.0.0.1:7777"


def test_a_config_holding_the_token_itself_must_be_private(tmp_path, key):
    cfg = tmp_path / "gateway.toml"
    cfg.write_text(f'satellite_url = "http://127.0.0.1:1"\nsatellite_token = "t"\nmaster_key_file = "{key}"\n')
    os.chmod(cfg, 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        GatewayConfig.load(cfg)
    os.chmod(cfg, 0o600)
    assert GatewayConfig.load(cfg).satellite_token == "t"
