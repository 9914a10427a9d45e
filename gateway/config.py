"""The gateway's configuration: one dataclass, production defaults, short test defaults.

A config file is flat TOML (``key = value``); every key but the token can also be given
as a flag of ``geoshard gateway run``. The master key lives in its own file
(``master_key_file``, mode 0600, 32 random bytes as 64 hex characters) and is never part
of the config itself. The satellite token is a secret too, so it never travels in a
process's arguments: it comes from ``satellite_token_file`` (mode 0600), the
``GEOSHARD_SATELLITE_TOKEN`` environment variable, or ``satellite_token`` in a config file
that is itself mode 0600.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.lifecycle_rules import default_day_seconds

__all__ = [
    "TOKEN_ENV",
    "ConfigError",
    "GatewayConfig",
    "create_master_key",
    "load_master_key",
    "read_private_file",
    "write_private_file",
]

# Where `geoshard gateway run` finds the satellite token when no file names it: never argv,
# which every local user can read in /proc/PID/cmdline.
TOKEN_ENV = "GEOSHARD_SATELLITE_TOKEN"


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
    download_window: int = 16 * 2**20
    spare_after: float = 1.0
    piece_timeout: float = 10.0
    credential_cache_ttl: float = 60.0
    satellite_token_file: str = ""  # read at load: the token's own file, mode 0600
    # The revocation feed (gateway/access_keys.py): polled this often; a cache not synced
    # for longer than the staleness bound is bypassed, so revocation wins within ~2 s.
    revocation_poll_interval: float = 0.5
    revocation_max_staleness: float = 2.0
    # Prometheus ``/metrics`` and ``/health`` on a port of their own (-1 = off): never on the
    # S3 port, where a bucket may be called "metrics". ``/health`` also answers on the S3 port
    # to requests that carry no S3 credentials.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = -1
    # SSE-C keys travel in request headers; AWS refuses them on plain HTTP, and so does the
    # gateway unless TLS ends in a proxy in front of it (or on a devnet).
    allow_sse_c_over_http: bool = False
    # Processes serving the S3 port (``SO_REUSEPORT``, see gateway/process.py); 0 = one per CPU.
    workers: int = 0
    # Seconds in a lifecycle rule's "day" (x-amz-expiration dates); the satellite's chore must agree.
    lifecycle_day_seconds: int = field(default_factory=default_day_seconds)

    def __post_init__(self) -> None:
        self.base_domains = tuple(self.base_domains)
        if self.satellite_token_file:
            self.satellite_token = read_private_file(self.satellite_token_file, "satellite token file")
        if not self.satellite_token:
            raise ConfigError(f"no satellite token: give satellite_token_file (mode 0600) or set {TOKEN_ENV}")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("HTTPS needs both tls_cert and tls_key")
        if self.workers < 0:
            raise ConfigError(f"workers must be 0 (one per CPU) or more, got {self.workers}")
        if not self.satellite_url.startswith(("http://", "https://")):
            raise ConfigError(f"satellite_url must be an http(s) URL, got {self.satellite_url!r}")

    @property
    def resolved_workers(self) -> int:
        """``workers``, or its default: one process per CPU this process may run on."""
        return self.workers or len(os.sched_getaffinity(0))

    def endpoint(self, port: int) -> str:
        """The URL clients reach the S3 port at (a wildcard host reads as 127.0.0.1)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"{'https' if self.tls_cert else 'http'}://{host}:{port}"

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
        if data.get("satellite_token"):
            read_private_file(p, "gateway configuration holding satellite_token")  # its mode, as for a key file
        missing = [n for n in ("satellite_url", "master_key_file") if not data.get(n)]
        if not (data.get("satellite_token") or data.get("satellite_token_file")):
            missing.append("satellite_token_file")
        if missing:
            raise ConfigError(f"{p}: missing settings {missing}")
        for name in ("master_key_file", "satellite_token_file"):
            ref = Path(data.get(name) or "")
            if data.get(name) and not ref.is_absolute():  # relative to the config file, so a data dir can move
                data[name] = str((p.parent / ref).resolve())
        data.setdefault("satellite_token", "")  # read from satellite_token_file
        return cls(**data)


def create_master_key(path: str | os.PathLike[str]) -> None:
    """Write a new random master key with mode 0600; refuse to overwrite one."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")


def read_private_file(path: str | os.PathLike[str], what: str, hint: str = "") -> str:
    """The stripped text of a secret's file; refuses one that others can read (mode must be
    0600 or tighter), since any local user could then take the secret."""
    p = Path(path)
    try:
        st = p.stat()
        text = p.read_text().strip()
    except FileNotFoundError:
        raise ConfigError(f"no {what} at {p}{hint}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{what} {p} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); chmod 600 it")
    return text


def write_private_file(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to a file only its owner can read (mode 0600 from the start)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as f:
        f.write(text)


def load_master_key(path: str | os.PathLike[str]) -> bytes:
    """The 32-byte master key; refuses a file others can read (every object's key hangs off it)."""
    p = Path(path)
    text = read_private_file(p, "master key", "; create one with `geoshard gateway init`")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"master key {p} is not hex") from None
    if len(key) != 32:
        raise ConfigError(f"master key {p} must be 32 bytes (64 hex characters), got {len(key)}")
    return key
