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
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

_HELPERS = Path(__file__).resolve().parents[3] / "python_helpers"
if str(_HELPERS) not in sys.path:
    sys.path.insert(0, str(_HELPERS))

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from automq_helpers.kafka_probe import SecurityConfig  # noqa: E402
from automq_helpers.properties import parse_properties  # noqa: E402

CLIENT_CONFIG_VARIABLE = "AUTOMQ_CLIENT_CONFIG"
# The scenarios' automq_users (test passwords, in the clear only on the test bed).
SHARED_GROUP_VARS = Path(__file__).resolve().parents[1] / "group_vars" / "all.yml"


def client_config_file() -> Path:
    path = Path(os.environ[CLIENT_CONFIG_VARIABLE])
    assert path.is_file(), f"{path} ({CLIENT_CONFIG_VARIABLE}): the deploy did not write it"
    assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others than its owner"
    return path


def client_settings(
    bootstrap: str | None = None,
    extra: Mapping[str, Any] | None = None,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """librdkafka settings: the admin's (or ``base``, e.g. a plaintext client's), with
    another bootstrap list and ``extra`` on top."""
    settings: dict[str, Any] = (
        dict(base) if base is not None else dict(parse_properties(client_config_file().read_text()))
    )
    if bootstrap is not None:
        settings["bootstrap.servers"] = bootstrap
    settings.update(extra or {})
    return settings


def declared_users() -> dict[str, str]:
    """automq_users of the scenarios' shared group_vars: password by user name."""
    users = yaml.safe_load(SHARED_GROUP_VARS.read_text())["automq_users"]
    return {user["name"]: user["password"] for user in users}


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


def create_topic(
    bootstrap: str,
    topic: str,
    partitions: int = 3,
    replication_factor: int = 1,
    settings: Mapping[str, Any] | None = None,
) -> None:
    """Create ``topic`` and wait until every broker's metadata has its partitions: a client
    that asks a broker which has not yet seen it counts 0 partitions and fails its records
    ("Local: Unknown partition", seen once in CI). ``settings``: the client settings to use
    instead of the admin's (a plaintext cluster's)."""

    def connect(servers: str) -> AdminClient:
        return AdminClient(client_settings(servers, base=settings))

    admin = connect(bootstrap)
    new = NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor)
    admin.create_topics([new])[topic].result(timeout=60)
    brokers = [f"{b.host}:{b.port}" for b in admin.list_topics(timeout=30).brokers.values()]
    deadline = time.monotonic() + 60
    for broker in brokers:
        one = connect(broker)
        while True:
            seen = one.list_topics(topic, timeout=10).topics.get(topic)
            if seen is not None and seen.error is None and len(seen.partitions) == partitions:
                break
            assert time.monotonic() < deadline, f"{broker} does not see {topic}'s partitions"
            time.sleep(0.5)
