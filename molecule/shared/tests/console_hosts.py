"""The console host of the cluster scenario, for the console's tests (console_test_*.py).

Like testbed_hosts.py, but for the group automq_console: plain SSH to the
host as Ansible reached it, plus the addresses the tests use. The console and
Prometheus serve HTTPS only, with certificates from the cluster CA, which the
tests trust (``AUTOMQ_CA_FILE``, in the scenario's automq_pki_ca_dir).
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import testinfra
from prometheus_api import Prometheus

# The scenario's inventory as testbed_hosts.py read it (once per verifier session).
from testbed_hosts import ADDRESSES as NODE_ADDRESSES
from testbed_hosts import NODES as NODE_HOSTS
from testbed_hosts import RUNNER, write_ssh_config

CONSOLE_HOSTS = sorted(RUNNER.get_hosts("automq_console"))
CONSOLE = CONSOLE_HOSTS[0] if CONSOLE_HOSTS else ""
CONSOLE_ADDRESS = RUNNER.get_variables(CONSOLE)["ansible_host"] if CONSOLE else ""

CONSOLE_PORT = 8080
CONSOLE_URL = f"https://{CONSOLE_ADDRESS}:{CONSOLE_PORT}"
CA_FILE = Path(os.environ["AUTOMQ_CA_FILE"])
PROMETHEUS = Prometheus.of_scenario(CONSOLE_ADDRESS)
JMX_EXPORTER_PORT = 9404
ARTIFACTS = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / ".testbed" / "artifacts"


SSH_CONFIG = write_ssh_config(
    "verifier_ssh_config_console", [CONSOLE_ADDRESS, *NODE_ADDRESSES.values()]
)
CONSOLE_SPEC = f"ssh://{CONSOLE_ADDRESS}?ssh_config={SSH_CONFIG}"
NODE_SPECS = {name: f"ssh://{NODE_ADDRESSES[name]}?ssh_config={SSH_CONFIG}" for name in NODE_HOSTS}


def console_host():
    return testinfra.get_host(CONSOLE_SPEC)


def admin_password() -> str:
    """The initial admin password, from the mode-0600 file Ansible wrote on this machine."""
    return Path(os.environ["AUTOMQ_CONSOLE_PASSWORD_FILE"]).read_text().strip()


def tls_to_the_console() -> ssl.SSLContext:
    """Verifies the console's certificate against the cluster CA, and its name (the address)."""
    return ssl.create_default_context(cafile=str(CA_FILE))
