#!/usr/bin/env bash
# Installs the real S3 clients and servers the test suite drives that PyPI does not carry.
# boto3, the AWS CLI, s3cmd, the MinIO SDK and moto come from pyproject's [test] extra.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v rclone >/dev/null 2>&1 || need+=(rclone)
# `ip netns` and veth: the test that runs satellite, nodes and gateway as separate hosts.
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
