"""The console's data layer against a real secured Kafka 3.9.1 KRaft node, as the monitor user.

The node is the one of test_kafka_probe_security.py (the fixture package on 127.0.0.1:
CLIENT SASL_SSL with SCRAM-SHA-512, INTERNAL and CONTROLLER with required client
certificates, StandardAuthorizer, nothing allowed without an ACL). As its admin, the test
creates the console's SCRAM user with exactly the ACLs of the automq role
(``__automq_monitor_acls`` in roles/automq/vars/main.yml), a topic and a consumer group
that read part of it. Then the console's own ``KafkaDataSource.from_settings`` (the
confluent-kafka AdminClient and the DescribeQuorum probe, both SASL_SSL, the password
read from a mode-0640 file) reads every page through the CLIENT listener only: the
brokers forward DescribeQuorum to the controller.

Needs Java 17 and the fixture package (``make testbed``); no Docker.
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from automq_console.config import Settings, parse_settings
from automq_console.data import KafkaDataSource

from .conftest import REPO
from .secure_kafka import ADMIN, NODE_ID, SecureNode

MONITOR = "automq-console"
PARTITIONS = 2
RECORDS_PER_PARTITION = 30
COMMITTED_PER_PARTITION = 10
TIMEOUT = 30


# Kafka's resource type CLUSTER is librdkafka's BROKER (both 4).
RESOURCE_TYPES = {
    "cluster": ResourceType.BROKER,
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
}


def monitor_acls() -> list[AclBinding]:
    """The automq role's ACLs of the console's user, read from the role itself."""
    role_vars = yaml.safe_load((REPO / "roles" / "automq" / "vars" / "main.yml").read_text())
    bindings = []
    for acl in role_vars["__automq_monitor_acls"]:
        principal = acl["principal"].replace("{{ automq_monitor_user }}", MONITOR)
        assert re.fullmatch(r"User:[\w.-]+", principal), principal
        for operation in acl["operations"]:
            bindings.append(
                AclBinding(
                    RESOURCE_TYPES[acl["resource_type"]],
                    acl["resource_name"],
                    ResourcePatternType[acl["pattern_type"].upper()],
                    principal,
                    acl.get("host", "*"),
                    AclOperation[operation.upper()],
                    AclPermissionType[acl["permission"].upper()],
                )
            )
    return bindings


def admin_client(kafka: SecureNode, username: str = ADMIN, password: str = "") -> dict[str, Any]:
    return {
        "bootstrap.servers": f"localhost:{kafka.ports.client}",
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": username,
        "sasl.password": password or kafka.admin_password,
        "ssl.ca.location": str(kafka.pki.ca),
    }


def console_settings(kafka: SecureNode, directory: Path, password: str) -> Settings:
    """console.json as the automq_console role writes it for a secure cluster."""
    password_file = directory / "kafka.password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o640)
    for name in ("admin.hash", "session.key"):  # not read by the data layer
        (directory / name).write_text("unused\n")
    raw = {
        "cluster_name": "it",
        "bootstrap_servers": [f"localhost:{kafka.ports.client}"],
        "controller_quorum_bootstrap_servers": [],
        "kafka_security": {
            "protocol": "SASL_SSL",
            "mechanism": "SCRAM-SHA-512",
            "ca_file": str(kafka.pki.ca),
            "username": MONITOR,
            "password_file": str(password_file),
        },
        "nodes": [
            {
                "host": "node-1",
                "node_id": NODE_ID,
                "roles": ["broker", "controller"],
                "installed_version": "1.7.3-fixture",
                "advertised_host": "localhost",
            }
        ],
        "oss": {
            "region": "cn-hangzhou",
            "endpoint": "https://oss-cn-hangzhou-internal.aliyuncs.com",
            "data_bucket": "it-data",
            "ops_bucket": "it-ops",
        },
        "admin_user": "admin",
        "admin_password_hash_file": str(directory / "admin.hash"),
        "session_secret_file": str(directory / "session.key"),
        "kafka_timeout_seconds": 10.0,
    }
    return parse_settings(json.dumps(raw))


@pytest.fixture(scope="module")
def node(secure_node: SecureNode) -> SecureNode:
    """The session's secured node (tests/integration/secure_kafka.py)."""
    return secure_node


