"""Host specs for testinfra: plain SSH to the scenario's hosts, as Ansible reached them.

The inventory's connection variables are Jinja templates that only Ansible
renders, so the verifier writes an equivalent ssh_config of its own.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

import testinfra.utils.ansible_runner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(INVENTORY)
NODES = sorted(RUNNER.get_hosts("automq_broker"))
ADDRESSES = {name: RUNNER.get_variables(name)["ansible_host"] for name in NODES}


# One SSH connection per host for the whole verifier session: testinfra asks ssh for
# ControlMaster=auto and ControlPersist=60s, and this path lets it multiplex (without
# one, every command made a new connection: a key exchange and a login session on the
# host, about 0.23 s and 0.08 CPU-seconds each on this machine, 30 commands 7.0 s against
# 0.5 s multiplexed). Under /tmp: a socket's path must stay under about 100 characters.
_CONTROL_DIR = Path(tempfile.mkdtemp(prefix="automq-verifier-ssh-"))
atexit.register(shutil.rmtree, _CONTROL_DIR, ignore_errors=True)


def write_ssh_config(name: str, addresses: Iterable[str]) -> Path:
    """An ssh_config (in the scenario's ephemeral directory, as ``name``) reaching each
    address as Ansible does: the deploy user, the test bed's key, the scenario's known
    hosts; connections shared through the verifier's control sockets."""
    project = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    ephemeral = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
    config = ephemeral / name
    config.write_text(
        "".join(
            f"Host {address}\n"
            "  User deploy\n"
            f"  IdentityFile {project / '.testbed/ssh/id_ed25519'}\n"
            f"  UserKnownHostsFile {ephemeral / 'known_hosts'}\n"
            "  StrictHostKeyChecking yes\n"
            "  IdentitiesOnly yes\n"
            f"  ControlPath {_CONTROL_DIR}/%r@%h:%p\n"
            for address in addresses
        )
    )
    return config


SSH_CONFIG = write_ssh_config("verifier_ssh_config", ADDRESSES.values())
HOST_SPECS = [f"ssh://{ADDRESSES[name]}?ssh_config={SSH_CONFIG}" for name in NODES]
