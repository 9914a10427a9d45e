"""compose/docker-compose.yml, checked without Docker (which cannot run here).

Structure (the services the design names, six or more nodes in several countries), that
every ``geoshard`` command line in it is one the CLI's own argument parser accepts, that
every ``GEOSHARD_*`` variable it sets is one the code reads, and that ports, addresses,
networks, volumes and dependencies agree with each other.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.countries import is_country_code
from geoshard.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _commands(service: dict[str, Any]) -> list[list[str]]:
    """The ``geoshard`` argvs a service runs: exec form, or ``sh -c`` chains of them."""
    cmd = service.get("command")
    if cmd is None:
        return []
    argv = shlex.split(cmd) if isinstance(cmd, str) else [str(c) for c in cmd]
    if argv[:2] == ["sh", "-c"]:
        out = []
        for part in re.split(r"&&|;|\|\|", argv[2]):
            words = shlex.split(part)
            if words and words[0] == "exec":
                words = words[1:]
            if words and words[0] == "geoshard":
                out.append(words)
        return out
    return [argv] if argv and argv[0] == "geoshard" else []


def _flag(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def _parse(argv: list[str]) -> Any:
    try:
        return build_parser().parse_args(argv[1:])
    except SystemExit as e:  # argparse reports the bad flag on stderr and exits
        raise AssertionError(f"the CLI refuses: {' '.join(argv)}") from e


def test_it_runs_the_processes_the_design_names(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("postgres", "satellite", "gateway", "anvil"):
        assert name in services, name
    assert services["postgres"]["image"].startswith("postgres:")
    assert "anvil" in (services["anvil"].get("entrypoint") or services["anvil"]["command"])
    nodes = {n: s for n, s in services.items() if any(c[1:3] == ["node", "run"] for c in _commands(s))}
    assert len(nodes) >= 6
    countries = {_flag(c, "--country") for s in nodes.values() for c in _commands(s) if c[1:3] == ["node", "init"]}
    assert len(countries) >= 3 and all(is_country_code(c or "") for c in countries), countries
    sat = _commands(services["satellite"])[0]
    assert sat[1:3] == ["satellite", "run"] and int(_flag(sat, "--api-workers") or 0) >= 2


def test_the_satellite_runs_as_api_and_workers_containers_that_cover_every_role(compose: dict[str, Any]) -> None:
    """The design's "satellite API and workers": separate containers whose roles add up to the whole."""
    from satellite.roles import Role

    roles = {name: _parse(c).role for name, s in compose["services"].items() for c in _commands(s)
             if c[1:3] == ["satellite", "run"]}  # fmt: skip
    assert roles["satellite"] == Role.API, roles
    assert roles["satellite-workers"] == Role.WORKERS, roles
    assert not roles["satellite-workers"].api and not roles["satellite"].chores
    union = Role(api=any(r.api for r in roles.values()), admin=any(r.admin for r in roles.values()),
                 chores=frozenset().union(*(r.chores for r in roles.values())))  # fmt: skip
    assert union == Role.ALL
    # The workers dial nodes (audits, retain lists, repair): they are on every node's network.
    services = compose["services"]
    assert set(services["satellite-workers"]["networks"]) == set(services["satellite"]["networks"])


def test_an_unknown_satellite_role_is_refused_by_the_cli() -> None:
    with pytest.raises(AssertionError, match="refuses"):
        _parse(["geoshard", "satellite", "run", "--config", "x.json", "--role", "api,auditor"])


def test_every_geoshard_command_is_accepted_by_the_cli(compose: dict[str, Any]) -> None:
    seen = 0
    for name, service in compose["services"].items():
        for argv in _commands(service):
            _parse(argv)
            seen += 1
        if "build" in service or service.get("image", "").startswith("geoshard"):
            assert _commands(service) or name == "bootstrap", f"{name} runs no geoshard command"
    assert seen >= 12


def test_every_geoshard_variable_it_sets_is_read_by_the_code(compose: dict[str, Any]) -> None:
    source = "\n".join(p.read_text() for pkg in ("common", "storage_node", "satellite", "gateway", "geoshard")
                       for p in (ROOT / pkg).rglob("*.py"))  # fmt: skip
    known = set(re.findall(r"\"(GEOSHARD_[A-Z_]+)\"", source))
    used: set[str] = set()
    for service in compose["services"].values():
        env = service.get("environment") or {}
        names = env if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
        used |= {n for n in names if n.startswith("GEOSHARD_")}
    assert used, "the compose file configures the processes through GEOSHARD_* variables"
    assert used <= known, f"not read by any code: {sorted(used - known)}"
    assert compose["x-geoshard"]["environment"]["GEOSHARD_LOG_FORMAT"] == "json"


