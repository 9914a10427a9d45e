"""The compiled contracts: Vyper sources in ``contracts/``, their ABI and bytecode committed beside
them in ``contracts/compiled/NAME.json``, so that running a satellite needs no compiler.

``python -m satellite.payouts.artifacts`` recompiles every source with the pinned Vyper version
and EVM version and rewrites the JSON; ``tests/unit/test_payout_contracts.py`` recompiles and
compares byte for byte, so a source edited without recompiling (or a compiler bump that
changes the code) fails loudly instead of deploying something nobody reviewed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["CONTRACTS", "EVM_VERSION", "VYPER_VERSION", "Artifact", "compile_source", "load_artifact"]

VYPER_VERSION = "0.4.3"
EVM_VERSION = "shanghai"
CONTRACTS = ("TestToken", "BatchPayout", "Staking")
SOURCE_DIR = Path(__file__).with_name("contracts")
COMPILED_DIR = SOURCE_DIR / "compiled"


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # 0x-prefixed hex of the deployment code
    source_sha256: str


def compile_source(name: str) -> dict[str, Any]:
    """Compile ``contracts/NAME.vy`` with the pinned compiler; the JSON document to commit."""
    import vyper
    from vyper.compiler import compile_code
    from vyper.compiler.settings import Settings

    if vyper.__version__ != VYPER_VERSION:
        raise RuntimeError(f"contracts are pinned to vyper {VYPER_VERSION}, found {vyper.__version__}")
    source = (SOURCE_DIR / f"{name}.vy").read_text()
    out = compile_code(
        source,
        contract_path=f"{name}.vy",
        output_formats=["abi", "bytecode"],
        settings=Settings(evm_version=EVM_VERSION),
    )
    return {
        "name": name,
        "vyper_version": VYPER_VERSION,
        "evm_version": EVM_VERSION,
        "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
        "abi": out["abi"],
        "bytecode": out["bytecode"],
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


@cache
def load_artifact(name: str) -> Artifact:
    data = json.loads((COMPILED_DIR / f"{name}.json").read_text())
    return Artifact(name=name, abi=data["abi"], bytecode=data["bytecode"], source_sha256=data["source_sha256"])


def main() -> None:
    COMPILED_DIR.mkdir(exist_ok=True)
    for name in CONTRACTS:
        (COMPILED_DIR / f"{name}.json").write_text(render(compile_source(name)))
        print(f"compiled {name}")


if __name__ == "__main__":
    main()
