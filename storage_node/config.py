"""The storage node's configuration: one dataclass, read from and written to TOML.

Defaults are production values; :meth:`NodeConfig.for_tests` shortens every interval so
a test sees check-ins, expiry and trash purges within a fraction of a second. The file is
flat ``key = value`` TOML; it is written by a tiny writer (strings, integers, floats and
booleans are all it holds) rather than a dependency.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "NodeConfig", "dump_toml", "format_size", "parse_size"]


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message says which and why."""


_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "pib": 2**50,
}


def parse_size(text: str | int) -> int:
    """``"50GB"`` → 50·10⁹, ``"1.5TiB"`` → 1.5·2⁴⁰, ``"1024"`` → 1024 bytes."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ConfigError(f"not a size: {text!r} (examples: 500GB, 2TB, 1.5TiB)")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def format_size(n: int) -> str:
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


@dataclass
class NodeConfig:
    """Everything ``geoshard node run`` needs; paths are absolute once loaded."""

    data_dir: Path
    satellite_id: str
    satellite_url: str
    capacity: int
    country: str
    region: str
    wallet: str
    identity_path: Path = field(default=Path())
    # Where the node listens, and the URL the satellite and gateways reach it at ("" =
    # http://<listen host>:<bound port>, right for a LAN or devnet).
    listen_host: str = "0.0.0.0"
    port: int = 7777
    address: str = ""
    # Check-ins: every interval, and on failure retry after min, 2·min, 4·min … up to max.
    checkin_interval: float = 300.0
    checkin_retry_min: float = 1.0
    checkin_retry_max: float = 300.0
    checkin_timeout: float = 10.0
    # Garbage: how long a retain list's rejects stay in the trash before deletion, and how
    # often the expiry and trash chores run.
    trash_grace: float = 7 * 86400.0
    chore_interval: float = 3600.0
    # Egress settlement: how often served download orders (once expired) are submitted for pay.
    settlement_interval: float = 3600.0
    # Largest piece accepted, whatever an order says (bounds the Merkle tree in memory).
    max_piece_size: int = 256 * 2**20
    # Scrub (storage_node/scrub.py): every stored piece re-verified once per period, reading
    # at most max_rate bytes per second; 0 turns it off.
    scrub_period: float = 14 * 86400.0
    scrub_max_rate: float = 4.0 * 2**20
    # The operator's dashboard (storage_node/dashboard): loopback by default, its own port
    # (-1 = off). Bound anywhere else it answers only with ``dashboard_token``. It asks the
    # satellite for scores and exit progress every ``dashboard_refresh`` seconds while someone
    # watches it (every ``dashboard_unwatched_refresh`` seconds otherwise) and keeps a
    # history sample every ``history_interval`` seconds for its charts.
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 14002
    dashboard_token: str = ""
    dashboard_refresh: float = 60.0
    dashboard_unwatched_refresh: float = 300.0
    history_interval: float = 300.0

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if self.identity_path == Path():
            self.identity_path = self.data_dir / "identity.pem"
        self.identity_path = Path(self.identity_path)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "node.db"

    @classmethod
    def for_tests(cls, data_dir: Path, satellite_id: str, **overrides: Any) -> NodeConfig:
        """Loopback, port 0 and sub-second intervals."""
        base: dict[str, Any] = dict(
            data_dir=data_dir,
            satellite_id=satellite_id,
            satellite_url="http://127.0.0.1:9",
            capacity=100 * 2**20,
            country="DE",
            region="eu",
            wallet="0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            listen_host="127.0.0.1",
            port=0,
            checkin_interval=0.5,
            checkin_retry_min=0.05,
            checkin_retry_max=0.4,
            checkin_timeout=2.0,
            trash_grace=0.2,
            chore_interval=0.1,
            scrub_period=0.0,  # off unless a test scrubs: planted corruption must stay put
            dashboard_port=-1,  # off: dashboard tests turn it on (port 0), the rest keep a quiet satellite
            dashboard_refresh=1.0,
            history_interval=1.0,
            settlement_interval=0.2,
        )
        base.update(overrides)
        return cls(**base)

    # --- TOML --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = str(v) if isinstance(v, Path) else v
        return out

    def save(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(
            "# Geoshard storage node configuration (written by `geoshard node init`).\n"
            + dump_toml(self.to_dict())
        )
        os.replace(tmp, p)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NodeConfig:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"no configuration at {p}; create one with `geoshard node init`") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p} is not valid TOML: {e}") from None
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise ConfigError(f"{p}: unknown settings {sorted(unknown)}")
        missing = [n for n, f in known.items() if n not in data and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ConfigError(f"{p}: missing settings {missing}")
        if "capacity" in data:
            data["capacity"] = parse_size(data["capacity"])
        cfg = cls(**data)
        # Relative paths in the file are relative to the file, so a data dir can be moved.
        if not cfg.data_dir.is_absolute():
            cfg.data_dir = (p.parent / cfg.data_dir).resolve()
        if not cfg.identity_path.is_absolute():
            cfg.identity_path = (p.parent / cfg.identity_path).resolve()
        return cfg


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        escaped = v.replace("\\", "\\\\").replace('"', '\\"')
        escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
        return f'"{escaped}"'
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dump_toml(data: dict[str, Any]) -> str:
    """Flat ``key = value`` lines; enough for this config, round-trips through ``tomllib``."""
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in data.items())
