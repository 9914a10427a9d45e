"""``geoshard COMMAND``: a process that runs one command imports only that command's module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from geoshard.cli import COMMAND_MODULES, COMMAND_OF, build_parser


def test_every_command_module_is_named_by_its_command_and_the_full_parser_has_them_all() -> None:
    assert sorted(COMMAND_OF.values()) == sorted(COMMAND_MODULES)
    full = build_parser()
    sub = next(a for a in full._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMAND_OF)  # type: ignore[arg-type]


@pytest.mark.parametrize("command", sorted(COMMAND_OF))
def test_a_parser_for_one_command_parses_that_command(command: str) -> None:
    sub = next(a for a in build_parser(command)._actions if a.dest == "command")
    assert list(sub.choices) == [command]  # type: ignore[arg-type]


def test_a_storage_node_process_does_not_import_the_satellites_database_stack() -> None:
    """What ``geoshard node run`` loads to parse its command line and build its peer."""
    code = (
        "import sys; from geoshard.cli import build_parser; build_parser('node'); import storage_node.peer; "
        "print(sorted(m for m in ('sqlalchemy', 'web3', 'satellite') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
