"""``geoshard node join-devnet``: one more storage node for a running devnet, in one command.

It reads the devnet's data directory (the satellite's config for its address and id),
gives the new node the next ``nodes/nodeNN`` directory, its own loopback /24
(``127.0.N.1``, so placement's one-piece-per-/24 rule counts it as a network of its own)
and a free port, runs ``node init`` with every check that command makes (the satellite is
asked for its id, the port must be free), and then becomes ``geoshard node run`` in the
foreground: the node checks in at the satellite's interval, and Ctrl-C stops it. To run it
again later: ``geoshard node run --config DATA/nodes/nodeNN/config.toml``.

The command lives here rather than in ``storage_node.cli`` because it reads the devnet's
layout, which only ``geoshard`` knows.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import socket
import sys
from pathlib import Path

__all__ = ["register"]

PLACES = (("DE", "eu"), ("FR", "eu"), ("NL", "eu"), ("US", "na"), ("CA", "na"))


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _next_index(nodes_dir: Path) -> int:
    taken = [int(m.group(1)) for p in nodes_dir.glob("node*") if (m := re.fullmatch(r"node(\d+)", p.name))]
    return max(taken, default=-1) + 1


def _cmd(args: argparse.Namespace) -> int:
    from geoshard.cli import main as geoshard_main
    from geoshard.devnet import node_wallet
    from satellite.config import load_config
    from storage_node.onboarding import region_for

    data = Path(args.data).resolve()
    sat_cfg_path = data / "satellite" / "satellite.json"
    if not sat_cfg_path.exists():
        print(f"geoshard node join-devnet: error: no devnet at {data} (no {sat_cfg_path}); start one with "
              "`geoshard devnet` or pass --data", file=sys.stderr)  # fmt: skip
        return 2
    sat = load_config(sat_cfg_path)
    from common.identity import Identity

    sat_host = "127.0.0.1" if sat.host in ("0.0.0.0", "") else sat.host
    satellite = f"{Identity.load(sat.resolved_identity_path).id}@http://{sat_host}:{sat.port}"
    index = _next_index(data / "nodes")
    country, region = PLACES[index % len(PLACES)]
    if args.country:
        country, region = args.country, args.region or region_for(args.country) or args.country.lower()
    host = f"127.0.{10 + index}.1" if sat_host.startswith("127.") and index < 245 else sat_host
    port = args.port or _free_port(host)
    node_dir = data / "nodes" / f"node{index:02d}"
    code = geoshard_main([
        "node", "init", "--data", str(node_dir), "--capacity", args.capacity, "--country", country,
        "--region", region, "--wallet", node_wallet(index), "--satellite", satellite,
        "--listen-host", host, "--port", str(port), "--address", f"http://{host}:{port}",
        # A free dashboard port: the default 14002 is the first one any other node on this
        # machine takes, and a second node without a page of its own is a defect found joining.
        "--dashboard-port", str(_free_port("127.0.0.1")),
    ])  # fmt: skip
    if code != 0:
        return code
    config = node_dir / "config.toml"
    print(f"\nnode{index:02d} ({country}/{region}) joins the devnet at http://{host}:{port}; Ctrl-C stops it.\n"
          f"Run it again later with: geoshard node run --config {shlex.quote(str(config))}\n", flush=True)  # fmt: skip
    argv = [sys.executable, "-m", "geoshard.cli", "node", "run", "--config", str(config)]
    os.execv(sys.executable, argv)
    return 0  # not reached


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``join-devnet`` to the ``node`` command that ``storage_node.cli`` registered."""
    node = sub.choices["node"]
    actions = [a for a in node._actions if isinstance(a, argparse._SubParsersAction)]
    p = actions[0].add_parser("join-devnet", help="add one more node to a running devnet and run it here")
    p.add_argument("--data", default=os.environ.get("GEOSHARD_DEVNET_DATA", "devnet-data"),
                   help="the devnet's data directory (default: ./devnet-data)")
    p.add_argument("--country", help="ISO country code (default: the devnet's rotation DE, FR, NL, US, CA)")
    p.add_argument("--region", help="region (default: eu or na from the country)")
    p.add_argument("--capacity", default="2GB", help="disk to offer (default 2GB)")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    p.set_defaults(func=_cmd)
