"""What ``geoshard node init`` checks and asks before it writes a config.

Every check here refuses something that would only fail later, with a message that says
what to change: a capacity too small to hold a piece, a port another process holds, a
satellite that cannot be reached or whose key is not the id the operator was given. In a
terminal, ``init`` asks for what the flags left out (:func:`ask_missing`), suggesting a
capacity from the free space of the disk; without a terminal the flags are required, so
scripts fail instead of hanging on a prompt.
"""

from __future__ import annotations

import argparse
import errno
import json
import shutil
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from common.identity import is_peer_id
from storage_node.config import format_size

__all__ = [
    "IDENTITY_PATH",
    "MIN_CAPACITY",
    "OnboardingError",
    "ask_missing",
    "check_capacity",
    "check_port_free",
    "fetch_satellite_id",
    "region_for",
    "suggest_capacity",
    "verify_satellite",
]

IDENTITY_PATH = "/api/v1/identity"

# Below this a node could not hold three pieces of one default 64 MiB segment coded 4-of-n
# (16 MiB each): it would check in, be chosen, and refuse every upload.
MIN_CAPACITY = 50 * 10**6

REQUIRED = ("data", "capacity", "country", "region", "wallet", "satellite")


class OnboardingError(Exception):
    """``node init`` cannot go on; the message tells the operator what to fix."""


def check_capacity(capacity: int) -> None:
    if capacity < MIN_CAPACITY:
        raise OnboardingError(
            f"--capacity {format_size(capacity)} is too small to hold even a few pieces; "
            f"offer at least {format_size(MIN_CAPACITY)} (e.g. --capacity 500GB)"
        )


def check_port_free(host: str, port: int) -> None:
    """Bind the port the node will listen on, and let it go again."""
    if port == 0:
        return
    bind_host = "" if host in ("0.0.0.0", "::", "") else host
    with socket.socket(socket.AF_INET6 if ":" in bind_host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((bind_host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise OnboardingError(
                    f"port {port} on {host} is already in use by another program; pick a free one with --port"
                ) from None
            raise OnboardingError(f"cannot listen on {host}:{port}: {e.strerror or e}; check --listen-host") from None


def fetch_satellite_id(url: str, timeout: float = 10.0) -> str:
    target = url.rstrip("/") + IDENTITY_PATH
    try:
        with urllib.request.urlopen(target, timeout=timeout) as resp:
            data = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise OnboardingError(
            f"could not reach the satellite at {target} ({e}); start it or check the URL "
            "(or pass --offline to write the config without asking it, with --satellite ID@URL)"
        ) from None
    sat_id = data.get("id") if isinstance(data, dict) else None
    if not is_peer_id(sat_id):
        raise OnboardingError(f"{target} did not answer with a satellite id (got {str(data)[:100]})")
    assert isinstance(sat_id, str)
    return sat_id


def verify_satellite(sat_id: str, url: str) -> None:
    """The satellite at ``url`` answers, and its key is the one ``sat_id`` names."""
    found = fetch_satellite_id(url)
    if found != sat_id:
        raise OnboardingError(
            f"the satellite at {url} has id {found}, not the {sat_id} you gave: the id or the URL "
            "is wrong (the id pins the satellite's key, so this node would refuse all its orders)"
        )


def suggest_capacity(data: Path) -> str:
    """90% of the free space where ``data`` would live, rounded down to a readable size."""
    probe = data
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free * 0.9
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6)):
        if free >= scale:
            return f"{int(free // scale)}{unit}"
    return f"{int(free)}B"


Ask = Callable[[str], str]


def ask_missing(args: argparse.Namespace, ask: Ask = input, *, interactive: bool | None = None) -> None:
    """Fill the init arguments the flags left out, asking in a terminal; refuse otherwise."""
    missing = [name for name in REQUIRED if getattr(args, name) is None]
    if not missing:
        return
    if interactive is None:
        interactive = sys.stdin.isatty()
    if not interactive:
        flags = ", ".join(f"--{m}" for m in missing)
        raise OnboardingError(f"missing {flags} (run in a terminal to be asked, or pass them)")
    print("Setting up a Geoshard storage node; press Enter to take the suggestion in [brackets].")

    def prompt(label: str, default: str = "") -> str:
        while True:
            answer = ask(f"{label}{f' [{default}]' if default else ''}: ").strip() or default
            if answer:
                return answer

    if args.data is None:
        args.data = Path(prompt("data directory (pieces and node state)", str(Path.home() / "geoshard-node")))
    if args.capacity is None:
        args.capacity = prompt(
            "capacity to offer (e.g. 500GB, 2TB)", suggest_capacity(Path(args.data).expanduser().absolute())
        )
    if args.country is None:
        args.country = prompt("country the disk is in (ISO code, e.g. DE)")
    if args.region is None:
        args.region = prompt("region for placement policies", region_for(args.country))
    if args.wallet is None:
        args.wallet = prompt("payout wallet (EIP-55 checksummed 0x… address)")
    if args.satellite is None:
        args.satellite = prompt("satellite (ID@http://host:port, or its URL)")


_EU = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
       "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}


def region_for(country: str) -> str:
    """The devnet-style region of a country: ``eu``, ``na``, or "" when neither."""
    code = country.strip().upper()
    if code in _EU:
        return "eu"
    if code in ("US", "CA", "MX"):
        return "na"
    return ""
