"""How the tests reach the cluster as a Kafka client: the admin's settings the deploy wrote.

The deploy writes a librdkafka client configuration of the admin user on the Ansible
machine (``automq_client_config_file``; the scenarios put it at ``AUTOMQ_CLIENT_CONFIG``
in their ephemeral directory). Every Kafka client of the tests starts from it, so the
tests use the cluster as its users do: SASL_SSL with SCRAM-SHA-512, the cluster CA
trusted, host names verified.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_HELPERS = Path(__file__).resolve().parents[3] / "python_helpers"
if str(_HELPERS) not in sys.path:
    sys.path.insert(0, str(_HELPERS))

from automq_helpers.kafka_probe import SecurityConfig  # noqa: E402
from automq_helpers.properties import parse_properties  # noqa: E402

CLIENT_CONFIG_VARIABLE = "AUTOMQ_CLIENT_CONFIG"


def client_config_file() -> Path:
    path = Path(os.environ[CLIENT_CONFIG_VARIABLE])
    assert path.is_file(), f"{path} ({CLIENT_CONFIG_VARIABLE}): the deploy did not write it"
    assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others than its owner"
    return path


def client_settings(
    bootstrap: str | None = None, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """librdkafka settings: the admin's, with another bootstrap list and ``extra`` on top."""
    settings: dict[str, Any] = dict(parse_properties(client_config_file().read_text()))
    if bootstrap is not None:
        settings["bootstrap.servers"] = bootstrap
    settings.update(extra or {})
    return settings


def probe_security() -> SecurityConfig | None:
    """The same admin credentials for the project's stdlib probe (kafka_probe); None for a
    plaintext cluster (the bench's)."""
    settings = client_settings()
    if settings.get("security.protocol", "PLAINTEXT") == "PLAINTEXT":
        return None
    return SecurityConfig(
        protocol=settings["security.protocol"],
        ca_file=settings["ssl.ca.location"],
        sasl_mechanism=settings["sasl.mechanisms"],
        username=settings["sasl.username"],
        password=settings["sasl.password"],
    )
