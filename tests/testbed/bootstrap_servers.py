#!/usr/bin/env python3
"""Print a deployed cluster's `bootstrap.servers=` and `client.config=` lines, checked first.

Reads the brokers' addresses and the admin's client configuration (written by
the deploy on this machine, mode 0600) from the inventory, asks the cluster for
its registered brokers with it, and connects to every advertised address from
this machine before printing them. A plaintext cluster has no client
configuration.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from confluent_kafka.admin import AdminClient
from inventory_vars import group_addresses, rendered_variable

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python_helpers"))
from automq_helpers.properties import parse_properties


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", required=True)
    args = parser.parse_args()

    brokers = group_addresses(args.inventory, "automq_broker")
    if not brokers:
        print(f"no hosts in automq_broker of {args.inventory}", file=sys.stderr)
        return 1
    first = sorted(brokers)[0]
    secure = rendered_variable(args.inventory, first, "automq_security | default('secure')")
    settings: dict[str, str] = {}
    config_file: Path | None = None
    if secure == "secure":
        config_file = Path(rendered_variable(args.inventory, first, "automq_client_config_file"))
        config_file = config_file.resolve()
        if not config_file.is_file() or config_file.stat().st_mode & 0o077:
            print(f"{config_file} is missing or readable by others", file=sys.stderr)
            return 1
        settings = parse_properties(config_file.read_text())
    seeds = ",".join(f"{address}:9092" for address in brokers.values())
    # Keep the client referenced until its answer arrives.
    admin = AdminClient({**settings, "bootstrap.servers": seeds})
    cluster = admin.describe_cluster(request_timeout=30).result(timeout=30)
    advertised = sorted(f"{node.host}:{node.port}" for node in cluster.nodes)
    for address in advertised:
        # Each advertised address must answer from here, not only the seed list.
        AdminClient({**settings, "bootstrap.servers": address}).list_topics(timeout=10)
    print(f"cluster.id={cluster.cluster_id} brokers={len(advertised)}")
    if config_file is not None:
        print(f"client.config={config_file}")
    print("bootstrap.servers=" + ",".join(advertised))
    return 0


if __name__ == "__main__":
    sys.exit(main())
