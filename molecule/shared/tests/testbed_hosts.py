"""Host specs for testinfra: plain SSH to the scenario's hosts, as Ansible reached them.

The inventory's connection variables are Jinja templates that only Ansible
renders, so the verifier writes an equivalent ssh_config of its own.
"""

from __future__ import annotations

import os
from pathlib import Path

import testinfra.utils.ansible_runner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
NODES = sorted(RUNNER.get_hosts("automq_broker"))
ADDRESSES = {name: RUNNER.get_variables(name)["ansible_host"] for name in NODES}


def _ssh_config() -> Path:
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    config = ephemeral / "verifier_ssh_config"
    config.write_text(
        "".join(
            f"Host {address}\n"
            "  User deploy\n"
            f"  IdentityFile {project / '.testbed/ssh/id_ed25519'}\n"
            f"  UserKnownHostsFile {ephemeral / 'known_hosts'}\n"
            "  StrictHostKeyChecking yes\n"
            "  IdentitiesOnly yes\n"
            for address in ADDRESSES.values()
        )
    )
    return config


SSH_CONFIG = _ssh_config()
HOST_SPECS = [f"ssh://{ADDRESSES[name]}?ssh_config={SSH_CONFIG}" for name in NODES]
