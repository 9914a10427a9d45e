#!/usr/bin/env bash
# Installs the real S3 clients and servers the test suite drives that PyPI does not carry,
# and the browser the page tests drive (Debian's chromium; Playwright, from pyproject's
# [test] extra, drives it and never downloads a browser of its own).
# boto3, the AWS CLI, s3cmd, the MinIO SDK and moto come from pyproject's [test] extra.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# `ip netns` and veth: the test that runs satellite, nodes and gateway as separate hosts.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# anvil, a real Ethereum node for the settlement tests (tests/integration/test_payout_crashes.py).
# The npm package ships the binary for this platform as an optional dependency; its postinstall
# script only links it, so it is allowed to run.
ANVIL_VERSION=1.7.1
if ! command -v anvil >/dev/null 2>&1 || ! anvil --version 2>/dev/null | grep -q "$ANVIL_VERSION"; then
    echo "installing anvil $ANVIL_VERSION (npm @foundry-rs/anvil)"
    $SUDO npm install -g --silent --allow-scripts=@foundry-rs/anvil "@foundry-rs/anvil@$ANVIL_VERSION" >/dev/null 2>&1 \
        || $SUDO npm install -g --silent "@foundry-rs/anvil@$ANVIL_VERSION" >/dev/null
fi
# s3rver, a peer S3 server for bench/peers.py, project-local in .tools/npm (nothing global). Pure
# JavaScript: no install scripts need to run.
S3RVER_VERSION=3.7.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! grep -qs "\"version\": \"$S3RVER_VERSION\"" "$ROOT/.tools/npm/node_modules/s3rver/package.json"; then
    echo "installing s3rver $S3RVER_VERSION (npm s3rver, into .tools/npm)"
    npm install --prefix "$ROOT/.tools/npm" --ignore-scripts --no-audit --no-fund --silent "s3rver@$S3RVER_VERSION" >/dev/null
fi
