#!/usr/bin/env python3
"""Print where the demo's console is, and where its initial password is, after checking it answers.

Reads the console hosts from the inventory (group automq_console) and the
password files' and the cluster CA's paths as Ansible renders them. The console
and Prometheus serve HTTPS with certificates from the cluster CA: both are
checked over TLS with that CA trusted and the address verified, Prometheus
with its password. No password is ever printed.
"""

from __future__ import annotations

import argparse
import base64
import ssl
import sys
import urllib.request
from pathlib import Path

from inventory_vars import group_addresses, rendered_variable

# The cluster CA's certificate on this machine, as role automq_pki places it by default.
CA_CERT = (
    "automq_pki_ca_cert | default((automq_pki_ca_dir | default("
    "lookup('ansible.builtin.env', 'HOME') ~ '/.automq-ansible/'"
    " ~ automq_cluster_name | default('automq') ~ '-ca')) ~ '/ca.crt')"
)


def get(url: str, context: ssl.SSLContext, credentials: tuple[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url)
    if credentials:
        token = base64.b64encode(":".join(credentials).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
    )
    with opener.open(request, timeout=10) as answer:
        return answer.read()


def answers(url: str, context: ssl.SSLContext, credentials: tuple[str, str]) -> bool:
    try:
        get(url, context, credentials)
    except OSError:
        return False
    return True


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
        port, user, prometheus_port, password_path, prometheus_user, prometheus_path, ca = (
            rendered_variable(args.inventory, host, expression)
            for expression in (
                "automq_console_port | default(8080)",
                "automq_console_admin_user | default('admin')",
                "automq_console_prometheus_port | default(9090)",
                "automq_console_admin_password_file",
                "automq_console_prometheus_username | default('prometheus')",
                "automq_console_prometheus_password_file | default(lookup('ansible.builtin.env',"
                " 'HOME') ~ '/.automq-ansible/' ~ automq_cluster_name ~ '-prometheus.password')",
                CA_CERT,
            )
        )
        ca_file = Path(ca).resolve()
        if not ca_file.is_file():
            print(f"the cluster CA's certificate {ca_file} is missing", file=sys.stderr)
            return 1
        trusted = ssl.create_default_context(cafile=str(ca_file))
        url = f"https://{address}:{port}"
        if get(f"{url}/healthz", trusted).strip() != b"ok":
            print(f"{url}/healthz does not answer ok", file=sys.stderr)
            return 1
        password_file = Path(password_path).resolve()
        if not password_file.is_file():
            print(f"the console's password file {password_file} is missing", file=sys.stderr)
            return 1
        print(f"console={url} user={user}")
        print(f"console initial password: in {password_file} (mode 0600, on this machine)")
        print(f"cluster CA (trust it in your browser): {ca_file}")
        prometheus_file = Path(prometheus_path).resolve()
        if prometheus_file.is_file():
            prometheus = f"https://{address}:{prometheus_port}"
            credentials = (prometheus_user, prometheus_file.read_text().strip())
            if answers(f"{prometheus}/-/ready", trusted, credentials):
                print(f"prometheus={prometheus} user={prometheus_user}")
            else:  # on Alibaba Cloud it listens on the console host's private address only
                print(
                    f"prometheus: https, port {prometheus_port} of the console host's private "
                    f"address, not reachable from here (ssh -L {prometheus_port}:<private "
                    f"address>:{prometheus_port} {user_at(args.inventory, host)}{address}), "
                    f"user {prometheus_user}"
                )
            print(f"prometheus password: in {prometheus_file} (mode 0600, on this machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
