"""Fixtures of the Molecule verifier (testinfra over the scenario's inventory)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from testbed_hosts import ADDRESSES, NODES

# Runs before every other test of its scenario (cluster): the scenario converges
# plaintext, and the other tests check the cluster it migrated to secure.
FIRST = "migration_test_live.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name != FIRST)


@pytest.fixture(scope="session")
def nodes() -> list[str]:
    expected = int(os.environ["AUTOMQ_EXPECTED_NODES"])
    assert len(NODES) == expected, f"inventory has {NODES}, expected {expected} nodes"
    return NODES


@pytest.fixture(scope="session")
def addresses(nodes: list[str]) -> dict[str, str]:
    return {name: ADDRESSES[name] for name in nodes}


@pytest.fixture(scope="session")
def oss_secret() -> str:
    secret = os.environ["AUTOMQ_TEST_OSS_SECRET"]
    assert len(secret) >= 16, "the test secret must be distinctive enough to grep for"
    return secret


@pytest.fixture(scope="session")
def ansible_log() -> str:
    """What the scenario's playbook runs logged (converge, idempotence...).

    Lines of other processes are left out: the verifier's own `ansible-inventory --list`
    (testinfra) logs the scenario's test variables as they are written in group_vars."""
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ansible.log"
    text = path.read_text()
    assert "PLAY RECAP" in text, f"{path} does not hold the converge output"
    pid = re.compile(r"^\S+ \S+ p=(\d+) ")
    playbook_pids = {
        match[1] for line in text.splitlines() if "PLAY [" in line and (match := pid.match(line))
    }
    kept, current = [], None
    for line in text.splitlines():
        match = pid.match(line)
        if match:
            current = match[1]
        if current in playbook_pids:
            kept.append(line)
    return "\n".join(kept)
