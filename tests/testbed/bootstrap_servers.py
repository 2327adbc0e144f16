#!/usr/bin/env python3
"""Print the `bootstrap.servers=` line of a deployed cluster, after checking it works.

Reads the brokers' addresses from the inventory, asks the cluster for its
registered brokers (DescribeCluster, over one connection to a seed), and
connects to every advertised address: from this machine when it resolves here,
otherwise from the console host (PrivateZone names resolve inside the VPC only,
as on Alibaba Cloud).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "python_helpers") not in sys.path:
    sys.path.insert(0, str(REPO / "python_helpers"))

from automq_helpers.kafka_probe import KafkaProbe, ProbeError  # noqa: E402

BIN = Path(sys.executable).parent


def read_inventory(inventory: str) -> tuple[list[str], list[str]]:
    """The brokers' seed addresses and the console hosts of the inventory."""
    listed = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", inventory, "--list"],
        check=True,
        capture_output=True,
        text=True,
    )
    data = json.loads(listed.stdout)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    hosts = data.get("automq_broker", {}).get("hosts", [])
    seeds = [f"{hostvars.get(h, {}).get('ansible_host', h)}:9092" for h in hosts]
    return seeds, data.get("automq_console", {}).get("hosts", [])


def resolves_here(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except OSError:
        return False
    return True


def answers_here(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=10):
            return True
    except OSError:
        return False


def answers_from(inventory: str, console: str, host: str, port: int) -> bool:
    """Whether ``host:port`` answers a connection from the console host (through Ansible)."""
    done = subprocess.run(
        [str(BIN / "ansible"), "-i", inventory, console, "-m", "ansible.builtin.wait_for",
         "-a", f"host={host} port={port} timeout=10"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal"},
    )  # fmt: skip
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", required=True)
    inventory = parser.parse_args().inventory

    seeds, consoles = read_inventory(inventory)
    if not seeds:
        print(f"no hosts in automq_broker of {inventory}", file=sys.stderr)
        return 1
    cluster = None
    for seed in seeds:
        try:
            with KafkaProbe.from_address(seed, timeout=30) as probe:
                cluster = probe.describe_cluster()
            break
        except ProbeError as error:
            print(f"{seed}: {error}", file=sys.stderr)
    if cluster is None:
        return 1
    advertised = sorted((b.host, b.port) for b in cluster.brokers)
    inside_only = []
    for host, port in advertised:
        # Each advertised address must answer, not only the seed list.
        if resolves_here(host):
            ok = answers_here(host, port)
        else:
            inside_only.append(host)
            ok = bool(consoles) and answers_from(inventory, consoles[0], host, port)
        if not ok:
            print(f"the advertised address {host}:{port} does not answer", file=sys.stderr)
            return 1
    print(f"cluster.id={cluster.cluster_id} brokers={len(advertised)}")
    print("bootstrap.servers=" + ",".join(f"{host}:{port}" for host, port in advertised))
    if inside_only:
        print(
            f"(PrivateZone names: they resolve inside the VPC, e.g. on {consoles[0]}, "
            "not on this machine)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
