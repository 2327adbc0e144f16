"""Fixtures of the Molecule verifier (testinfra over the scenario's inventory)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from testbed_hosts import ADDRESSES, NODES


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
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "ansible.log"
    text = path.read_text()
    assert "PLAY RECAP" in text, f"{path} does not hold the converge output"
    return text