@pytest.fixture(scope="module")
def monitored(node: SecureNode, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The console's user with the role's ACLs, a topic with records and a lagging group."""
    password = secrets.token_urlsafe(18)
    admin = AdminClient(admin_client(node))
    upsert = UserScramCredentialUpsertion(
        MONITOR, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), password.encode()
    )
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(TIMEOUT)
    for future in admin.create_acls(monitor_acls()).values():
        future.result(TIMEOUT)
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"console-it-{suffix}", f"console-it-group-{suffix}"
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(TIMEOUT)
    producer = Producer(admin_client(node))
    for partition in range(PARTITIONS):
        for sequence in range(RECORDS_PER_PARTITION):
            producer.produce(topic, f"{partition}-{sequence}".encode(), partition=partition)
    assert producer.flush(TIMEOUT) == 0
    consumer = Consumer({**admin_client(node), "group.id": group, "enable.auto.commit": False})
    offsets = [TopicPartition(topic, p, COMMITTED_PER_PARTITION) for p in range(PARTITIONS)]
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:
            try:
                consumer.commit(offsets=offsets, asynchronous=False)
                break
            except KafkaException as error:
                # A new node creates __consumer_offsets first: NOT_COORDINATOR meanwhile.
                coordinator = {
                    KafkaError.NOT_COORDINATOR,
                    KafkaError.COORDINATOR_NOT_AVAILABLE,
                    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                }
                if error.args[0].code() not in coordinator or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    finally:
        consumer.close()
    directory = tmp_path_factory.mktemp("console")
    return {
        "settings": console_settings(node, directory, password),
        "directory": directory,
        "topic": topic,
        "group": group,
        "password": password,
    }


def test_the_console_reads_every_page_as_the_monitor_user(monitored: dict) -> None:
    source = KafkaDataSource.from_settings(monitored["settings"])

    overview = source.overview()
    assert overview.errors == (), overview.errors
    assert overview.problems == (), overview.problems
    assert overview.leader_id == NODE_ID  # DescribeQuorum, forwarded by the broker
    assert [(row.node_id, row.state) for row in overview.nodes] == [(NODE_ID, "ok")]

    topics = source.topics()
    assert topics.errors == ()
    (row,) = [t for t in topics.topics if t.name == monitored["topic"]]
    assert (row.partitions, row.offline_partitions, row.error) == (PARTITIONS, 0, None)

    groups = source.groups()
    assert groups.errors == ()
    (group,) = [g for g in groups.groups if g.group_id == monitored["group"]]
    assert group.error is None
    assert group.total_lag == PARTITIONS * (RECORDS_PER_PARTITION - COMMITTED_PER_PARTITION)

    storage = source.storage()
    assert storage.errors == ()
    assert storage.reported_by == NODE_ID  # DescribeConfigs of the broker


def test_the_monitor_user_cannot_change_or_read_data(node: SecureNode, monitored: dict) -> None:
    monitor = admin_client(node, MONITOR, monitored["password"])
    with pytest.raises(KafkaException, match="AUTHORIZATION_FAILED"):
        _create_topic(monitor)
    consumer = Consumer({**monitor, "group.id": monitored["group"], "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(monitored["topic"], 0, 0)])
        message = consumer.poll(10)
    finally:
        consumer.close()
    assert message is not None
    assert message.error() is not None
    assert "AUTHORIZATION_FAILED" in message.error().name()


def _create_topic(settings: dict[str, Any]) -> None:
    name = f"nope-{uuid.uuid4().hex[:6]}"
    client = AdminClient(settings)  # kept alive until the answer is in
    client.create_topics([NewTopic(name, 1, 1)])[name].result(TIMEOUT)


def test_a_wrong_password_is_a_message_on_the_page_not_a_crash(
    node: SecureNode,
    monitored: dict,
    tmp_path: Path,
) -> None:
    settings = console_settings(node, tmp_path, "not-the-password")
    overview = KafkaDataSource.from_settings(settings).overview()
    assert overview.errors
    text = " ".join(overview.errors)
    assert "uthentication" in text, text
    assert "not-the-password" not in text
    assert monitored["password"] not in text
