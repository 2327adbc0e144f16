#!/usr/bin/env python3
"""Print where the demo's console is, and where its initial password is, after checking it answers.

Reads the console hosts from the inventory (group automq_console) and the
password file's path as Ansible renders it; the password itself is never
printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def console_hosts(inventory: str) -> dict[str, str]:
    listed = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", inventory, "--list"],
        check=True,
        capture_output=True,
        text=True,
    )
    data = json.loads(listed.stdout)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    hosts = data.get("automq_console", {}).get("hosts", [])
    return {h: hostvars.get(h, {}).get("ansible_host", h) for h in hosts}


def rendered_variable(inventory: str, host: str, name: str) -> str:
    """A host variable as Ansible renders it (templates resolved), without connecting."""
    shown = subprocess.run(
        [str(BIN / "ansible"), "-i", inventory, host, "-o", "-m", "ansible.builtin.debug",
         "-a", f"msg={{{{ {name} }}}}"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal"},
    )  # fmt: skip
    return str(json.loads(shown.stdout.split("=>", 1)[1])["msg"])


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

    hosts = console_hosts(args.inventory)
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
