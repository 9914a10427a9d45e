"""``geoshard devnet``: a whole Geoshard network on this machine, in one command.

It starts, as separate processes on loopback, the satellite (SQLite, in its data
directory), ``--nodes`` storage nodes spread over five countries in two regions, and
the S3 gateway; creates the policies ``global``, ``eu`` and ``na``, a tenant and an
access key; prints the endpoint and copy-paste commands; and writes them, shell-sourceable,
to ``DATA/devnet.env``. Ctrl-C (or SIGTERM) stops every process within the 10 s that
supervisors allow (gateway first, then the rest together); a devnet that is SIGKILLed takes
its children with it (``PR_SET_PDEATHSIG``). Running the command again resumes the same
network with its data and credentials; it refuses to start while processes of an earlier
run on the same data directory still live (``DATA/devnet.pids``), naming them.

No secret is ever on a command line (every local user can read ``/proc/PID/cmdline``):
the gateway reads the satellite token from ``DATA/gateway/satellite.token`` (mode 0600),
the satellite its tokens from its own config file (0600), and ``devnet.env`` is 0600 too.

Each storage node listens on its own loopback /24 (``127.0.N.1``): Linux routes all of
``127.0.0.0/8`` to the loopback interface, so the satellite's one-piece-per-/24 placement
rule holds for real on one machine instead of being switched off for development.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common.identity import Identity
from common.lifecycle_rules import DAY_SECONDS_ENV
from gateway.config import write_private_file
from geoshard.devnet_banner import open_settlement, print_banner, rclone_line, tls_probe
from geoshard.pidfile import PidFile, busy_ports
from geoshard.supervisor import Child, ChildDied, Supervisor, http_ready

__all__ = ["node_locations", "node_wallet", "rclone_line", "register", "run_devnet", "scaled_scheme"]

# Where devnet's nodes claim to be: three EU countries, two North American ones.
EU = (("DE", "eu"), ("FR", "eu"), ("NL", "eu"))
NA = (("US", "na"), ("CA", "na"))


def node_locations(count: int) -> list[tuple[str, str]]:
    """Country and region per node: 60% in the EU, the rest in North America."""
    eu_count = max(1, round(count * 0.6)) if count > 1 else count
    out = [EU[i % len(EU)] for i in range(eu_count)]
    out += [NA[i % len(NA)] for i in range(count - eu_count)]
    return out


def scaled_scheme(nodes: int) -> str:
    """A k/repair/success/total scheme for ``nodes`` eligible nodes.

    4/6/8/10 (the design's small-network default) from 11 nodes up; below that the same
    proportions on ``nodes - 1``, so that one node may be down and uploads still place.
    """
    total = max(1, min(10, nodes - 1 if nodes > 2 else nodes))
    k = max(1, round(total * 0.4))
    success = max(k, total - max(1, total // 5)) if total > 1 else total
    repair = max(k, min(success, k + (success - k + 1) // 2))
    return f"{k}/{repair}/{success}/{total}"


def node_wallet(index: int) -> str:
    """Node ``index``'s wallet: the address of a key the satellite can derive too, so that in the
    stake profile it can stake for the devnet's nodes on its in-process chain."""
    from eth_account import Account

    from satellite.payouts.staking import devnet_node_key

    return str(Account.from_key(devnet_node_key(index)).address)


@dataclass
class DevnetOptions:
    data: Path
    nodes: int
    host: str
    gateway_port: int
    satellite_port: int
    admin_port: int
    node_port_base: int
    tls: bool
    node_capacity: str
    dashboard_port_base: int = 14002
    stake: bool = False
    scrub_period: float = 120.0
    lifecycle_day_seconds: int = 86_400  # --lifecycle-day-seconds: a lifecycle rule's "day"


def _geoshard() -> list[str]:
    return [sys.executable, "-m", "geoshard.cli"]


def _run_cli(*args: str) -> None:
    import subprocess

    res = subprocess.run([*_geoshard(), *args], capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"geoshard {' '.join(args)} failed:\n{res.stdout}{res.stderr}")


def _node_host(opts: DevnetOptions, index: int) -> str:
    if opts.host in ("127.0.0.1", "localhost"):
        return f"127.0.{10 + index}.1"
    return opts.host


def _prepare_satellite(opts: DevnetOptions) -> Path:
    from satellite.config import load_config, save_config

    sat_dir = opts.data / "satellite"
    cfg_path = sat_dir / "satellite.json"
    if not cfg_path.exists():
        _run_cli("satellite", "init", "--data", str(sat_dir))
    cfg = load_config(cfg_path)
    # Devnet timing: nodes check in every 15 s (four times in the online window: a node is
    # offline after a minute without contact, and a node's first check-in at start is
    # immediate), and the whole network is "new", so vetting must not starve it. Every 5 s
    # cost an idle devnet two check-ins a second for nothing it shows.
    cfg.host = opts.host
    cfg.port = opts.satellite_port
    cfg.admin_host = opts.host
    cfg.admin_port = opts.admin_port
    cfg.checkin_interval = 15
    cfg.online_window = 60
    cfg.new_node_fraction = 1.0
    cfg.min_free_bytes = 0
    cfg.node_cache_ttl = 1.0
    # Audits every second, a score that a cheater sinks below 0.96 within tens of audits,
    # and three audits to vet a node: a test sees disqualification in seconds.
    cfg.audit_interval = 1.0
    # At most 17 audits a second (~14.5 with the rests): the coverage an idle devnet had when
    # passes ran as fast as the CPU allowed (13-17 a second; docs/decisions.md, 2026-12-01).
    cfg.audit_max_rate = 17.0
    cfg.audit_timeout = 3.0
    cfg.audit_lambda = 0.98
    cfg.audit_initial_alpha = 50.0
    cfg.unknown_lambda = 0.8
    cfg.unknown_initial_alpha = 5.0
    cfg.suspension_grace = 120
    cfg.online_score_window = 600
    cfg.online_min_audits = 5
    cfg.vetting_audits = 3
    # A retain list to every node every half minute and exit passes every second. Pieces
    # stay protected for max(segment_token_ttl, order_ttl) after upload (satellite/gc); the
    # devnet's processes share one clock, so no skew margin on top.
    cfg.gc_interval = 30.0
    # Five minutes for a begun segment to commit and for an order to be used (production:
    # an hour): garbage and graceful exits then settle within minutes on devnet.
    cfg.segment_token_ttl = 300
    cfg.order_ttl = 300
    cfg.gc_clock_skew = 0
    cfg.exit_interval = 1.0
    cfg.exit_max_offline = 120
    cfg.exit_min_failures = 3
    # Repair: a checker pass every two seconds, idle repairers poll every second, and a job
    # whose worker died is retried after 30 s.
    cfg.repair_checker_interval = 2.0
    cfg.repair_interval = 1.0
    cfg.repair_claim_timeout = 30.0
    cfg.repair_job_timeout = 60.0
    cfg.repair_short_retry = 5.0
    # Accounting: 20-second periods tallied every 2 s, no payout minimum, and ten-minute
    # "months" of node age, so a devnet pays its nodes on chain within half a minute of data
    # being stored (a period ends, a tally covers its end, it closes 2 s later and settlement
    # polls every 2 s: at worst ~30 s; with one-minute periods the worst case was ~75 s) and its
    # nodes walk through the held-back schedule in an hour and a half. The token is the test
    # token the in-process chain deploys (its symbol; its decimals are accounting's).
    cfg.accounting = {
        **cfg.accounting,
        "period_seconds": 20,
        "tally_interval": 2,
        "close_delay": 2,
        "meter_flush_interval": 2,
        "token_symbol": "GST",
        "order_settlement_window": 3600,
        "min_payout": "0",
        "month_seconds": 600,
        "incident_grace": 30,
    }
    # Settlement on the in-process test chain: final at one block, polled every two seconds.
    # The test token has no market price, so no payee is rolled over for its fee.
    cfg.payout_chain_url = ""
    cfg.payout_confirmations = 1
    cfg.payout_interval = 2.0
    cfg.payout_retry_delay = 10.0
    cfg.payout_rebroadcast_after = 10.0
    cfg.payout_native_price = 0.0
    # The stake profile (--stake): placement needs stake, the satellite deploys the staking
    # contract and stakes for the devnet's own nodes (whose keys it derives, see node_wallet).
    cfg.stake_required = opts.stake
    cfg.stake_unbonding = 60
    cfg.stake_refresh_interval = 2.0
    # Residency: the devnet's satellite and database say they run in Germany (EU), so the "eu"
    # policy keeps small objects inline and "na" buckets piece them (satellite/residency).
    cfg.metadata_country = cfg.metadata_country or "DE"
    cfg.metadata_region = cfg.metadata_region or "eu"
    cfg.lifecycle_day_seconds = opts.lifecycle_day_seconds  # the gateway reads it from the environment
    save_config(cfg, cfg_path)
    return cfg_path


def _node_init_args(opts: DevnetOptions, index: int, satellite: str, country: str, region: str) -> list[str]:
    return [
        "node", "init",
        "--data", str(opts.data / "nodes" / f"node{index:02d}"),
        "--capacity", opts.node_capacity,
        "--country", country,
        "--region", region,
        "--wallet", node_wallet(index),
        "--satellite", satellite,
        "--port", str(opts.node_port_base + index), "--listen-host", _node_host(opts, index),
    ]  # fmt: skip


def _init_nodes(opts: DevnetOptions, satellite: str, locations: list[tuple[str, str]]) -> None:
    """``node init`` for every node without a config yet, in this process: the same parser
    and checks as the command (the satellite is asked for its id, the port must be free),
    without a Python start-up per node, which on a busy machine took minutes for twelve."""
    from geoshard.cli import build_parser
    from storage_node.cli import InitError, init_node

    parser = build_parser("node")  # not every command's: the supervisor stays small
    for i, (country, region) in enumerate(locations):
        if (opts.data / "nodes" / f"node{i:02d}" / "config.toml").exists():
            continue
        argv = _node_init_args(opts, i, satellite, country, region)
        try:
            init_node(parser.parse_args(argv))
        except InitError as e:
            raise SystemExit(f"geoshard {' '.join(argv)} failed: {e}") from None


def _prepare_node(opts: DevnetOptions, index: int, satellite: str, country: str, region: str) -> Path:
    from storage_node.config import NodeConfig

    cfg = opts.data / "nodes" / f"node{index:02d}" / "config.toml"
    host = _node_host(opts, index)
    port = opts.node_port_base + index
    if not cfg.exists():
        _run_cli(*_node_init_args(opts, index, satellite, country, region))
    # Every start applies this run's ports, the satellite's included (a resumed devnet may be
    # given others; the node reports its new address at its first check-in, at start), and devnet timing: check-ins
    # every 15 s (the satellite's answer sets the interval anyway).
    node_cfg = NodeConfig.load(cfg)
    node_cfg.listen_host = host
    node_cfg.port = port
    node_cfg.address = f"http://{host}:{port}"
    node_cfg.satellite_url = satellite.split("@", 1)[1]
    node_cfg.checkin_interval = 15.0
    node_cfg.settlement_interval = 10.0  # served GET orders are submitted soon after they expire
    node_cfg.checkin_retry_max = 5.0
    # A devnet scrubs every piece every two minutes (--scrub-period), so planted rot is found
    # while you watch; a longer period leaves corrupt pieces for the audits to find.
    node_cfg.scrub_period = opts.scrub_period
    # Each node's dashboard on its own loopback address (or 127.0.0.1 when devnet listens
    # elsewhere), scores refreshed every three seconds while a page reads it (else every
    # minute) and a chart sample every five.
    node_cfg.dashboard_host = _dashboard_host(opts, index)
    node_cfg.dashboard_port = opts.dashboard_port_base + index
    node_cfg.dashboard_refresh = 3.0
    node_cfg.dashboard_unwatched_refresh = 60.0
    node_cfg.history_interval = 5.0
    if not node_cfg.dashboard_token:
        import secrets

        node_cfg.dashboard_token = secrets.token_urlsafe(24)
    node_cfg.save(cfg)
    return cfg


def _write_dashboards(opts: DevnetOptions, configs: list[Path]) -> Path:
    """``DATA/dashboards.json``: each node's dashboard URL and token, for the multi-node view."""
    from storage_node.config import NodeConfig

    rows = []
    for i, path in enumerate(configs):
        c = NodeConfig.load(path)
        rows.append({"name": f"node{i:02d}", "url": f"http://{c.dashboard_host}:{c.dashboard_port}",
                     "token": c.dashboard_token, "data": str(c.data_dir)})
    out = opts.data / "dashboards.json"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(rows, f, indent=1)
    return out


def _dashboard_host(opts: DevnetOptions, index: int) -> str:
    host = _node_host(opts, index)
    return host if host.startswith("127.") else "127.0.0.1"


def _wait_checked_in(
    sup: Supervisor, admin_url: str, admin_token: str, addresses: set[str], *, settle: float, timeout: float = 60
) -> None:
    """Block until the satellite knows every node online at this run's address.

    A node that is up is not yet usable: until its first check-in the satellite may still
    hold the address of a previous run and would hand gateways orders for the old port.
    """
    from satellite.admin.client import AdminClient

    client = AdminClient(admin_url, admin_token)
    deadline = time.monotonic() + timeout
    while True:
        nodes = client.call("GET", "/v1/nodes")["nodes"]
        known = {n["address"] for n in nodes if n["online"]}
        if addresses <= known:
            time.sleep(settle)  # the satellite's node cache catches up within its TTL
            return
        if time.monotonic() > deadline:
            raise ChildDied(f"nodes not checked in after {timeout:.0f}s: {sorted(addresses - known)}")
        for c in sup.dead_children():
            raise ChildDied(f"{c.name} exited while the network was starting (log: {c.log_path})")
        time.sleep(0.2)


def _write_env(opts: DevnetOptions, values: dict[str, str]) -> Path:
    path = opts.data / "devnet.env"
    lines = ["# Geoshard devnet — source me: . " + shlex.quote(str(path))]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in values.items()]
    # The clients this checkout installed (aws, s3cmd, geoshard) first on PATH, so the README's
    # commands work in a shell that never activated .venv.
    lines.append(f'PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"; export PATH')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _setup_tenant(
    admin_url: str, admin_token: str, state_path: Path, locations: list[tuple[str, str]]
) -> dict[str, str]:
    """Policies, tenant and key, once; later runs reuse what ``state_path`` remembers."""
    from satellite.admin.client import AdminClient, AdminClientError

    if state_path.exists():
        return dict(json.loads(state_path.read_text()))
    eu_nodes = sum(1 for _, r in locations if r == "eu")
    na_nodes = sum(1 for _, r in locations if r == "na")
    client = AdminClient(admin_url, admin_token)
    policies = [
        {"name": "global", "scheme": scaled_scheme(len(locations)), "min_countries": 2},
        {"name": "eu", "allowed_regions": ["eu"], "scheme": scaled_scheme(eu_nodes), "min_countries": 2},
        {"name": "na", "allowed_regions": ["na"], "scheme": scaled_scheme(na_nodes), "min_countries": 1},
    ]
    for body in policies:
        try:
            client.call("POST", "/v1/policies", body)
        except AdminClientError as e:
            if e.status != 409:  # already there from an interrupted first run
                raise
    try:
        tenant = client.call("POST", "/v1/tenants", {"name": "devnet", "default_policy": "global"})
    except AdminClientError as e:
        if e.status != 409:
            raise
        tenant = client.call("GET", client.path("v1", "tenants", "devnet"))
    key = client.call("POST", client.path("v1", "tenants", tenant["id"], "keys"))
    state = {
        "tenant_id": tenant["id"],
        "access_key_id": key["access_key_id"],
        "secret_key": key["secret_access_key"],
    }
    fd = os.open(state_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f)
    return state


