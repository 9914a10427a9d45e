"""``geoshard node``: init, run and status for a node operator.

``init`` refuses anything that would only fail later — an unwritable or too small data
directory, a mistyped wallet, a country that does not exist, an unreachable satellite —
with a message that says what to change. It pins the satellite's id: a node only ever
accepts orders signed by that key.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from common.countries import is_country_code
from common.identity import Identity, is_peer_id
from common.progress import bar
from common.wallet import wallet_problem
from storage_node.config import ConfigError, NodeConfig, format_size, parse_size
from storage_node.nodedb import NodeDB
from storage_node.onboarding import (
    IDENTITY_PATH,
    OnboardingError,
    ask_missing,
    check_capacity,
    check_port_free,
    fetch_satellite_id,
    verify_satellite,
)
from storage_node.pieces.retain_progress import read_progress
from storage_node.pieces.store import scan_usage
from storage_node.reputation import ReputationUnavailable, fetch_reputation, format_reputation
from storage_node.scrub import ScrubRecords

__all__ = ["InitError", "check_wallet", "parse_satellite", "register"]

# ``node init`` cannot go on; the message tells the operator what to fix.
InitError = OnboardingError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    node = subparsers.add_parser("node", help="run a storage node", description="Run a storage node.")
    sub = node.add_subparsers(dest="node_command", metavar="SUBCOMMAND", required=True)

    init = sub.add_parser(
        "init", help="create a node's identity and configuration",
        description="Create a node's identity and configuration. In a terminal, asks for what the flags leave out.",
    )
    init.add_argument("--data", type=Path, help="directory for pieces and node state")
    init.add_argument("--capacity", help="space to offer, e.g. 500GB, 2TB, 1.5TiB")
    init.add_argument("--country", help="ISO 3166-1 alpha-2 country code, e.g. DE")
    init.add_argument("--region", help="region name used by placement policies, e.g. eu")
    init.add_argument("--wallet", help="payout address in EIP-55 checksum form (0x…)")
    init.add_argument(
        "--satellite",
        help="ID@http://host:port, or a URL whose /api/v1/identity is asked for the id once",
    )
    init.add_argument(
        "--offline", action="store_true",
        help="do not contact the satellite (needs --satellite ID@URL); for provisioning before it runs",
    )
    init.add_argument("--address", default="", help="URL others reach this node at (default: from --port)")
    init.add_argument("--port", type=int, default=7777, help="port to listen on (default 7777)")
    init.add_argument("--listen-host", default="0.0.0.0", help="interface to listen on (default all)")
    init.add_argument("--dashboard-port", type=int, default=14002,
                      help="port of the operator's dashboard on 127.0.0.1 (default 14002; -1: none)")
    init.add_argument("--config", type=Path, help="where to write the config (default DATA/config.toml)")
    init.add_argument("--force", action="store_true", help="overwrite an existing config (keeps identity)")
    init.set_defaults(func=cmd_init)

    run = sub.add_parser("run", help="serve pieces and check in with the satellite")
    run.add_argument("--config", required=True, type=Path)
    run.add_argument("--log-level", default="INFO")
    run.set_defaults(func=cmd_run)

    status = sub.add_parser("status", help="show used and free space, pieces and trash")
    status.add_argument("--config", required=True, type=Path)
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=cmd_status)

    earn = sub.add_parser("earnings", help="this period's estimate, paystubs and the held total, from the satellite")
    earn.add_argument("--config", required=True, type=Path)
    earn.add_argument("--json", action="store_true", help="print one JSON object")
    earn.set_defaults(func=cmd_earnings)

    leave = sub.add_parser("exit", help="leave the network gracefully: the satellite moves this node's pieces")
    leave.add_argument("--config", required=True, type=Path)
    leave.add_argument("--status", action="store_true", help="only show the exit's progress")
    leave.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    leave.add_argument("--json", action="store_true", help="print one JSON object")
    leave.set_defaults(func=cmd_exit)


# --- init ------------------------------------------------------------------------------


def check_wallet(wallet: str) -> str:
    problem = wallet_problem(wallet)
    if problem is not None:
        raise InitError(problem)
    return wallet


def check_country(country: str) -> str:
    code = country.strip().upper()
    if not is_country_code(code):
        raise InitError(
            f"country {country!r} is not an ISO 3166-1 alpha-2 code; use the two-letter code "
            "of the country the disk is in, e.g. DE, FR, US, JP (GB for the United Kingdom)"
        )
    return code


def parse_satellite(value: str, *, offline: bool = False) -> tuple[str, str, bool]:
    """``(satellite id, url, fetched)`` from ``ID@URL`` or a plain URL.

    Unless ``offline``, the satellite is asked for its id either way: a given id must match.
    """
    sat_id, sep, url = value.partition("@")
    if not sep:
        url = value
    if not re.fullmatch(r"https?://[^\s/@]+(/\S*)?", url):
        raise InitError(f"satellite URL {url!r} must look like http://host:port")
    if sep:
        if not is_peer_id(sat_id):
            raise InitError(f"satellite id {sat_id!r} must be 64 lowercase hex characters")
        if not offline:
            verify_satellite(sat_id, url.rstrip("/"))
        return sat_id, url.rstrip("/"), False
    if offline:
        raise InitError("--offline needs the satellite's id: pass --satellite ID@URL")
    return fetch_satellite_id(url), url.rstrip("/"), True


def check_data_dir(data: Path, capacity: int) -> None:
    try:
        data.mkdir(parents=True, exist_ok=True)
        probe = data / f".write-test-{secrets.token_hex(4)}"
        with open(probe, "wb") as f:
            f.write(b"geoshard")
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as e:
        raise InitError(f"cannot write to the data directory {data}: {e.strerror or e}") from None
    already = scan_usage(data).used  # re-init of a node keeps its pieces
    free = shutil.disk_usage(data).free + already
    if capacity > free:
        raise InitError(
            f"--capacity {format_size(capacity)} is more than the {format_size(free)} available "
            f"at {data}; lower --capacity or free some space"
        )


def init_node(args: argparse.Namespace) -> tuple[NodeConfig, Path, Identity, bool]:
    ask_missing(args)
    try:
        capacity = parse_size(args.capacity)
    except ConfigError as e:
        raise InitError(str(e)) from None
    check_capacity(capacity)
    country = check_country(args.country)
    wallet = check_wallet(args.wallet)
    region = args.region.strip()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", region):
        raise InitError(f"region {args.region!r} must be lowercase letters, digits and dashes, e.g. eu")
    if not 0 <= args.port <= 65535:
        raise InitError(f"--port {args.port} is not a TCP port")
    if args.address and not re.fullmatch(r"https?://\S+", args.address):
        raise InitError(f"--address {args.address!r} must be an http(s) URL")
    data = args.data.expanduser().absolute()
    config_path = (args.config or data / "config.toml").expanduser().absolute()
    if config_path.exists() and not args.force:
        raise InitError(f"{config_path} already exists; pass --force to overwrite it (the identity is kept)")
    check_data_dir(data, capacity)
    check_port_free(args.listen_host, args.port)
    sat_id, sat_url, fetched = parse_satellite(args.satellite, offline=args.offline)

    identity = Identity.load_or_create(data / "identity.pem")
    cfg = NodeConfig(
        data_dir=data,
        identity_path=data / "identity.pem",
        satellite_id=sat_id,
        satellite_url=sat_url,
        capacity=capacity,
        country=country,
        region=region,
        wallet=wallet,
        listen_host=args.listen_host,
        port=args.port,
        address=args.address,
        dashboard_port=getattr(args, "dashboard_port", 14002),
        dashboard_token=secrets.token_urlsafe(24),
    )
    cfg.save(config_path)
    return cfg, config_path, identity, fetched


def cmd_init(args: argparse.Namespace) -> int:
    try:
        cfg, path, identity, fetched = init_node(args)
    except EOFError:
        print("geoshard node init: error: input ended before every setting was given", file=sys.stderr)
        return 2
    except InitError as e:
        print(f"geoshard node init: error: {e}", file=sys.stderr)
        return 2
    how = f"fetched from {cfg.satellite_url}{IDENTITY_PATH}" if fetched else (
        "as given, not checked: --offline" if args.offline else f"checked at {cfg.satellite_url}{IDENTITY_PATH}")
    print(f"node id      {identity.id}")
    print(f"identity     {cfg.identity_path} (mode 0600; back it up: it is the node)")
    print(f"satellite    {cfg.satellite_id} at {cfg.satellite_url} (pinned, {how})")
    print(f"capacity     {format_size(cfg.capacity)} in {cfg.data_dir}")
    print(f"config       {path}")
    if cfg.dashboard_port >= 0:
        print(f"dashboard    http://{cfg.dashboard_host}:{cfg.dashboard_port}/ once running "
              f"(token for remote use: dashboard_token in {path})")
    print(f"start with   geoshard node run --config {shlex.quote(str(path))}")
    return 0


# --- run -------------------------------------------------------------------------------


async def _serve(cfg: NodeConfig, identity: Identity) -> None:
    from storage_node.peer import Peer

    peer = Peer(cfg, identity)
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, main.cancel)
    runner = asyncio.create_task(peer.run())
    started = asyncio.create_task(peer.server.started.wait())
    await asyncio.wait({runner, started}, return_when=asyncio.FIRST_COMPLETED)
    if started.done():
        from common.collector import settle

        settle()  # what start-up made stays: no collection need walk it again
        # One machine-readable line, so scripts and tests can find a port chosen by the OS.
        listen = f"{cfg.listen_host or '0.0.0.0'}:{peer.server.port}"
        print(
            f"geoshard node {identity.id} serving at {peer.url} (listening on {listen}, address {peer.address})",
            flush=True,
        )
        dash = peer.dashboard_server
        if dash is not None:
            await dash.started.wait()
            print(f"dashboard at {dash.url}" if dash.url else f"dashboard unavailable: {dash.error}", flush=True)
            (cfg.data_dir / "dashboard.url").write_text(dash.url + "\n")
    else:
        started.cancel()
    await runner


def cmd_run(args: argparse.Namespace) -> int:
    from common.observability import configure_logging  # here: `node init` need not load metrics

    configure_logging(args.log_level, process="storage-node")
    try:
        cfg = NodeConfig.load(args.config)
        identity = Identity.load(cfg.identity_path)
    except (ConfigError, OSError, ValueError) as e:
        print(f"geoshard node run: error: {e}", file=sys.stderr)
        return 2
    from common.eventloop import loop_factory

    with asyncio.Runner(loop_factory=loop_factory()) as runner, contextlib.suppress(asyncio.CancelledError):
        runner.run(_serve(cfg, identity))
    return 0


# --- status ----------------------------------------------------------------------------


def node_status(cfg: NodeConfig) -> dict[str, Any]:
    """What the operator's disk holds, from the node's own files (no satellite needed)."""
    usage = scan_usage(cfg.data_dir)
    unsettled_bytes = unsettled_orders = 0
    scrub: dict[str, Any] = {"enabled": cfg.scrub_period > 0, "period": cfg.scrub_period, "passes": 0}
    if cfg.db_path.exists():
        db = NodeDB(cfg.db_path)
        try:
            orders = db.orders.unsettled(limit=1_000_000)
            unsettled_orders, unsettled_bytes = len(orders), sum(o.bytes for o in orders)
            records = ScrubRecords(db.conn)
            scrub.update(records.load().to_json(), losses_unreported=len(records.unreported()))
        finally:
            db.close()
    node_id = Identity.load(cfg.identity_path).id if cfg.identity_path.exists() else None
    return {
        "node_id": node_id,
        "satellite_id": cfg.satellite_id,
        "satellite_url": cfg.satellite_url,
        "capacity": cfg.capacity,
        "used": usage.used,
        "free": max(0, cfg.capacity - usage.used),
        "pieces": usage.pieces,
        "piece_count": usage.piece_count,
        "trash": usage.trash,
        "trash_count": usage.trash_count,
        "unsettled_egress_bytes": unsettled_bytes,
        "unsettled_orders": unsettled_orders,
        "scrub": scrub,
        "retain": read_progress(cfg.data_dir),
    }


def format_retain(r: dict[str, Any] | None) -> list[str]:
    """The garbage-collection line of ``geoshard node status``: a bar while a retain pass runs."""
    if r is None:
        return ["retain       no retain list applied yet (the satellite sends one per gc interval)"]
    if r.get("state") == "running":
        return [f"retain       {bar(float(r['progress']))} {r['checked']} of ~{r['total']} pieces checked, "
                f"{r['trashed']} moved to trash so far"]  # fmt: skip
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(r["finished_at"]))
    took = r["finished_at"] - r["started_at"]
    return [f"retain       last pass {when}: {r['kept']} kept, {r['trashed']} moved to trash, {took:.1f}s"]


def format_scrub(s: dict[str, Any]) -> list[str]:
    """The scrub's lines of ``geoshard node status``: last pass, pieces verified, losses found."""
    if not s.get("enabled"):
        return ["scrub        off (scrub_period = 0)"]
    if s.get("passes"):
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(s["last_pass_finished"]))
        last = (f"last pass {when}, {s['last_pass_verified']} pieces verified, "
                f"{s['last_pass_losses']} lost, {s['last_pass_seconds']:.0f}s")  # fmt: skip
    else:
        last = "no pass finished yet"
    lines = [f"scrub        {last} (one pass every {s['period']:g}s)"]
    if s.get("pass_started") and s.get("pass_started", 0) > s.get("last_pass_finished", 0):
        lines.append(f"             this pass: {s['pass_verified']} verified, {s['pass_losses']} lost so far")
    lines.append(f"             all time: {s.get('total_verified', 0)} verified, {s.get('total_losses', 0)} lost"
                 + (f", {s['losses_unreported']} not yet reported" if s.get("losses_unreported") else ""))  # fmt: skip
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    try:
        cfg = NodeConfig.load(args.config)
    except ConfigError as e:
        print(f"geoshard node status: error: {e}", file=sys.stderr)
        return 2
    st = node_status(cfg)
    # Scores live on the satellite: ask it, but a status must still show the disk without it.
    rep: dict[str, Any] | str
    try:
        rep = fetch_reputation(Identity.load(cfg.identity_path), cfg.satellite_id, cfg.satellite_url)
    except (ReputationUnavailable, OSError, ValueError) as e:
        rep = str(e)
    st["reputation"] = rep if isinstance(rep, dict) else {"error": rep}
    exit_state = _exit_state(cfg) if isinstance(rep, dict) else None
    if exit_state is not None:
        st["graceful_exit"] = exit_state
    st["earnings"] = _earnings_summary(cfg)
    if args.json:
        print(json.dumps(st))
        return 0
    print(f"node         {st['node_id']}")
    print(f"satellite    {st['satellite_id']} at {st['satellite_url']}")
    print(f"capacity     {format_size(st['capacity'])}")
    print(f"used         {format_size(st['used'])} ({st['used']} bytes)")
    print(f"free         {format_size(st['free'])}")
    print(f"pieces       {st['piece_count']} ({format_size(st['pieces'])})")
    print(f"trash        {st['trash_count']} ({format_size(st['trash'])})")
    print(f"unsettled    {st['unsettled_orders']} orders, {format_size(st['unsettled_egress_bytes'])} egress")
    print("\n".join(format_scrub(st["scrub"])))
    print("\n".join(format_retain(st["retain"])))
    if isinstance(rep, dict):
        print("\n".join(format_reputation(rep)))
    else:
        print(f"reputation   unavailable: {rep}")
    if exit_state is not None and exit_state.get("status") != "none":
        from storage_node.gracefulexit import format_exit

        print("\n".join(format_exit(exit_state)))
    e = st["earnings"]
    if "error" in e:
        print(f"earnings     unavailable: {e['error']}")
    else:
        print(f"earnings     {e['this_period']} {e['currency']} so far in {e['period']}; held {e['held_total']}, "
              f"paid {e['paid_total']}, awaiting settlement {e['pending_total']} (see `node earnings`)")  # fmt: skip
        if e.get("stake_line"):
            print(e["stake_line"])
    return 0


