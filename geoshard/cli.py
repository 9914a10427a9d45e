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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="geoshard", description="Geoshard object storage")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    importlib.import_module("geoshard.join").register(sub)  # extends `node`, so it comes after it
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