def _preflight(opts: DevnetOptions, pids: PidFile) -> str | None:
    """Why this devnet cannot start beside what already runs, or ``None``."""
    leftovers = pids.still_running()
    if leftovers:
        names = ", ".join(r.describe() for r in leftovers)
        kill = " ".join(str(r.pid) for r in leftovers)
        return (
            f"processes of an earlier devnet on {opts.data} are still running: {names}. "
            f"Stop them first (kill {kill}), then run devnet again."
        )
    wanted = [(opts.host, opts.satellite_port), (opts.host, opts.admin_port), (opts.host, opts.gateway_port)]
    wanted += [(_node_host(opts, i), opts.node_port_base + i) for i in range(opts.nodes)]
    busy = busy_ports(wanted)
    if busy:
        return "these addresses are already in use: " + "; ".join(busy) + ". Stop what holds them or pick other ports."
    return None


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_devnet(opts: DevnetOptions) -> int:
    from satellite.config import load_config

    opts.data.mkdir(parents=True, exist_ok=True)
    logs = opts.data / "logs"
    pids = PidFile(opts.data / "devnet.pids")
    refusal = _preflight(opts, pids)
    if refusal:
        print(f"devnet: {refusal}", file=sys.stderr, flush=True)
        return 1
    pids.add("devnet", os.getpid())
    # SIGTERM while the network is still starting stops it as Ctrl-C does (watch() takes
    # both signals over once everything runs).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    sup = Supervisor(on_start=lambda c: pids.add(c.name, c.proc.pid) if c.proc else None)
    try:
        sat_cfg_path = _prepare_satellite(opts)
        sat_cfg = load_config(sat_cfg_path)
        sat_url = f"http://{opts.host}:{opts.satellite_port}"
        admin_url = f"http://{opts.host}:{opts.admin_port}"
        print(f"starting satellite on {sat_url} (admin API {admin_url})", flush=True)
        sup.start(
            Child("satellite", [*_geoshard(), "satellite", "run", "--config", str(sat_cfg_path)],
                  logs / "satellite.log", ready=http_ready(f"{sat_url}/api/v1/identity")),
            ready_timeout=60,
        )
        satellite_id = Identity.load(sat_cfg.resolved_identity_path).id
        satellite = f"{satellite_id}@{sat_url}"
        locations = node_locations(opts.nodes)
        _init_nodes(opts, satellite, locations)
        children = []
        node_configs = []
        for i, (country, region) in enumerate(locations):
            cfg = _prepare_node(opts, i, satellite, country, region)
            node_configs.append(cfg)
            host, port = _node_host(opts, i), opts.node_port_base + i
            child = Child(f"node{i:02d}-{country}", [*_geoshard(), "node", "run", "--config", str(cfg)],
                          logs / f"node{i:02d}.log", ready=http_ready(f"http://{host}:{port}/v1/info"))
            sup.start(child, wait=False)  # nodes start side by side; wait for all below
            children.append(child)
        sup.wait_ready(children, timeout=60)
        addresses = {f"http://{_node_host(opts, i)}:{opts.node_port_base + i}" for i in range(len(locations))}
        _wait_checked_in(sup, admin_url, sat_cfg.admin_token, addresses, settle=sat_cfg.node_cache_ttl)
        print(f"started {len(children)} storage nodes in {len({c for c, _ in locations})} countries", flush=True)

        state = _setup_tenant(admin_url, sat_cfg.admin_token, opts.data / "devnet-tenant.json", locations)
        settlement = open_settlement(admin_url, sat_cfg.admin_token)
        gw_dir = opts.data / "gateway"
        if not (gw_dir / "master.key").exists():
            _run_cli("gateway", "init", "--master-key-file", str(gw_dir / "master.key"))
        scheme = "https" if opts.tls else "http"
        endpoint = f"{scheme}://{opts.host}:{opts.gateway_port}"
        # Secrets reach children by file (mode 0600), never argv: any local user reads argv.
        token_file = gw_dir / "satellite.token"
        write_private_file(token_file, sat_cfg.gateway_token + "\n")
        gw_args = [
            *_geoshard(), "gateway", "run",
            "--satellite", sat_url, "--satellite-token-file", str(token_file),
            "--host", opts.host, "--port", str(opts.gateway_port),
            "--master-key-file", str(gw_dir / "master.key"),
        ]
        env: dict[str, str] = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": state["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": state["secret_key"],
            "AWS_DEFAULT_REGION": "us-east-1",
            "GEOSHARD_ADMIN_URL": admin_url,
            "GEOSHARD_ADMIN_TOKEN": sat_cfg.admin_token,
        }
        if opts.tls:
            from geoshard.tls import ensure_self_signed

            cert, key = ensure_self_signed(opts.data / "tls", hosts=("localhost", opts.host))
            gw_args += ["--tls-cert", str(cert), "--tls-key", str(key)]
            env["AWS_CA_BUNDLE"] = str(cert)
        probe = http_ready(f"http://{opts.host}:{opts.gateway_port}/") if not opts.tls else tls_probe(endpoint)
        sup.start(Child("gateway", gw_args, logs / "gateway.log", ready=probe), ready_timeout=60)
        env["GEOSHARD_NODE_DASHBOARD"] = f"http://{_dashboard_host(opts, 0)}:{opts.dashboard_port_base}"
        _write_dashboards(opts, node_configs)
        env_path = _write_env(opts, env)
        print_banner(opts, env, env_path, settlement)
        sup.watch()
        print("\nstopping devnet…", flush=True)
        return 0
    except ChildDied as e:
        print(f"devnet: {e}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nstopping devnet…", flush=True)
        return 130
    finally:
        began, count = time.monotonic(), len(sup.running())
        killed = sup.stop()  # every child is gone when it returns (SIGKILL after the grace period)
        pids.remove()
        if count:
            how = f", {len(killed)} killed after the grace period: {', '.join(killed)}" if killed else ""
            print(f"stopped {count} processes in {time.monotonic() - began:.1f}s{how}", flush=True)


