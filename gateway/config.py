"""The gateway's configuration: one dataclass, production defaults, short test defaults.

A config file is flat TOML (``key = value``); every key can also be given as a flag of
``geoshard gateway run``. The master key lives in its own file (``master_key_file``, mode
0600, 32 random bytes as 64 hex characters) and is never part of the config itself.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ConfigError", "GatewayConfig", "create_master_key", "load_master_key"]


class ConfigError(ValueError):
    """A setting is missing or invalid; the message says which and how to fix it."""


@dataclass
class GatewayConfig:
    satellite_url: str
    satellite_token: str
    master_key_file: str
    host: str = "0.0.0.0"
    port: int = 9000
    tls_cert: str = ""
    tls_key: str = ""
    # Virtual-host addressing: "s3.example.com" makes bucket.s3.example.com name "bucket".
    base_domains: tuple[str, ...] = ()
    region: str = "us-east-1"  # what GetBucketLocation-less clients sign for; any is accepted
    segment_size: int = 64 * 2**20
    inline_threshold: int = 4096 + 16  # encrypted bytes: a 4 KiB object and its GCM tag
    download_window: int = 8 * 2**20
    spare_after: float = 1.0
    piece_timeout: float = 10.0
    credential_cache_ttl: float = 60.0
    # SSE-C keys travel in request headers; AWS refuses them on plain HTTP, and so does the
    # gateway unless TLS ends in a proxy in front of it (or on a devnet).
    allow_sse_c_over_http: bool = False

    def __post_init__(self) -> None:
        self.base_domains = tuple(self.base_domains)
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("HTTPS needs both tls_cert and tls_key")
        if not self.satellite_url.startswith(("http://", "https://")):
            raise ConfigError(f"satellite_url must be an http(s) URL, got {self.satellite_url!r}")

    @classmethod
    def for_tests(cls, satellite_url: str, satellite_token: str, master_key_file: str, **kw: Any) -> GatewayConfig:
        base: dict[str, Any] = dict(
            host="127.0.0.1", port=0, segment_size=256 * 1024, download_window=128 * 1024,
            spare_after=0.5, piece_timeout=5.0, credential_cache_ttl=0.0,
        )
        base.update(kw)
        return cls(satellite_url, satellite_token, master_key_file, **base)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **overrides: Any) -> GatewayConfig:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"no gateway configuration at {p}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p} is not valid TOML: {e}") from None
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{p}: unknown settings {sorted(unknown)}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        missing = [n for n in ("satellite_url", "satellite_token", "master_key_file") if not data.get(n)]
        if missing:
            raise ConfigError(f"{p}: missing settings {missing}")
        mk = Path(data["master_key_file"])
        if not mk.is_absolute():  # relative to the config file, so a data dir can move
            data["master_key_file"] = str((p.parent / mk).resolve())
        return cls(**data)


def create_master_key(path: str | os.PathLike[str]) -> None:
    """Write a new random master key with mode 0600; refuse to overwrite one."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")


def load_master_key(path: str | os.PathLike[str]) -> bytes:
    """The 32-byte master key; refuses a file others can read (every object's key hangs off it)."""
    p = Path(path)
    try:
        st = p.stat()
        text = p.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(f"no master key at {p}; create one with `geoshard gateway init`") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"master key {p} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"master key {p} is not hex") from None
    if len(key) != 32:
        raise ConfigError(f"master key {p} must be 32 bytes (64 hex characters), got {len(key)}")
    return key