def test_ports_addresses_and_health_checks_agree(compose: dict[str, Any]) -> None:
    services = compose["services"]
    published: list[str] = []
    for name, s in services.items():
        for p in s.get("ports", []):
            host, container = str(p).split(":")
            published.append(host)
            listens = {_flag(c, f) for c in _commands(s) for f in ("--port", "--admin-port", "--metrics-port")}
            if name in ("satellite", "satellite-workers"):  # their ports are in the config written by satellite-init
                listens = {_flag(c, f) for c in _commands(services["satellite-init"])
                           for f in ("--port", "--admin-port")}  # fmt: skip
            if name != "anvil":
                assert container in listens, (name, p, listens)
    assert len(published) == len(set(published)), "two services publish the same host port"

    init = _commands(services["satellite-init"])[0]
    sat_port, admin_port = _flag(init, "--port"), _flag(init, "--admin-port")
    assert _flag(init, "--host") == "0.0.0.0" and _flag(init, "--admin-host") == "0.0.0.0"
    assert _flag(init, "--public-url") == f"http://satellite:{sat_port}"
    database = services["postgres"]["environment"]["POSTGRES_DB"]
    assert f"@postgres:5432/{database}" in (_flag(init, "--database-url") or "")
    assert f":{sat_port}/health" in " ".join(services["satellite"]["healthcheck"]["test"])
    assert f":{admin_port}/health" in " ".join(services["satellite-workers"]["healthcheck"]["test"])
    assert f"{sat_port}:{sat_port}" in services["satellite"]["ports"]  # the API container publishes the API
    assert f"{admin_port}:{admin_port}" in services["satellite-workers"]["ports"]  # the workers, the admin port

    for name, s in services.items():
        for c in _commands(s):
            if c[1:3] == ["node", "init"]:
                port = _flag(c, "--port")
                assert _flag(c, "--address") == f"http://{name}:{port}", name
                assert _flag(c, "--satellite") == f"http://satellite:{sat_port}"
                assert f":{port}/health" in " ".join(s["healthcheck"]["test"])
            if c[1:3] == ["admin", "--satellite-config"]:
                assert _flag(c, "--url") == f"http://satellite-workers:{admin_port}"
    gw = _commands(services["gateway"])[0]
    assert _flag(gw, "--config") == _flag(init, "--gateway-config")
    assert f":{_flag(gw, '--metrics-port')}/health" in " ".join(services["gateway"]["healthcheck"]["test"])
    key = _flag(_commands(services["gateway-init"])[0], "--master-key-file")
    assert key == _flag(init, "--master-key-file")


def test_networks_volumes_and_dependencies_exist_and_each_node_has_its_own_slash_24(compose: dict[str, Any]) -> None:
    services, networks, volumes = compose["services"], compose["networks"], compose["volumes"]
    subnets = [n["ipam"]["config"][0]["subnet"] for n in networks.values()]
    assert len({s.rsplit(".", 1)[0] for s in subnets}) == len(subnets), "each network its own /24"
    for name, s in services.items():
        for net in s.get("networks", []):
            assert net in networks, (name, net)
        for v in s.get("volumes", []):
            assert str(v).split(":")[0] in volumes, (name, v)
        for dep in s.get("depends_on", {}):
            assert dep in services, (name, dep)
    nodes = [n for n, s in services.items() if any(c[1:3] == ["node", "run"] for c in _commands(s))]
    for n in nodes:
        (own,) = services[n]["networks"]
        for peer in ("satellite", "satellite-workers", "gateway"):
            assert own in services[peer]["networks"], (n, peer)
        assert sum(own in s.get("networks", []) for s in services.values()) == 4  # node, satellite x2, gateway


def test_satellite_init_writes_the_gateway_config_compose_uses_and_is_idempotent(tmp_path: Path) -> None:
    import json
    import stat

    from gateway.config import GatewayConfig
    from geoshard.cli import main

    data, gw = tmp_path / "sat", tmp_path / "shared" / "gateway.toml"
    argv = ["satellite", "init", "--data", str(data), "--host", "0.0.0.0", "--admin-host", "0.0.0.0",
            "--gateway-config", str(gw), "--public-url", "http://satellite:7777",
            "--master-key-file", "/data/gateway/master.key", "--if-missing"]  # fmt: skip
    assert main(argv) == 0
    sat = json.loads((data / "satellite.json").read_text())
    assert sat["host"] == "0.0.0.0" and sat["admin_host"] == "0.0.0.0"
    assert stat.S_IMODE(gw.stat().st_mode) == 0o600
    cfg = GatewayConfig.load(gw)
    assert cfg.satellite_token == sat["gateway_token"] and cfg.satellite_url == "http://satellite:7777"
    assert cfg.master_key_file == "/data/gateway/master.key"
    assert main(argv) == 0  # a container restart: the config exists, nothing changes
    assert json.loads((data / "satellite.json").read_text()) == sat
    assert main(argv[:-1]) == 1  # without --if-missing an existing config is an error
