#!/usr/bin/env python3
"""Print the `bootstrap.servers=` line of a deployed cluster, after checking it works.

Reads the brokers' addresses from the inventory, asks the cluster for its
registered brokers, and connects to every advertised address from this
machine before printing it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from confluent_kafka.admin import AdminClient


def inventory_brokers(inventory: str) -> list[str]:
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", inventory, "--list"],
        check=True,
        capture_output=True,
        text=True,
    )
    data = json.loads(listed.stdout)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    hosts = data.get("automq_broker", {}).get("hosts", [])
    return [f"{hostvars.get(h, {}).get('ansible_host', h)}:9092" for h in hosts]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", required=True)
    args = parser.parse_args()

    seeds = inventory_brokers(args.inventory)
    if not seeds:
        print(f"no hosts in automq_broker of {args.inventory}", file=sys.stderr)
        return 1
    # Keep the client referenced until its answer arrives.
    admin = AdminClient({"bootstrap.servers": ",".join(seeds)})
    cluster = admin.describe_cluster(request_timeout=30).result(timeout=30)
    advertised = sorted(f"{node.host}:{node.port}" for node in cluster.nodes)
    for address in advertised:
        # Each advertised address must answer from here, not only the seed list.
        AdminClient({"bootstrap.servers": address}).list_topics(timeout=10)
    print(f"cluster.id={cluster.cluster_id} brokers={len(advertised)}")
    print("bootstrap.servers=" + ",".join(advertised))
    return 0


if __name__ == "__main__":
    sys.exit(main())
