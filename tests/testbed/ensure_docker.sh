#!/usr/bin/env bash
# Make sure a Docker engine answers and nft is installed. On a fresh Debian machine (CI, a new
# laptop VM) install Debian's docker.io and nftables and start dockerd as root: the test
# bed has no other container engine and no registry.
set -euo pipefail

# The Alibaba Cloud emulator enforces security groups with nftables, applied
# from this machine into its containers' network namespaces.
if ! command -v nft >/dev/null 2>&1; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "ensure_docker: nft is missing and this is not root; apt-get install nftables" >&2
    exit 1
  fi
  echo "ensure_docker: installing Debian's nftables"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nftables >/dev/null
fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "ensure_docker: no Docker engine answers and this is not root; start dockerd first" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure_docker: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  echo "ensure_docker: starting dockerd"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 1
done
echo "ensure_docker: dockerd did not answer within 60 s; see /var/log/dockerd.log" >&2
exit 1
