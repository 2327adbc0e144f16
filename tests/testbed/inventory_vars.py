"""What an inventory says, as Ansible renders it, for the test bed's scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def group_addresses(inventory: str, group: str) -> dict[str, str]:
    """The hosts of a group, each with its ansible_host (else its name)."""
    listed = subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", inventory, "--list"],
        check=True,
        capture_output=True,
        text=True,
    )
    data = json.loads(listed.stdout)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    hosts = data.get(group, {}).get("hosts", [])
    return {h: hostvars.get(h, {}).get("ansible_host", h) for h in hosts}


def rendered_variable(inventory: str, host: str, expression: str) -> str:
    """An expression over a host's variables as Ansible renders it, without connecting."""
    shown = subprocess.run(
        [str(BIN / "ansible"), "-i", inventory, host, "-o", "-m", "ansible.builtin.debug",
         "-a", f"msg={{{{ {expression} }}}}"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.minimal"},
    )  # fmt: skip
    return str(json.loads(shown.stdout.split("=>", 1)[1])["msg"])
