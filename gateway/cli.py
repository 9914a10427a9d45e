"""``geoshard gateway``: ``init`` makes a master key (and a config), ``run`` serves S3.

``run`` takes ``--config PATH`` (flat TOML, see :class:`~gateway.config.GatewayConfig`)
and/or flags; a flag overrides the file. The satellite token is never a flag's value:
``--satellite-token-file`` (mode 0600) or ``GEOSHARD_SATELLITE_TOKEN``, since every local
user can read a process's arguments. It prints one line with the endpoint once the
port is bound, so scripts (and devnet) can find a port chosen by the OS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.config import (
    TOKEN_ENV,
    ConfigError,
    GatewayConfig,
    create_master_key,
    load_master_key,
    write_private_file,
)

__all__ = ["config_from_args", "register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gw = subparsers.add_parser("gateway", help="run the S3 gateway", description="Run the S3 gateway.")
    sub = gw.add_subparsers(dest="gateway_command", metavar="SUBCOMMAND", required=True)

    init = sub.add_parser("init", help="create the master key (mode 0600) and optionally a config")
    init.add_argument("--master-key-file", required=True, type=Path)
    init.add_argument("--config", type=Path, help="also write a config file here")
    init.add_argument("--satellite", default="", help="satellite API URL for the config")
    init.add_argument("--satellite-token-file", default="",
                      help="file (mode 0600) holding the satellite's gateway token, named in the config")  # fmt: skip
    init.add_argument("--port", type=int, default=9000)
    init.set_defaults(func=cmd_init)

    run = sub.add_parser("run", help="serve the S3 API")
    run.add_argument("--config", type=Path, help="TOML config (flags below override it)")
    run.add_argument("--satellite", dest="satellite_url", help="satellite API URL, e.g. http://127.0.0.1:7777")
    run.add_argument("--satellite-token-file", dest="satellite_token_file",
                     help=f"file (mode 0600) holding the satellite's gateway token (else env {TOKEN_ENV})")
    # Kept so old scripts fail loudly instead of silently: a token in argv is readable by
    # every local user (ps, /proc/PID/cmdline).
    run.add_argument("--satellite-token", dest="satellite_token_argv", help=argparse.SUPPRESS)
    run.add_argument("--host", help="interface to listen on (default 0.0.0.0)")
    run.add_argument("--port", type=int, help="port to listen on (default 9000)")
    run.add_argument("--master-key-file", dest="master_key_file", help="32-byte master key, mode 0600")
    run.add_argument("--tls-cert", dest="tls_cert", help="PEM certificate: serve HTTPS")
    run.add_argument("--tls-key", dest="tls_key", help="PEM private key of --tls-cert")
    run.add_argument("--base-domain", dest="base_domains", action="append",
                     help="domain for virtual-host addressing (bucket.DOMAIN); repeatable")  # fmt: skip
    run.add_argument("--segment-size", dest="segment_size", type=int, help="bytes per segment (default 64 MiB)")
    run.add_argument("--workers", type=int,
                     help="processes serving the S3 port (default: config workers; 0 = one per CPU)")  # fmt: skip
    run.add_argument("--log-level", default="INFO")
    run.add_argument("--metrics-port", dest="metrics_port", type=int,
                     help="serve Prometheus /metrics and /health on this port (default off)")  # fmt: skip
    run.add_argument("--metrics-host", dest="metrics_host", help="interface for --metrics-port (default 127.0.0.1)")
    run.set_defaults(func=cmd_run)


_OVERRIDES = ("satellite_url", "satellite_token_file", "host", "port", "master_key_file", "tls_cert", "tls_key",
              "base_domains", "segment_size")  # fmt: skip


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> GatewayConfig:
    """The flags over the config file; the token from ``--satellite-token-file``, else
    ``GEOSHARD_SATELLITE_TOKEN``, else the config file — never from argv."""
    if getattr(args, "satellite_token_argv", None) is not None:
        raise ConfigError(f"--satellite-token would show the token to every local user (ps); "
                          f"use --satellite-token-file (mode 0600) or set {TOKEN_ENV}")  # fmt: skip
    overrides: dict[str, Any] = {k: getattr(args, k) for k in _OVERRIDES if getattr(args, k, None) is not None}
    if "satellite_token_file" not in overrides and environ.get(TOKEN_ENV):
        overrides["satellite_token"] = environ[TOKEN_ENV]
    if args.config is not None:
        return GatewayConfig.load(args.config, **overrides)
    missing = [f"--{k.replace('_url', '').replace('_', '-')}" for k in ("satellite_url", "master_key_file")
               if k not in overrides]  # fmt: skip
    if "satellite_token_file" not in overrides and "satellite_token" not in overrides:
        missing.append(f"--satellite-token-file (or {TOKEN_ENV})")
    if missing:
        raise ConfigError(f"give --config, or {' '.join(missing)}")
    return GatewayConfig(**{"satellite_token": "", **overrides})


def cmd_init(args: argparse.Namespace) -> int:
    try:
        create_master_key(args.master_key_file)
    except FileExistsError:
        print(f"geoshard gateway init: {args.master_key_file} exists; keeping it", file=sys.stderr)
    if args.config is not None:
        lines = [
            f'satellite_url = "{args.satellite}"',
            f'master_key_file = "{Path(args.master_key_file).resolve()}"',
            f"port = {args.port}",
        ]
        if args.satellite_token_file:
            lines.insert(1, f'satellite_token_file = "{Path(args.satellite_token_file).resolve()}"')
        write_private_file(args.config, "# Geoshard gateway configuration (geoshard gateway init)\n"
                           + "\n".join(lines) + "\n")  # fmt: skip
    print(f"master key at {args.master_key_file} (mode 0600): back it up — without it no object can be read")
    return 0


async def _serve(config: GatewayConfig) -> None:
    from gateway.peer import GatewayPeer
    from gateway.process import announce, serve_one

    peer = GatewayPeer(config)
    await serve_one(peer, lambda p: announce(p.url, p.metrics_url))


def cmd_run(args: argparse.Namespace) -> int:
    from common.observability import configure_logging  # here: other commands need not load metrics

    configure_logging(args.log_level, process="gateway")
    try:
        config = config_from_args(args)
        for name in ("metrics_host", "metrics_port", "workers"):  # process flags, beside the file's values
            if getattr(args, name, None) is not None:
                setattr(config, name, getattr(args, name))
        if config.workers < 0:
            raise ConfigError(f"--workers must be 0 (one per CPU) or more, got {config.workers}")
        load_master_key(config.master_key_file)
    except (ConfigError, OSError, TypeError) as e:
        print(f"geoshard gateway run: error: {e}", file=sys.stderr)
        return 2
    if config.resolved_workers > 1:
        from gateway.process import exec_parent

        exec_parent(config, config.resolved_workers, log_level=args.log_level)  # does not return
    from gateway.pipeline.heap import keep_freed_buffers

    keep_freed_buffers()  # a PUT's windows reuse freed heap instead of faulting in fresh pages
    from common.eventloop import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()) as runner, contextlib.suppress(asyncio.CancelledError):
        runner.run(_serve(config))
    return 0
