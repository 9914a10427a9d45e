"""What ``geoshard devnet`` shows once the network is up: the banner with the endpoint, keys,
consoles, the chain that pays, and copy-paste commands; and the probes it waits on first."""

from __future__ import annotations

import shlex
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from geoshard.supervisor import http_ready

if TYPE_CHECKING:
    from geoshard.devnet import DevnetOptions

__all__ = ["open_settlement", "print_banner", "rclone_line", "tls_probe"]


def tls_probe(endpoint: str) -> Callable[[], bool]:
    """Readiness of the devnet's HTTPS gateway, whose certificate is its own (not verified here)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return http_ready(endpoint + "/", ctx)


def open_settlement(admin_url: str, admin_token: str) -> dict[str, object]:
    """Deploy the test token and payout contract on the satellite's in-process chain and fund
    its payer (the admin read-out opens the chain), so the banner can show where pay comes from."""
    from satellite.admin.client import AdminClient

    return dict(AdminClient(admin_url, admin_token).call("GET", "/v1/settlement/chain"))


def print_banner(opts: DevnetOptions, env: dict[str, str], env_path: Path, chain: dict[str, object]) -> None:
    e = env
    decimals = int(str(chain["decimals"]))
    funds = int(str(chain["payer_token_balance"])) / 10**decimals
    staking = f", staking {chain['staking_contract']}" if chain.get("staking_contract") else ""
    ca = f" --ca-bundle {shlex.quote(e['AWS_CA_BUNDLE'])}" if "AWS_CA_BUNDLE" in e else ""
    rclone = rclone_line(tls="AWS_CA_BUNDLE" in e)
    print(
        f"""
Geoshard devnet is up.
  S3 endpoint     {e['AWS_ENDPOINT_URL']}
  access key      {e['AWS_ACCESS_KEY_ID']}
  secret key      {e['AWS_SECRET_ACCESS_KEY']}
  admin API       {e['GEOSHARD_ADMIN_URL']}  (token in {env_path})
  admin console   {e['GEOSHARD_ADMIN_URL']}/console/  (log in with GEOSHARD_ADMIN_TOKEN)
  node dashboard  {e['GEOSHARD_NODE_DASHBOARD']}/  (node i: port {opts.dashboard_port_base}+i; all: /multinode;
                  URLs and tokens in {opts.data / 'dashboards.json'})
  policies        global, eu (DE/FR/NL), na (US/CA) — pick one with a bucket's LocationConstraint
  payouts         {chain['chain']}: token {chain['token']}, payout contract {chain['payout_contract']}{staking}
                  payer {chain['payer']} holds {funds:,.0f} GST; see `geoshard admin settlement batches`
  logs            {opts.data / 'logs'}

In another shell:
  . {shlex.quote(str(env_path))}
  aws s3 mb s3://photos --region eu{ca}
  aws s3 cp ./somefile s3://photos/{ca}
  aws s3 ls s3://photos{ca}
  {rclone}
  geoshard admin report photos

Ctrl-C stops the network; run the command again to resume it with its data.
""",
        flush=True,
    )


def rclone_line(*, tls: bool) -> str:
    """The rclone command the banner prints, to paste after ``. devnet.env``.

    The endpoint is quoted inside the connection string (its ``:`` would end the remote
    name) and the whole string for the shell. rclone refuses to start at all while
    ``AWS_CA_BUNDLE`` is set (its S3 SDK cannot load a bundle into rclone's HTTP transport),
    so the line unsets it for rclone and, over HTTPS, hands the same file to ``--ca-cert``.
    """
    remote = "\":s3,provider=Other,endpoint='$AWS_ENDPOINT_URL',env_auth=true:\""
    ca = ' --ca-cert "$AWS_CA_BUNDLE"' if tls else ""
    return f"env -u AWS_CA_BUNDLE rclone{ca} lsd {remote}"
