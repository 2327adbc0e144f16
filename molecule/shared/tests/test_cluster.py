"""The cluster as a whole: its quorum, and real produce and consume."""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import subprocess
import uuid
from pathlib import Path

import pytest
import testinfra
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka_clients import client_config_file, client_settings, create_topic, declared_users
from testbed_hosts import HOST_SPECS, NODES

RECORDS = 10_000
PARTITIONS = 6


def _host(name: str):
    return testinfra.get_host(HOST_SPECS[NODES.index(name)])


def test_quorum_has_every_voter(nodes, addresses):
    node = _host(nodes[0])
    # The tools' client settings: the node's certificate, which the controller listener requires.
    with node.sudo():
        status = node.check_output(
            "KAFKA_HEAP_OPTS=-Xmx128m /opt/automq/current/bin/kafka-metadata-quorum.sh "
            "--bootstrap-controller %s:9093 --command-config /etc/automq/admin-client.properties "
            "describe --status",
            addresses[nodes[0]],
        )
    voters_line = next(line for line in status.splitlines() if line.startswith("CurrentVoters"))
    assert voters_line.count('"id"') == len(nodes), status
    assert "LeaderId:" in status


def _payload(sequence: int) -> bytes:
    # Distinct, incompressible-ish bytes per record, so a mix-up cannot pass.
    return hashlib.sha256(sequence.to_bytes(8, "big")).digest() * 8 + sequence.to_bytes(8, "big")