def _cmd(args: argparse.Namespace) -> int:
    if args.nodes < 5:
        raise SystemExit("devnet needs at least 5 nodes (the eu and na policies need nodes in each region)")
    opts = DevnetOptions(
        data=Path(args.data).resolve(),
        nodes=args.nodes,
        host=args.host,
        gateway_port=args.port,
        satellite_port=args.satellite_port,
        admin_port=args.admin_port,
        node_port_base=args.node_port_base,
        tls=args.tls,
        node_capacity=args.node_capacity,
        dashboard_port_base=args.dashboard_port_base,
        stake=args.stake,
        scrub_period=args.scrub_period,
        lifecycle_day_seconds=args.lifecycle_day_seconds,
    )
    os.environ[DAY_SECONDS_ENV] = str(args.lifecycle_day_seconds)  # the gateway's x-amz-expiration dates
    return run_devnet(opts)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("devnet", help="run a whole local network: satellite, storage nodes, S3 gateway")
    p.add_argument("--data", default=os.environ.get("GEOSHARD_DEVNET_DATA", "devnet-data"),
                   help="directory for every process's data (default: ./devnet-data)")
    p.add_argument("--nodes", type=int, default=12, help="storage nodes to run (default 12)")
    p.add_argument("--host", default="127.0.0.1", help="address the satellite and gateway listen on")
    p.add_argument("--port", type=int, default=9000, help="S3 gateway port (default 9000)")
    p.add_argument("--satellite-port", type=int, default=7777)
    p.add_argument("--admin-port", type=int, default=7778)
    p.add_argument("--node-port-base", type=int, default=7800, help="node i listens on base+i")
    p.add_argument("--dashboard-port-base", type=int, default=14002,
                   help="node i's dashboard listens on base+i, on its own loopback address (default 14002)")
    p.add_argument("--node-capacity", default="2GB", help="disk each node offers (default 2GB)")
    p.add_argument("--tls", action="store_true", help="serve S3 over HTTPS with a self-signed certificate")
    p.add_argument("--stake", action="store_true",
                   help="the stake profile: nodes must hold stake on chain to receive pieces")
    p.add_argument("--scrub-period", type=float, default=120.0, metavar="SECONDS",
                   help="each node re-verifies every piece it stores once per period (default 120; 0 turns it off)")
    p.add_argument("--lifecycle-day-seconds", type=int, default=86_400, metavar="SECONDS",
                   help="seconds in a lifecycle rule's day, to watch rules work (default 86400)")
    p.set_defaults(func=_cmd)
