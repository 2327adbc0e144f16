"""The cluster scenario's first tests: its plaintext cluster migrated to secure under traffic.

Molecule converged the cluster plaintext on the ports of ../../cluster/converge.yml, as a
cluster deployed before secure became the default. An application produces (idempotent,
acks=all) and consumes in a group over plaintext while the first two phases roll every
node (automq_security_migration: listeners, then internal), moves to SASL_SSL as its own
SCRAM user (ACLs on migration-*, from ../group_vars/all.yml) without a pause in its
numbering, and keeps going while the last phase creates the ACLs and rolls every node onto
the secure configuration. Then: every record acknowledged and in the log exactly once and
in order, the consumer group saw each once and in order, the plaintext listener gone, and
site.yml with the inventory alone changes nothing. Named outside test_*.py: only the
cluster scenario runs it, first (conftest.py).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from kafka_clients import client_settings, create_topic, declared_users
from playbook_runs import PROJECT, PlaybookRun, ansible_playbook
from testbed_hosts import ADDRESSES, NODES
from upgrade_traffic import SCENARIO_LINGER_MS, CheckingConsumer, SteadyProducer, read_topic

_PLAINTEXT = yaml.safe_load((PROJECT / "molecule/cluster/converge.yml").read_text())[0]["vars"]
OLD_BROKER_PORT = int(_PLAINTEXT["automq_broker_port"])
OLD_CONTROLLER_PORT = int(_PLAINTEXT["automq_controller_port"])
PLAINTEXT_PORTS = [
    "-e",
    f"automq_security_migration_broker_port={OLD_BROKER_PORT}",
    "-e",
    f"automq_security_migration_controller_port={OLD_CONTROLLER_PORT}",
]
STATE_FILE = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent / "automq_state" / "molecule.json"
PLAINTEXT_BOOTSTRAP = ",".join(f"{ADDRESSES[name]}:{OLD_BROKER_PORT}" for name in NODES)
SECURE_BOOTSTRAP = ",".join(f"{ADDRESSES[name]}:9092" for name in NODES)
PLAINTEXT_CLIENT = {"security.protocol": "PLAINTEXT"}
APPLICATION_USER = "migrated"
TOPIC = f"migration-{uuid.uuid4().hex[:8]}"
GROUP = f"{TOPIC}-readers"
PARTITIONS = 6
RATE = 100.0

STEPS = SimpleNamespace()


def _recorded_security() -> str:
    return yaml.safe_load(STATE_FILE.read_text())["security"]


def _restarted_once_each(run: PlaybookRun) -> None:
    """The phase took every node out of service exactly once (one stop per node)."""
    stops: list[str] = []
    in_stop = False
    for line in run.output.splitlines():
        if line.startswith("TASK ["):
            in_stop = line.startswith("TASK [automq : Stop AutoMQ]")
        elif in_stop and line.startswith("changed: ["):
            stops.append(line.split("[", 1)[1].split("]", 1)[0])
    assert sorted(stops) == sorted(NODES), f"{run.playbook}: nodes stopped {stops}"


def _phase(playbook: str, phase: str, *extra: str) -> PlaybookRun:
    run = ansible_playbook(
        playbook, "-e", f"automq_security_migration={phase}", *extra, label="migration"
    )
    assert run.returncode == 0, run.tail()
    STEPS.seconds[phase] = run.seconds
    return run


@pytest.fixture(scope="module")
def plaintext_traffic():
    assert _recorded_security() == "plaintext", "the scenario must converge plaintext"
    create_topic(
        PLAINTEXT_BOOTSTRAP, TOPIC, PARTITIONS, replication_factor=1, settings=PLAINTEXT_CLIENT
    )
    STEPS.seconds = {}
    STEPS.consumer = CheckingConsumer(
        PLAINTEXT_BOOTSTRAP, TOPIC, GROUP, settings=PLAINTEXT_CLIENT
    ).start()
    STEPS.producer = SteadyProducer(
        PLAINTEXT_BOOTSTRAP,
        TOPIC,
        rate=RATE,
        settings=PLAINTEXT_CLIENT,
        linger_ms=SCENARIO_LINGER_MS,
    ).start()
    time.sleep(5)  # traffic flowing before the first phase touches a node
    return STEPS


def test_listeners_then_internal_keep_plaintext_clients_working(plaintext_traffic):
    steps = plaintext_traffic
    first = _phase("playbooks/deploy.yml", "listeners", *PLAINTEXT_PORTS)
    _restarted_once_each(first)
    assert _recorded_security() == "migrating-listeners"

    # Finishing before the nodes moved their own traffic onto TLS is refused before any
    # change: the next phase is named.
    early = ansible_playbook(
        "playbooks/deploy.yml", "-e", "automq_security_migration=finish", label="migration"
    )
    assert early.returncode != 0
    named = "the next one here is automq_security: secure with automq_security_migration: internal"
    assert named in " ".join(early.output.split()), early.tail()
    assert _recorded_security() == "migrating-listeners"

    second = _phase("playbooks/deploy.yml", "internal", *PLAINTEXT_PORTS)
    _restarted_once_each(second)
    assert _recorded_security() == "migrating-internal"
    assert steps.producer.errors == [], steps.producer.errors[:5]
    assert steps.producer.failure is None
    assert steps.consumer.failure is None


def test_the_application_moves_to_sasl_ssl_and_finish_drops_plaintext(plaintext_traffic):
    steps = plaintext_traffic
    plaintext_producer, plaintext_consumer = steps.producer, steps.consumer
    plaintext_producer.stop()
    plaintext_sequences = set(plaintext_producer.acked)
    missing = plaintext_consumer.wait_for(plaintext_sequences, timeout=120)
    assert not missing, f"{len(missing)} plaintext records never consumed"
    plaintext_consumer.stop()

    # The application now logs in as its own user: before finish every node still
    # allows everyone without an ACL; after finish only its ACLs let it in.
    application = client_settings(
        None,
        {"sasl.username": APPLICATION_USER, "sasl.password": declared_users()[APPLICATION_USER]},
    )
    consumer = CheckingConsumer(
        SECURE_BOOTSTRAP, TOPIC, GROUP, settings=application, log=plaintext_consumer.log
    ).start()
    producer = SteadyProducer(
        SECURE_BOOTSTRAP,
        TOPIC,
        rate=RATE,
        settings=application,
        first_sequence=plaintext_producer.first_sequence + plaintext_producer.produced,
        linger_ms=SCENARIO_LINGER_MS,
    ).start()
    time.sleep(5)
    finish = _phase("site.yml", "finish")
    _restarted_once_each(finish)
    # The application's topics and groups were held open while their ACLs landed (a
    # second-phase broker applies them one at a time: describe before write).
    held = [
        set(event["event_data"]["res"].get("held_open", []))
        for event in finish.events
        if event.get("event") == "runner_on_ok"
        and event["event_data"].get("task") == "Create and remove ACLs"
    ]
    assert held, finish.describe()
    assert {
        f"allow User:* all on {kind} prefixed:migration- from *" for kind in ("topic", "group")
    } <= held[0], held
    assert _recorded_security() == "secure"
    time.sleep(5)  # and traffic after the last restart
    producer.stop()
    missing = consumer.wait_for(set(producer.acked), timeout=120)
    consumer.stop()

    produced = plaintext_producer.produced + producer.produced
    acknowledged = {**plaintext_producer.acked, **producer.acked}
    log = read_topic(SECURE_BOOTSTRAP, TOPIC, PARTITIONS)
    print(
        f"\nmigration: phases listeners {steps.seconds['listeners']:.0f} s, internal "
        f"{steps.seconds['internal']:.0f} s, finish {steps.seconds['finish']:.0f} s; "
        f"{produced} records at {RATE:.0f}/s ({plaintext_producer.produced} plaintext, "
        f"{producer.produced} SASL_SSL), {len(acknowledged)} acknowledged, "
        f"{len(plaintext_producer.errors) + len(producer.errors)} produce errors; log: "
        f"{len(log.found)} records, {len(log.duplicates)} duplicated, "
        f"{len(log.out_of_order)} out of order; consumer group: {len(consumer.log.found)} "
        f"records, {len(consumer.log.duplicates)} duplicated, "
        f"{len(consumer.log.out_of_order)} out of order, "
        f"{consumer.log.redelivered} redelivered after the handover"
    )
    assert producer.errors == [], producer.errors[:5]
    assert plaintext_producer.unflushed == producer.unflushed == 0
    assert len(acknowledged) == produced
    assert not missing, f"{len(missing)} SASL_SSL records never consumed"
    assert set(log.found) == set(range(produced))
    assert log.duplicates == log.out_of_order == log.corrupt == []
    assert consumer.log.duplicates == consumer.log.out_of_order == []
    assert set(consumer.log.found) == set(range(produced))

    # The plaintext listeners are gone on every node.
    for name in NODES:
        for port in (OLD_BROKER_PORT, OLD_CONTROLLER_PORT):
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((ADDRESSES[name], port), 5).close()


def test_site_yml_after_the_migration_changes_nothing():
    run = ansible_playbook("site.yml", label="migration")
    assert run.returncode == 0, run.tail()
    changed = run.changed()
    assert changed, run.tail()
    assert all(count == 0 for count in changed.values()), changed
