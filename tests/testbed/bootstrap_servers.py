#!/usr/bin/env python3
"""Print a deployed cluster's `bootstrap.servers=` and `client.config=` lines, checked first.

Reads the brokers' addresses and the admin's client configuration (written by
the deploy on this machine, mode 0600; a plaintext cluster has none) from the
inventory, asks the cluster for its registered brokers (DescribeCluster, over
one connection to a seed, as the admin), and connects to every advertised
address: from this machine when it resolves here, otherwise from the console
host (PrivateZone names resolve inside the VPC only, as on Alibaba Cloud).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

from inventory_vars import BIN, group_addresses, rendered_variable

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "python_helpers") not in sys.path:
    sys.path.insert(0, str(REPO / "python_helpers"))

from automq_helpers.kafka_probe import KafkaProbe, ProbeError, SecurityConfig  # noqa: E402
from automq_helpers.properties import parse_properties  # noqa: E402


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


def client_config(inventory: str, broker: str) -> tuple[Path | None, SecurityConfig | None]:
    """The admin's client configuration file of a secure cluster, and the probe's settings."""
    mode = rendered_variable(inventory, broker, "automq_security | default('secure')")
    if mode != "secure":
        return None, None
    path = Path(rendered_variable(inventory, broker, "automq_client_config_file")).resolve()
    if not path.is_file() or path.stat().st_mode & 0o077:
        raise SystemExit(f"{path} (automq_client_config_file) is missing or readable by others")
    settings = parse_properties(path.read_text())
    return path, SecurityConfig(
        protocol=settings["security.protocol"],
        ca_file=settings["ssl.ca.location"],
        sasl_mechanism=settings["sasl.mechanisms"],
        username=settings["sasl.username"],
        password=settings["sasl.password"],
        # Seeds are the addresses Ansible uses; the certificates name them too.
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", required=True)
    inventory = parser.parse_args().inventory

    brokers = group_addresses(inventory, "automq_broker")
    consoles = sorted(group_addresses(inventory, "automq_console"))
    if not brokers:
        print(f"no hosts in automq_broker of {inventory}", file=sys.stderr)
        return 1
    config_file, security = client_config(inventory, sorted(brokers)[0])
    cluster = None
    for address in brokers.values():
        try:
            with KafkaProbe(address, 9092, 30.0, security=security) as probe:
                cluster = probe.describe_cluster()
            break
        except ProbeError as error:
            print(f"{address}:9092: {error}", file=sys.stderr)
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
    if config_file is not None:
        print(f"client.config={config_file}")
    print("bootstrap.servers=" + ",".join(f"{host}:{port}" for host, port in advertised))
    if inside_only:
        print(
            f"(PrivateZone names: they resolve inside the VPC, e.g. on {consoles[0]}, "
            "not on this machine)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
