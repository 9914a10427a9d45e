"""``geoshard``: one command line for every process.

Each service package contributes its sub-commands through a ``register(subparsers)``
function in its own ``cli`` module; this file only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

__all__ = ["main"]

# Modules exposing ``register(subparsers)``; each adds one top-level sub-command.
COMMAND_MODULES: tuple[str, ...] = (
    "geoshard.devnet",
    "storage_node.cli",
    "satellite.cli",
    "satellite.admin.cli",
    "satellite.residency.cli",
    "gateway.cli",
)


# The command each module adds: a process that runs one command imports only its module, so
# a storage node does not carry the satellite's SQLAlchemy, web3 and their kin (tens of MiB
# of RSS in each of a devnet's node processes).
COMMAND_OF: dict[str, str] = {
    "devnet": "geoshard.devnet",
    "node": "storage_node.cli",
    "satellite": "satellite.cli",
    "admin": "satellite.admin.cli",
    "verify-residency": "satellite.residency.cli",
    "gateway": "gateway.cli",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or only ``command``'s when it is one of ``COMMAND_OF``."""
    parser = argparse.ArgumentParser(prog="geoshard", description="Geoshard object storage")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    only = COMMAND_OF.get(command or "")
    for name in COMMAND_MODULES:
        if only is None or name == only:
            importlib.import_module(name).register(sub)
    if "node" in sub.choices:
        importlib.import_module("geoshard.join").register(sub)  # extends `node`, so it comes after it
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv[0] if argv else None).parse_args(argv)  # `geoshard --help`: every command
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
