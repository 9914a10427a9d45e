"""The satellite's configuration: one dataclass, production defaults, short test defaults."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.lifecycle_rules import default_day_seconds

__all__ = ["SatelliteConfig", "load_config", "save_config"]


@dataclass
class SatelliteConfig:
    data_dir: str
    database_url: str = ""  # empty: SQLite file satellite.db under data_dir
    host: str = "127.0.0.1"
    port: int = 7777
    admin_host: str = "127.0.0.1"
    admin_port: int = 7778
    # Public-API worker processes (satellite/process.py): 0 = one per CPU on PostgreSQL, 1 on SQLite.
    api_workers: int = 0
    # Seconds a process holds a singleton chore's lease without renewing it (satellite/leases);
    # a standby takes the chore over this long after its holder died on another host.
    lease_ttl: float = 30.0
    db_pool_size: int = 10  # connections each process keeps open (as many again on overflow)
    gateway_token: str = ""
    admin_token: str = ""
    identity_path: str = ""  # empty: identity.pem under data_dir
    secrets_key_path: str = ""  # empty: secrets.key under data_dir (encrypts access key secrets)
    geoip_database: str = ""  # optional MaxMind-format file
    checkin_interval: int = 300  # seconds a node waits between check-ins
    online_window: int = 4 * 3600  # contacted within this many seconds = online
    new_node_fraction: float = 0.01
    min_free_bytes: int = 5 * 1024**3
    segment_token_ttl: int = 3600  # seconds a begun segment may take to commit
    order_ttl: int = 3600  # seconds an order limit is valid on a node
    inline_threshold: int = 4096 + 16  # max encrypted bytes of an inline segment: 4 KiB of plaintext and its GCM tag
    # Where the satellite's metadata lives (satellite/residency): inline segments are stored in
    # its database, so a bucket's policy must allow these places for its small objects to be
    # inline. Empty: unknown, which only a policy that restricts nothing allows. The database's
    # own location defaults to the satellite's; name it when the database runs elsewhere.
    metadata_country: str = ""  # ISO 3166-1 alpha-2 of the satellite, e.g. "DE"
    metadata_region: str = ""  # its region, as policies name regions, e.g. "eu"
    database_country: str = ""
    database_region: str = ""
    max_segment_size: int = 64 * 1024**2 + 1024**2
    node_cache_ttl: float = 10.0  # seconds placement reuses one snapshot of the node table
    # Audits (satellite/audit) and reputation (satellite/reputation): Storj's values.
    audit_interval: float = 30.0  # seconds between passes of the audit chore
    audit_max_rate: float = 0.0  # audits per second at most (0: as fast as passes run); coverage as a setting
    audit_concurrency: int = 5  # nodes challenged at once
    audit_batch: int = 16  # pieces of one node challenged in one request (1-64; common/audit_batch.py)
    audit_timeout: float = 10.0  # seconds a node has to answer; then it is contained
    audit_leaves: int = 3  # leaves (shares) asked per challenge
    audit_reservoir_size: int = 100  # pieces drawn, weighted by bytes, per scan of the pieces table
    audit_scan_batch: int = 5000  # pieces read per step of that scan
    audit_max_misses: int = 3  # timeouts of one contained challenge that count as a failure
    audit_lambda: float = 0.999  # forgetting factor of the audit score
    audit_weight: float = 1.0
    audit_initial_alpha: float = 1000.0
    audit_initial_beta: float = 0.0
    audit_dq_threshold: float = 0.96  # audit score at or below this disqualifies
    unknown_lambda: float = 0.95
    unknown_weight: float = 1.0
    unknown_initial_alpha: float = 20.0
    unknown_initial_beta: float = 0.0
    unknown_suspend_threshold: float = 0.6  # unknown-audit score at or below this suspends
    suspension_grace: int = 7 * 86400  # seconds suspended (unknown audits) before disqualification
    online_score_window: int = 30 * 86400  # seconds of audit history the online score covers
    online_min_audits: int = 10  # audits in the window before the online score can suspend
    online_suspend_threshold: float = 0.6
    vetting_audits: int = 100  # successful audits that vet a new node
    # Garbage collection (satellite/gc): one retain list per node per interval.
    gc_interval: float = 86400.0  # seconds between two retain lists to one node (Storj: ~daily)
    gc_false_positive_rate: float = 0.1  # garbage that survives one list, as a fraction
    gc_batch_size: int = 10_000  # piece ids read per query while building a filter
    gc_clock_skew: int = 900  # seconds a node's clock may lag ours (check-ins refuse more)
    gc_timeout: float = 60.0  # seconds to send one retain list
    # Lifecycle (satellite/lifecycle): one batch of a bucket's rules per pass.
    lifecycle_batch_size: int = 500  # objects (or uploads) examined per pass
    lifecycle_poll: float = 300.0  # longest sleep: how soon a rule put through another process is seen
    lifecycle_day_seconds: int = field(default_factory=default_day_seconds)  # devnet shortens "days"
    # Pieces of an object a rule expires carry a TTL this long after its expiry (in days of 86,400 s:
    # scaled like lifecycle_day_seconds); the chore runs first, the repair checker renews them if it cannot.
    lifecycle_piece_grace_seconds: int = 7 * 86_400
    # Graceful exit (satellite/gracefulexit): pieces copied from the exiting node to new ones.
    exit_interval: float = 60.0  # seconds between passes of the exit chore
    exit_batch_size: int = 100  # pieces per exiting node per pass
    exit_concurrency: int = 8  # transfers in flight per pass
    exit_max_offline: int = 7 * 86400  # an exiting node silent this long fails its exit (Storj)
    exit_max_failure_percent: float = 10.0  # failed transfers above this share fail the exit (Storj)
    exit_min_failures: int = 10  # ...once at least this many have failed
    # Repair (satellite/repair): checker passes over all segments, workers rebuild pieces.
    repair_checker_interval: float = 30.0  # seconds between checker passes (Storj: 30 s)
    repair_checker_batch: int = 1000  # segments per checker step
    repair_interval: float = 300.0  # seconds an idle repairer waits before polling the queue (Storj: 5 min)
    repair_workers: int = 5  # concurrent repairs (Storj: max 5)
    repair_claim_timeout: float = 6 * 3600.0  # a claimed/failed job is retried after this (Storj: 6 h)
    repair_job_timeout: float = 45 * 60.0  # one repair may take this long (Storj: 45 min)
    # A segment short of eligible nodes is retried this often, so a returning node drains it.
    repair_short_retry: float = 300.0
    # Self-reported piece losses (a node's scrub): a milder signal than failed audits.
    # Suspended (no new pieces) once the losses in the window reach both the count and the
    # fraction of the pieces the node holds; warned from the first loss.
    loss_window: float = 30 * 86400.0
    loss_suspend_min: int = 10
    loss_suspend_fraction: float = 0.02
    # The economy (satellite/accounting): rates, token, periods; see AccountingConfig for the keys.
    accounting: dict[str, Any] = field(default_factory=dict)
    # Settlement (satellite/payouts): batch ERC-20 payouts on an Ethereum-compatible chain.
    payout_chain_url: str = ""  # JSON-RPC endpoint; empty: an in-process test chain (devnet)
    payout_key_path: str = ""  # the payer's key file; empty: payout.key under data_dir
    payout_token: str = ""  # the ERC-20 paid out (deployed by the satellite on the in-process chain)
    payout_contract: str = ""  # the BatchPayout contract (idem)
    payout_confirmations: int = 12  # blocks (the receipt's own included) before a batch is final
    payout_batch_size: int = 200  # payees per transaction (the contract's maximum)
    payout_gas_headroom: float = 1.25  # gas limit = estimate x this
    payout_interval: float = 30.0  # seconds an idle or waiting settlement worker sleeps
    payout_retry_delay: float = 300.0  # seconds before a reverted or refused batch is signed again
    payout_rebroadcast_after: float = 120.0  # seconds before an unmined transaction is re-sent
    payout_gas_per_payee: int = 35_000  # gas one more payee adds to a batch (for the fee rule)
    payout_native_price: float = 0.0  # tokens one native coin (ETH) buys; 0: no fee rule
    payout_max_fee_share: float = 0.25  # payees whose fee exceeds this share roll over (Storj)
    # Stake (a network policy, off by default): placement needs an active stake on chain.
    stake_required: bool = False
    stake_minimum: int = 1  # token base units of active stake that count as staked
    stake_contract: str = ""  # the Staking contract (deployed by the satellite on the in-process chain)
    stake_reserve: str = ""  # the reserve fund's address: slashed stake goes there
    stake_unbonding: int = 30 * 86400  # seconds between an exit request and withdrawal (devnet deploys)
    stake_refresh_interval: float = 300.0  # seconds between refreshes of the cached stakes
    extra: dict[str, Any] = field(default_factory=dict)  # sections other services add

    @classmethod
    def for_tests(cls, data_dir: str, **overrides: Any) -> SatelliteConfig:
        base: dict[str, Any] = {
            "port": 0,
            "admin_port": 0,
            "gateway_token": "test-gateway-token",
            "admin_token": "test-admin-token",
            "checkin_interval": 1,
            "online_window": 60,
            "new_node_fraction": 1.0,
            "min_free_bytes": 0,
            "segment_token_ttl": 60,
            "order_ttl": 60,
            "node_cache_ttl": 0.0,
            "audit_interval": 0.2,
            "audit_timeout": 2.0,
            "audit_lambda": 0.98,
            "audit_initial_alpha": 50.0,
            "unknown_lambda": 0.8,
            "unknown_initial_alpha": 5.0,
            "suspension_grace": 60,
            "online_min_audits": 5,
            "vetting_audits": 3,
            "gc_interval": 1.0,
            "gc_clock_skew": 0,
            "gc_timeout": 5.0,
            "exit_interval": 0.5,
            "exit_max_offline": 30,
            "exit_min_failures": 3,
            "repair_checker_interval": 0.5,
            "repair_interval": 0.2,
            "repair_workers": 2,
            "repair_claim_timeout": 5.0,
            "repair_job_timeout": 30.0,
            "repair_short_retry": 1.0,
            # Test satellites run "in Germany", as devnet's does: "eu" buckets keep small objects inline.
            "metadata_country": "DE",
            "metadata_region": "eu",
            # Ten-second periods, tallies every second, no payout minimum, months of a minute.
            "accounting": {
                "period_seconds": 10,
                "tally_interval": 1.0,
                "close_delay": 1.0,
                "meter_flush_interval": 0.5,
                "order_settlement_window": 60,
                "min_payout": "0",
                "month_seconds": 60,
                "incident_grace": 0,
            },
            "lease_ttl": 3.0,
            "payout_confirmations": 1,
            "payout_interval": 1.0,  # idle polling of every test satellite: keep it light
            "payout_retry_delay": 1.0,
            "payout_rebroadcast_after": 1.0,
            "stake_refresh_interval": 0.5,
        }
        base.update(overrides)
        return cls(data_dir=data_dir, **base)

    def path(self, value: str, default: str) -> str:
        return value or os.path.join(self.data_dir, default)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{os.path.join(self.data_dir, 'satellite.db')}"

    @property
    def resolved_api_workers(self) -> int:
        """``api_workers``, or its default: one per CPU on PostgreSQL, one process on SQLite."""
        if self.api_workers > 0:
            return self.api_workers
        if self.resolved_database_url.startswith("sqlite"):
            return 1
        return os.cpu_count() or 1

    @property
    def resolved_identity_path(self) -> str:
        return self.path(self.identity_path, "identity.pem")

    @property
    def resolved_payout_key_path(self) -> str:
        return self.path(self.payout_key_path, "payout.key")

    @property
    def resolved_secrets_key_path(self) -> str:
        return self.path(self.secrets_key_path, "secrets.key")


def load_config(path: str | os.PathLike[str]) -> SatelliteConfig:
    data = json.loads(Path(path).read_text())
    known = {f.name for f in dataclasses.fields(SatelliteConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{path}: unknown satellite config keys: {', '.join(unknown)}")
    return SatelliteConfig(**data)


def save_config(config: SatelliteConfig, path: str | os.PathLike[str]) -> None:
    """Write as JSON with mode 0600: it holds the gateway and admin tokens."""
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(dataclasses.asdict(config), f, indent=2)
        f.write("\n")
