"""``geoshard satellite init | migrate | run``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from common.identity import Identity
from satellite.config import SatelliteConfig, load_config, save_config
from satellite.db import SchemaBehindError, create_database, upgrade_schema
from satellite.tenancy import SecretBox

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("satellite", help="run the satellite (metadata, placement, orders)")
    cmds = p.add_subparsers(dest="satellite_command", metavar="ACTION", required=True)
    init = cmds.add_parser("init", help="create identity, config and database in a data directory")
    init.add_argument("--data", required=True, help="data directory")
    init.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite in the data dir)")
    init.add_argument("--port", type=int, default=7777)
    init.add_argument("--admin-port", type=int, default=7778)
    init.add_argument("--host", help="interface the public API listens on (default: the config's, 127.0.0.1)")
    init.add_argument("--admin-host", help="interface the admin API listens on (default 127.0.0.1)")
    init.add_argument(
        "--gateway-config", metavar="PATH",
        help="also write a gateway config (TOML, mode 0600) holding this satellite's URL and gateway token, "
        "so gateways get the token from a file rather than a command line",
    )
    init.add_argument("--public-url", help="the satellite URL gateways use in --gateway-config "
                      "(default http://HOST:PORT)")  # fmt: skip
    init.add_argument("--master-key-file", help="the gateway master key path to name in --gateway-config")
    init.add_argument("--if-missing", action="store_true",
                      help="exit 0 when the config already exists (for container start-up)")  # fmt: skip
    init.set_defaults(func=_init)
    mig = cmds.add_parser("migrate", help="bring the database schema up to date")
    mig.add_argument("--config", required=True)
    mig.set_defaults(func=_migrate)
    run = cmds.add_parser("run", help="run the satellite")
    run.add_argument("--config", required=True)
    run.add_argument(
        "--api-workers",
        type=int,
        default=None,
        metavar="N",
        help="public-API processes (default: config api_workers; 0 = one per CPU on PostgreSQL, 1 on SQLite)",
    )
    run.add_argument(
        "--role",
        type=_role,
        default=None,
        metavar="ROLE[,ROLE...]",
        help="what this process runs: all (default), api, admin, workers (admin + every chore), or chores "
        "by name: audit, repair (= repair-checker, repair-workers), gc, graceful-exit, lifecycle, accounting, "
        "settlement. "
        "Processes sharing one database split the satellite; chores run under database leases, never twice",
    )
    run.set_defaults(func=_run)


def _role(text: str) -> Any:
    from satellite.roles import Role

    try:
        return Role.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


async def _upgrade(config: SatelliteConfig) -> None:
    db = create_database(config.resolved_database_url)
    try:
        await upgrade_schema(db)
    finally:
        await db.close()


def _init(args: argparse.Namespace) -> int:
    data = Path(args.data).resolve()
    data.mkdir(parents=True, exist_ok=True)
    config_path = data / "satellite.json"
    if config_path.exists():
        print(f"{config_path} exists; not overwriting", file=sys.stderr)
        return 0 if args.if_missing else 1
    where = {k: v for k, v in (("host", args.host), ("admin_host", args.admin_host)) if v}
    config = SatelliteConfig(
        data_dir=str(data),
        database_url=args.database_url,
        port=args.port,
        admin_port=args.admin_port,
        **where,
        # Hex: a token is passed on command lines, where a leading "-" reads as an option.
        gateway_token=secrets.token_hex(32),
        admin_token=secrets.token_hex(32),
    )
    ident = Identity.load_or_create(config.resolved_identity_path)
    SecretBox.load_or_create(config.resolved_secrets_key_path)
    asyncio.run(_upgrade(config))
    save_config(config, config_path)
    if args.gateway_config:
        _write_gateway_config(Path(args.gateway_config), config, args.public_url, args.master_key_file)
    print(f"satellite {ident.id}\nconfig    {config_path}\nrun:      geoshard satellite run --config {config_path}")
    return 0


def _write_gateway_config(path: Path, config: SatelliteConfig, url: str | None, master_key: str | None) -> None:
    """A gateway's TOML config for this satellite; mode 0600, it holds the gateway token."""
    host = "127.0.0.1" if config.host in ("0.0.0.0", "") else config.host
    lines = [
        "# Geoshard gateway configuration, written by `geoshard satellite init --gateway-config`",
        f"satellite_url = {json.dumps(url or f'http://{host}:{config.port}')}",
        f"satellite_token = {json.dumps(config.gateway_token)}",
    ]
    if master_key:
        lines.append(f"master_key_file = {json.dumps(master_key)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")


def _migrate(args: argparse.Namespace) -> int:
    asyncio.run(_upgrade(load_config(args.config)))
    print("database schema is up to date")
    return 0


def _run(args: argparse.Namespace) -> int:
    from common.observability import configure_logging
    from satellite.accounting import AccountingConfig, AccountingConfigError
    from satellite.peer import Satellite
    from satellite.process import WorkerStartError, run_until_signal
    from satellite.roles import Role

    configure_logging(os.environ.get("GEOSHARD_LOG", "INFO"), process="satellite")
    config = load_config(args.config)
    try:
        AccountingConfig.from_dict(config.accounting)
    except AccountingConfigError as e:  # a mistyped rate must stop the satellite, not pay nonsense
        print(f"error: {args.config}: {e}", file=sys.stderr)
        return 2
    if args.api_workers is not None:
        if args.api_workers < 0:
            print("error: --api-workers must be 0 (automatic) or more", file=sys.stderr)
            return 2
        config.api_workers = args.api_workers
    role = args.role or Role.ALL
    # One worker: this process serves the API itself. More: it supervises that many API worker
    # processes sharing the port (satellite/process.py), beside whatever else its role runs.
    workers = config.resolved_api_workers if role.api else 0


    def announce(sat: Satellite) -> None:
        from common.collector import settle

        settle()  # what start-up made stays: no collection need walk it again (as nodes and gateways do)
        # One machine-readable line, so scripts and tests can find a port chosen by the OS.
        admin = f"admin {sat.admin_url}" if sat.admin_url else "no admin API"
        api = f"serving at {sat.api_url}" if sat.api_url else "serving no public API"
        chores = ", ".join(ls.name for ls in sat.leased) or "none"
        print(f"geoshard satellite {sat.identity.id} {api} ({admin}; {workers} API processes; role {sat.role}; "
              f"leased chores: {chores})", flush=True)  # fmt: skip

    async def main() -> None:
        sat = await Satellite.create(config, config_path=args.config, role=role, api_workers=max(workers, 1))
        await run_until_signal(sat, announce=announce)

    from common.eventloop import loop_factory

    try:
        with asyncio.Runner(loop_factory=loop_factory()) as runner:
            runner.run(main())
    except (SchemaBehindError, WorkerStartError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