def test_produce_through_one_node_consume_through_another(nodes, addresses):
    produce_via = f"{addresses[nodes[0]]}:9092"
    consume_via = f"{addresses[nodes[-1]]}:9092"
    topic = f"verify-{uuid.uuid4().hex[:8]}"

    admin = AdminClient(client_settings(produce_via))
    admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)])[
        topic
    ].result(timeout=60)

    failures: list[str] = []

    def on_delivery(error, _message):
        if error is not None:
            failures.append(str(error))

    producer = Producer(
        client_settings(produce_via, {"acks": "all", "enable.idempotence": True, "linger.ms": 5})
    )
    for sequence in range(RECORDS):
        producer.produce(
            topic, key=str(sequence).encode(), value=_payload(sequence), on_delivery=on_delivery
        )
        producer.poll(0)
    assert producer.flush(60) == 0
    assert failures == []

    consumer = Consumer(
        client_settings(
            consume_via,
            {
                "group.id": f"verify-{topic}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            },
        )
    )
    consumer.subscribe([topic])
    received: dict[int, bytes] = {}
    last_per_partition: dict[int, int] = {}
    try:
        idle_polls = 0
        while len(received) < RECORDS and idle_polls < 60:
            message = consumer.poll(1.0)
            if message is None:
                idle_polls += 1
                continue
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                continue
            sequence = int(message.key())
            assert sequence not in received, f"duplicate record {sequence}"
            # Within a partition, records come back in the order they were produced.
            assert sequence > last_per_partition.get(message.partition(), -1)
            last_per_partition[message.partition()] = sequence
            received[sequence] = message.value()
    finally:
        consumer.close()

    assert len(received) == RECORDS
    for sequence in range(RECORDS):
        assert received[sequence] == _payload(sequence), f"record {sequence} differs"
    assert len(last_per_partition) == PARTITIONS


@pytest.mark.parametrize("listener", ["broker", "controller"])
def test_every_node_listens(nodes, listener):
    port = 9092 if listener == "broker" else 9093
    for name in nodes:
        assert _host(name).socket(f"tcp://0.0.0.0:{port}").is_listening


# --- Security: third-party clients with the deploy's client configuration -------------

THIRD_PARTY_RECORDS = 10_000
PACKAGE = (
    Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    / ".testbed/packages/automq-1.7.3-fixture_kafka-3.9.1.tgz"
)


@pytest.fixture(scope="module")
def kafka_tools(tmp_path_factory) -> Path:
    """Kafka's own command-line tools, from the release the cluster runs, on this machine."""
    target = tmp_path_factory.mktemp("release")
    subprocess.run(["tar", "-xzf", str(PACKAGE), "-C", str(target)], check=True)
    (home,) = target.iterdir()
    return home / "bin"


def test_kcat_produces_and_consumes_with_the_client_config_as_written(nodes, addresses):
    config = client_config_file()
    topic = f"kcat-{uuid.uuid4().hex[:8]}"
    create_topic(f"{addresses[nodes[0]]}:9092", topic)
    lines = "".join(f"kcat-{n}\n" for n in range(THIRD_PARTY_RECORDS))
    produced = subprocess.run(
        ["kcat", "-F", str(config), "-P", "-t", topic],
        input=lines, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr
    consumed = subprocess.run(
        ["kcat", "-F", str(config), "-C", "-t", topic, "-o", "beginning", "-e", "-q"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert consumed.returncode == 0, consumed.stderr
    assert sorted(consumed.stdout.splitlines()) == sorted(lines.splitlines())


def test_kafkas_console_tools_produce_and_consume_with_the_java_config(
    nodes, addresses, kafka_tools
):
    java_config = client_config_file().with_name("client-java.properties")
    assert java_config.stat().st_mode & 0o077 == 0
    bootstrap = f"{addresses[nodes[0]]}:9092"
    topic = f"console-tools-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic)
    environment = {**os.environ, "KAFKA_HEAP_OPTS": "-Xmx256m"}
    lines = "".join(f"java-{n}\n" for n in range(THIRD_PARTY_RECORDS))
    produced = subprocess.run(
        [str(kafka_tools / "kafka-console-producer.sh"), "--bootstrap-server", bootstrap,
         "--producer.config", str(java_config), "--topic", topic],
        input=lines, capture_output=True, text=True, check=False, timeout=180, env=environment,
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr[-3000:]
    consumed = subprocess.run(
        [str(kafka_tools / "kafka-console-consumer.sh"), "--bootstrap-server", bootstrap,
         "--consumer.config", str(java_config), "--topic", topic, "--from-beginning",
         "--max-messages", str(THIRD_PARTY_RECORDS), "--timeout-ms", "60000"],
        capture_output=True, text=True, check=False, timeout=180, env=environment,
    )  # fmt: skip
    assert consumed.returncode == 0, consumed.stderr[-3000:]
    assert sorted(consumed.stdout.splitlines()) == sorted(lines.splitlines())


def _metadata_error(settings: dict) -> str:
    """What a client with these settings gets when it asks for the cluster's metadata."""
    errors: list[str] = []
    client = AdminClient({**settings, "error_cb": lambda error: errors.append(str(error))})
    try:
        client.list_topics(timeout=15)
    except KafkaException as exception:
        errors.append(str(exception))
    client.poll(2)  # serves the error callbacks, which carry the cause
    return " | ".join(errors)


def test_clients_without_the_right_credentials_are_refused(nodes, addresses):
    good = client_settings(f"{addresses[nodes[0]]}:9092")
    assert _metadata_error(good) == ""

    no_credentials = {k: v for k, v in good.items() if not k.startswith("sasl.")}
    no_credentials["security.protocol"] = "SSL"
    assert _metadata_error(no_credentials), "a TLS client without SASL got metadata"

    wrong_password = {**good, "sasl.password": "not-the-password"}
    assert "Authentication failed" in _metadata_error(wrong_password)

    untrusted = {**good, "ssl.ca.location": certifi_like_system_bundle()}
    assert "certificate verify failed" in _metadata_error(untrusted)

    plaintext = {"bootstrap.servers": good["bootstrap.servers"]}
    assert _metadata_error(plaintext), "a plaintext client got metadata"


def certifi_like_system_bundle() -> str:
    """The system's public CAs, none of which signed the cluster's certificates."""
    return "/etc/ssl/certs/ca-certificates.crt"


def test_tls_1_1_is_refused(nodes, addresses):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(client_settings()["ssl.ca.location"])
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with (
        socket.create_connection((addresses[nodes[0]], 9092), timeout=10) as raw,
        pytest.raises(ssl.SSLError),
    ):
        context.wrap_socket(raw, server_hostname=addresses[nodes[0]])


def test_acls_decide_what_each_user_may_do(nodes, addresses):
    bootstrap = f"{addresses[nodes[0]]}:9092"
    if "readable" not in AdminClient(client_settings(bootstrap)).list_topics(timeout=30).topics:
        create_topic(bootstrap, "readable")
    admin_producer = Producer(client_settings(bootstrap))
    for n in range(10):
        admin_producer.produce("readable", f"record-{n}".encode())
    assert admin_producer.flush(30) == 0

    def as_user(user: str, extra: dict | None = None) -> dict:
        return client_settings(
            bootstrap,
            {"sasl.username": user, "sasl.password": declared_users()[user], **(extra or {})},
        )

    # reader: may read "readable" ...
    consumer = Consumer(
        as_user("reader", {"group.id": f"reader-{uuid.uuid4().hex[:6]}",
                           "auto.offset.reset": "earliest"})
    )  # fmt: skip
    consumer.subscribe(["readable"])
    values = []
    try:
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                values.append(message.value())
            if len(values) >= 10:
                break
    finally:
        consumer.close()
    assert len(values) >= 10

    # ... but not write it, and a user without ACLs may do nothing.
    for user in ("reader", "stranger"):
        failures = _produce_failures(as_user(user, {"message.timeout.ms": 15000}), "readable")
        assert failures, f"{user} could write"
        assert "TOPIC_AUTHORIZATION_FAILED" in failures[0] or "authorized" in failures[0], failures


def _produce_failures(settings: dict, topic: str) -> list[str]:
    failures: list[str] = []
    producer = Producer(settings)
    producer.produce(
        topic,
        b"forbidden",
        on_delivery=lambda error, _m: failures.append(str(error)) if error is not None else None,
    )
    producer.flush(30)
    return failures
