#!/usr/bin/env python3
"""Print where the demo's console is, and where its initial password is, after checking it answers.

Reads the console hosts from the inventory (group automq_console) and the
password file's path as Ansible renders it; the password itself is never
printed.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from pathlib import Path

from inventory_vars import group_addresses, rendered_variable


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def user_at(inventory: str, host: str) -> str:
    user = rendered_variable(inventory, host, "ansible_user | default('')")
    return f"{user}@" if user else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--inventory", required=True)
    args = parser.parse_args()

    hosts = group_addresses(args.inventory, "automq_console")
    if not hosts:
        print(f"no hosts in automq_console of {args.inventory}: no console", file=sys.stderr)
        return 0
    for host, address in sorted(hosts.items()):
        port, user, prometheus_port, password_path = (
            rendered_variable(args.inventory, host, expression)
            for expression in (
                "automq_console_port | default(8080)",
                "automq_console_admin_user | default('admin')",
                "automq_console_prometheus_port | default(9090)",
                "automq_console_admin_password_file",
            )
        )
        url = f"http://{address}:{port}"
        with urllib.request.urlopen(f"{url}/healthz", timeout=10) as answer:
            if answer.read().strip() != b"ok":
                print(f"{url}/healthz does not answer ok", file=sys.stderr)
                return 1
        password_file = Path(password_path).resolve()
        if not password_file.is_file():
            print(f"the console's password file {password_file} is missing", file=sys.stderr)
            return 1
        print(f"console={url} user={user}")
        print(f"console initial password: in {password_file} (mode 0600, on this machine)")
        prometheus = f"http://{address}:{prometheus_port}"
        if answers(f"{prometheus}/-/ready"):
            print(f"prometheus={prometheus}")
        else:  # on Alibaba Cloud the console's security group opens SSH and the console only
            print(
                f"prometheus: port {prometheus_port} of the console host, not reachable from "
                f"here (ssh -L {prometheus_port}:127.0.0.1:{prometheus_port} "
                f"{user_at(args.inventory, host)}{address})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
