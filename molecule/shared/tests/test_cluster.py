"""The cluster as a whole: its quorum, and real produce and consume."""

from __future__ import annotations

import hashlib
import uuid

import pytest
import testinfra
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka_clients import client_settings
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