def _earnings_summary(cfg: NodeConfig) -> dict[str, Any]:
    """This period so far, held and paid totals, from the satellite (``node earnings`` has all)."""
    from storage_node.earnings import EarningsUnavailable, fetch_earnings, format_stake

    try:
        e = fetch_earnings(Identity.load(cfg.identity_path), cfg.satellite_id, cfg.satellite_url)
    except (EarningsUnavailable, OSError, ValueError) as exc:
        return {"error": str(exc)}
    cur = e["current_period"]
    return {"currency": e["currency"], "period": cur["period"], "this_period": cur["gross"],
            "held_total": e["held_total"], "paid_total": e["paid_total"], "pending_total": e["pending_total"],
            "last_paystub": e["paystubs"][0] if e["paystubs"] else None,
            "stake": e.get("stake"), "stake_line": format_stake(e)}  # fmt: skip


# --- earnings --------------------------------------------------------------------------


def cmd_earnings(args: argparse.Namespace) -> int:
    from storage_node.earnings import EarningsUnavailable, fetch_earnings, format_earnings

    try:
        cfg = NodeConfig.load(args.config)
        identity = Identity.load(cfg.identity_path)
    except (ConfigError, OSError, ValueError) as e:
        print(f"geoshard node earnings: error: {e}", file=sys.stderr)
        return 2
    try:
        earnings = fetch_earnings(identity, cfg.satellite_id, cfg.satellite_url)
    except EarningsUnavailable as e:
        print(f"geoshard node earnings: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(earnings) if args.json else "\n".join(format_earnings(earnings)))
    return 0


def _exit_state(cfg: NodeConfig) -> dict[str, Any] | None:
    """The satellite's view of this node's graceful exit; ``None`` when it cannot be asked."""
    from storage_node.gracefulexit import ExitUnavailable, request_exit

    try:
        return request_exit(Identity.load(cfg.identity_path), cfg.satellite_id, cfg.satellite_url, "status")
    except (ExitUnavailable, OSError, ValueError):
        return None


# --- exit ------------------------------------------------------------------------------


def cmd_exit(args: argparse.Namespace) -> int:
    from storage_node.gracefulexit import ExitUnavailable, format_exit, request_exit

    try:
        cfg = NodeConfig.load(args.config)
        identity = Identity.load(cfg.identity_path)
    except (ConfigError, OSError, ValueError) as e:
        print(f"geoshard node exit: error: {e}", file=sys.stderr)
        return 2
    action = "status" if args.status else "begin"
    if action == "begin" and not args.yes:
        answer = input(
            "A graceful exit cannot be undone: the satellite stops sending this node data and "
            "moves all of its pieces away. Keep the node running until it completes. Exit? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("not exiting")
            return 1
    try:
        state = request_exit(identity, cfg.satellite_id, cfg.satellite_url, action)
    except ExitUnavailable as e:
        print(f"geoshard node exit: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(state) if args.json else "\n".join(format_exit(state)))
    return 0
