"""Scenario scale: scale out, decommission, scale out again, on a real 3-node cluster.

Converge deployed automq-scale-1..3 (combined controller+broker, node IDs 0-2);
automq-scale-4 and -5 run but are in no AutoMQ group. These tests run in file order and
build on each other: they drive site.yml and playbooks/decommission.yml with
ansible-playbook, adding hosts to automq_broker through a second inventory file, and
look at the hosts with ``docker exec`` and at the cluster over the Kafka protocol.
Prometheus on automq-scale-console must follow each change of the inventory, and alert
while a stopped node is still in it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
STATE_FILE = INVENTORY / "automq_state" / "molecule.json"
EXTRA_INVENTORY = EPHEMERAL / "scale_extra_inventory.yml"
SECRET = os.environ["AUTOMQ_TEST_OSS_SECRET"]

sys.path.insert(0, str(PROJECT / "python_helpers"))
sys.path.insert(0, str(PROJECT / "molecule" / "shared" / "tests"))
from kafka_clients import client_settings, probe_security  # noqa: E402
from playbook_runs import PlaybookRun, ansible_playbook  # noqa: E402
from prometheus_api import Prometheus, get, jmx_targets_problem, poll  # noqa: E402

from automq_helpers.balancer_exclusion import EXCLUDE_BROKER_IDS  # noqa: E402
from automq_helpers.kafka_admin import ConfigEntry, KafkaAdmin  # noqa: E402
from automq_helpers.kafka_probe import KafkaProbe  # noqa: E402

ADDRESS = {f"automq-scale-{i}": f"172.30.23.1{i}" for i in range(1, 6)}
ORIGINAL = ["automq-scale-1", "automq-scale-2", "automq-scale-3"]
BOOTSTRAP = ",".join(f"{ADDRESS[name]}:9092" for name in ORIGINAL)
CONSOLE = "automq-scale-console"
# HTTPS with the scenario's cluster CA, behind the password the deploy generated.
PROMETHEUS_ADDRESS = "172.30.23.20"
JMX_EXPORTER_PORT = 9404
RECORDS = 2000
# The converge deploys version A (group_vars/all/50-version.yml); the last tests upgrade to B.
VERSION_B = "1.7.3-fixture"
TO_B = ["-e", f"automq_version={VERSION_B}", "-e", "automq_kafka_version=3.9.1"]
RUN = uuid.uuid4().hex[:6]


# --------------------------------------------------------------------------- helpers


def playbook(
    name: str, extra_hosts: list[str], *args: str, inventory: Path | None = None
) -> PlaybookRun:
    """Run a playbook of the project over the scenario's inventory plus ``extra_hosts`` in
    automq_broker, as an operator would with a second inventory file."""
    EXTRA_INVENTORY.write_text(
        json.dumps({"automq_broker": {"hosts": {host: {} for host in extra_hosts}}})
    )
    run = ansible_playbook(
        name,
        *args,
        label="scale",
        extra_inventory=EXTRA_INVENTORY,
        inventory=inventory,
    )
    assert SECRET not in run.output, f"the OSS secret appeared in the output of {name}"
    return run


def decommission(hosts: list[str], extra_hosts: list[str]) -> PlaybookRun:
    return playbook(
        "playbooks/decommission.yml",
        extra_hosts,
        "-e",
        json.dumps({"automq_decommission_hosts": hosts}),
    )


def sh(host: str, script: str) -> str:
    result = subprocess.run(
        ["docker", "exec", host, "sh", "-euc", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{host}: {script}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def assert_no_cluster_lock(hosts: list[str]) -> None:
    """A run refused in its preflight gives the cluster lock back."""
    for host in hosts:
        sh(host, "test ! -e /var/lib/automq/operation.lock")


def service(host: str) -> dict[str, str]:
    """The unit's state, main PID and start time, and the checksums of its configuration."""
    show = sh(
        host,
        "systemctl show automq -p ActiveState -p UnitFileState -p MainPID -p ActiveEnterTimestamp",
    )
    found = dict(line.split("=", 1) for line in show.splitlines())
    sums = sh(
        host,
        "sha256sum /etc/automq/server.properties /etc/systemd/system/automq.service"
        " /etc/automq/credentials.env; readlink /opt/automq/current",
    )
    found["files"] = sums
    return found


def state() -> dict[str, object]:
    return json.loads(STATE_FILE.read_text())


# Every node keeps a copy of the state file; node_files writes it with the configuration.
STATE_COPY = "/var/lib/automq/cluster-state.json"
NODE_FILES_TASK = "Write the node's directories, configuration, unit and version link"


def node_id_on_host(host: str) -> int:
    meta = sh(host, "cat /var/lib/automq/kraft-metadata/meta.properties")
    return int(re.search(r"^node\.id=(\d+)$", meta, re.MULTILINE).group(1))  # type: ignore[union-attr]


def live_brokers() -> list[int]:
    with KafkaProbe(ADDRESS["automq-scale-1"], 9092, security=probe_security()) as probe:
        return sorted(broker.node_id for broker in probe.describe_cluster().brokers)


def cluster_wide_exclusion() -> ConfigEntry | None:
    """The cluster-wide dynamic value of AutoMQ's AutoBalancer exclusion list."""
    with KafkaAdmin(ADDRESS["automq-scale-1"], 9092, security=probe_security()) as admin:
        return admin.broker_config("", EXCLUDE_BROKER_IDS)


def replicas_by_partition() -> dict[str, list[int]]:
    metadata = AdminClient(client_settings(BOOTSTRAP)).list_topics(timeout=30)
    return {
        f"{topic}-{partition}": list(info.replicas)
        for topic, topic_info in metadata.topics.items()
        for partition, info in topic_info.partitions.items()
    }


def assert_prometheus_scrapes(node_ids: dict[str, int]) -> None:
    """Prometheus on the console host scrapes exactly these hosts (host -> node.id), all up,
    each target labelled with its node ID: the targets follow the inventory."""
    by_target = {f"{ADDRESS[host]}:{JMX_EXPORTER_PORT}": node for host, node in node_ids.items()}
    prometheus = Prometheus.of_scenario(PROMETHEUS_ADDRESS)
    poll(lambda: jmx_targets_problem(prometheus, set(by_target), by_target))


def firing_alerts() -> list[tuple[str, str, str]]:
    """(alert name, node, node ID) of every alert firing in Prometheus on the console host."""
    alerts = get(Prometheus.of_scenario(PROMETHEUS_ADDRESS), "/api/v1/alerts")["alerts"]
    return sorted(
        (a["labels"]["alertname"], a["labels"].get("node", ""), a["labels"].get("node_id", ""))
        for a in alerts
        if a["state"] == "firing"
    )


def payload(topic: str, sequence: int) -> bytes:
    seed = f"{topic}/{sequence}".encode()
    return hashlib.sha256(seed).digest() * 8 + sequence.to_bytes(8, "big")


def produce(topic: str, partitions: int, assignment: list[list[int]] | None = None) -> None:
    admin = AdminClient(client_settings(BOOTSTRAP))
    new = (
        NewTopic(topic, num_partitions=len(assignment), replica_assignment=assignment)
        if assignment
        else NewTopic(topic, num_partitions=partitions, replication_factor=3)
    )
    admin.create_topics([new])[topic].result(timeout=60)
    failures: list[str] = []
    producer = Producer(client_settings(BOOTSTRAP, {"acks": "all", "enable.idempotence": True}))
    for sequence in range(RECORDS):
        producer.produce(
            topic,
            key=str(sequence).encode(),
            value=payload(topic, sequence),
            partition=sequence % partitions,
            on_delivery=lambda error, _msg: failures.append(str(error)) if error else None,
        )
        producer.poll(0)
    assert producer.flush(60) == 0
    assert failures == []


def read_all(topic: str, partitions: int, bootstrap: str) -> dict[int, bytes]:
    consumer = Consumer(
        client_settings(
            bootstrap,
            {
                "group.id": f"scale-verify-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
            },
        )
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    received: dict[int, bytes] = {}
    at_end: set[int] = set()
    try:
        idle = 0
        while len(at_end) < partitions and idle < 60:
            message = consumer.poll(1.0)
            if message is None:
                idle += 1
                continue
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                at_end.add(message.partition())
                continue
            sequence = int(message.key())
            assert sequence not in received, f"{topic}: duplicate record {sequence}"
            received[sequence] = message.value()
    finally:
        consumer.close()
    return received


TOPICS: dict[str, int] = {}  # topic -> partitions, for the final read


# --------------------------------------------------------------------------- the scenario


def test_converge_deployed_three_nodes():
    assert state()["assignments"] == {"automq-scale-1": 0, "automq-scale-2": 1, "automq-scale-3": 2}
    assert state()["retired"] == []
    assert live_brokers() == [0, 1, 2]
    assert_prometheus_scrapes({"automq-scale-1": 0, "automq-scale-2": 1, "automq-scale-3": 2})
    for host in ("automq-scale-4", "automq-scale-5"):
        assert sh(host, "test -e /etc/automq && echo yes || echo no").strip() == "no"


def test_produce_before_scaling():
    topic = f"before-{RUN}"
    produce(topic, 6)
    TOPICS[topic] = 6


BEFORE: dict[str, dict[str, str]] = {}


def test_scale_out_adds_broker_1000_and_touches_nothing_else():
    BEFORE.update({host: service(host) for host in ORIGINAL})
    run = playbook("site.yml", ["automq-scale-4"])
    assert run.returncode == 0, run.output[-3000:]
    assert state()["assignments"]["automq-scale-4"] == 1000
    assert node_id_on_host("automq-scale-4") == 1000
    new = service("automq-scale-4")
    assert (new["ActiveState"], new["UnitFileState"]) == ("active", "enabled")
    assert live_brokers() == [0, 1, 2, 1000]  # registered and unfenced
    for host in ORIGINAL:
        assert service(host) == BEFORE[host], f"{host} was reconfigured or restarted"
    # Nodes 2 and 3 saw one change, their copy of the cluster's state (the new ID); node 1
    # also ran the state file update.
    for host in ("automq-scale-2", "automq-scale-3"):
        assert run.changed()[host] == 1, run.changed()
        assert run.results(host)[NODE_FILES_TASK]["changed_paths"] == [STATE_COPY], host
    assert_prometheus_scrapes(
        {"automq-scale-1": 0, "automq-scale-2": 1, "automq-scale-3": 2, "automq-scale-4": 1000}
    )


def test_produce_onto_the_new_broker():
    spread = f"spread-{RUN}"
    produce(spread, 8)
    TOPICS[spread] = 8
    # Only on the new broker: the decommission has to copy this data away.
    only_new = f"only-new-{RUN}"
    produce(only_new, 2, assignment=[[1000], [1000]])
    TOPICS[only_new] = 2
    replicas = replicas_by_partition()
    assert any(1000 in replicas[f"{spread}-{p}"] for p in range(8))


REFUSALS = [
    (
        ["automq-scale-1"],
        ["automq-scale-4"],
        "automq_decommission_hosts names automq-scale-1, in the inventory group automq_controller: "
        "it is a voter of the KRaft controller quorum",
    ),
    (
        ["automq-scale-5"],
        ["automq-scale-4"],
        "automq_decommission_hosts names automq-scale-5, which is not in the inventory group "
        "automq_broker (automq-scale-1, automq-scale-2, automq-scale-3, automq-scale-4), so not "
        "a node of this cluster",
    ),
    (
        ["automq-scale-5"],
        ["automq-scale-4", "automq-scale-5"],
        "automq-scale-5 is in automq_broker but has never run AutoMQ",
    ),
    ([], ["automq-scale-4"], "automq_decommission_hosts is empty"),
]


@pytest.mark.parametrize(
    ("hosts", "extra", "message"),
    REFUSALS,
    ids=["controller-voter", "not-in-automq_broker", "never-joined", "empty-list"],
)
def test_decommission_refuses_without_changing_anything(hosts, extra, message):
    before_state = STATE_FILE.read_bytes()
    before = {host: service(host) for host in [*ORIGINAL, "automq-scale-4"]}
    run = decommission(hosts, extra)
    assert run.returncode == 2, run.output[-3000:]
    assert message in " ".join(run.output.split()), run.output[-3000:]
    assert "Nothing was changed" in run.output
    assert set(run.changed().values()) == {0}, run.changed()
    assert STATE_FILE.read_bytes() == before_state
    assert {host: service(host) for host in before} == before
    assert sh("automq-scale-5", "test -e /etc/automq && echo yes || echo no").strip() == "no"


def test_decommission_refuses_the_last_broker(tmp_path):
    """An inventory whose only broker is listed (controllers that are not brokers).

    The refusal comes from the inventory alone: the hosts (unroutable TEST-NET
    addresses) are never contacted.
    """
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(
        json.dumps(
            {
                "automq_controller": {"hosts": {"ctl-1": {"ansible_host": "192.0.2.1"}}},
                "automq_broker": {"hosts": {"brk-1": {"ansible_host": "192.0.2.2"}}},
            }
        )
    )
    run = playbook(
        "playbooks/decommission.yml",
        [],
        "-e",
        json.dumps({"automq_decommission_hosts": ["brk-1"]}),
        "-e",
        "ansible_ssh_timeout=3",
        inventory=inventory,
    )
    assert run.returncode == 2, run.output[-3000:]
    assert (
        "automq_decommission_hosts names every broker of the cluster (brk-1): at least one broker "
        "must remain to hold the partitions. Nothing was changed." in " ".join(run.output.split())
    )
    assert "UNREACHABLE" not in run.output


UNCLEAN_STOP_DROP_IN = "/etc/systemd/system/automq.service.d/zz-test-unclean-stop.conf"


def test_a_stop_that_runs_out_of_time_is_not_unregistered():
    # A stop that outlives TimeoutStopSec is killed (systemd Result=timeout): the controlled
    # shutdown may not have finished, so the broker must stay registered and its ID unretired.
    drop_in = "[Service]\\nExecStop=/bin/sleep 30\\nTimeoutStopSec=2\\n"
    sh(
        "automq-scale-4",
        f"mkdir -p {Path(UNCLEAN_STOP_DROP_IN).parent}; "
        f"printf '{drop_in}' > {UNCLEAN_STOP_DROP_IN}; systemctl daemon-reload",
    )
    try:
        run = decommission(["automq-scale-4"], ["automq-scale-4"])
    finally:
        sh("automq-scale-4", f"rm -f {UNCLEAN_STOP_DROP_IN}; systemctl daemon-reload")
    said = " ".join(run.output.split())
    assert run.returncode == 2, run.output[-3000:]
    assert "automq on automq-scale-4 (node 1000) did not stop cleanly" in said, said[-3000:]
    assert "Result=timeout" in said
    assert "It was not unregistered and its node ID not retired" in said
    assert "Decommissioned automq-scale-4" not in said
    assert state()["retired"] == []
    assert state()["assignments"]["automq-scale-4"] == 1000
    # As the message says: start it again, wait until it is healthy, run again (next test).
    sh("automq-scale-4", "systemctl start automq")
    poll(lambda: None if 1000 in live_brokers() else f"brokers {live_brokers()}", 120)


def test_decommission_moves_partitions_stops_unregisters_and_retires():
    before = {host: service(host) for host in ORIGINAL}
    run = decommission(["automq-scale-4"], ["automq-scale-4"])
    assert run.returncode == 0, run.output[-3000:]
    said = " ".join(run.output.split())
    assert "Decommissioned automq-scale-4 as node 1000." in said
    # The test package is Kafka: no AutoBalancer to exclude the broker from (its setting is
    # left unset), so the partitions were reassigned before the stop.
    assert "(reassigned; the release has no AutoBalancer)" in said
    assert cluster_wide_exclusion() is None
    # Partitions moved away, replica counts kept.
    replicas = replicas_by_partition()
    assert not [tp for tp, nodes in replicas.items() if 1000 in nodes]
    assert all(len(replicas[f"spread-{RUN}-{p}"]) == 3 for p in range(8))
    assert all(replicas[f"only-new-{RUN}-{p}"] in ([0], [1], [2]) for p in range(2))
    # Stopped and disabled, files kept.
    leaving = service("automq-scale-4")
    assert (leaving["ActiveState"], leaving["UnitFileState"]) == ("inactive", "disabled")
    assert node_id_on_host("automq-scale-4") == 1000
    # Unregistered: gone from the cluster, and the controller no longer knows the ID.
    assert live_brokers() == [0, 1, 2]
    unregister = subprocess.run(
        [
            "docker", "exec", "-e", "KAFKA_HEAP_OPTS=-Xmx128m", "automq-scale-1",
            "/opt/automq/current/bin/kafka-cluster.sh", "unregister",
            "--bootstrap-server", "172.30.23.11:9094",
            "--config", "/etc/automq/admin-client.properties", "--id", "1000",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert unregister.returncode != 0
    assert "BrokerIdNotRegisteredException" in unregister.stdout + unregister.stderr
    # Retired in the state file, and the remaining nodes were not restarted.
    assert "automq-scale-4" not in state()["assignments"]
    assert state()["retired"] == [1000]
    assert {host: service(host) for host in ORIGINAL} == before


def test_decommission_again_is_a_no_op():
    run = decommission(["automq-scale-4"], ["automq-scale-4"])
    assert run.returncode == 0, run.output[-3000:]
    assert "automq-scale-4 was decommissioned already" in " ".join(run.output.split())
    assert set(run.changed().values()) == {0}, run.changed()


def test_site_refuses_the_decommissioned_host_until_it_leaves_the_inventory():
    run = playbook("site.yml", ["automq-scale-4"])
    assert run.returncode == 2
    assert (
        "Host automq-scale-4 is formatted with node.id 1000 (meta.properties), but ID 1000 is "
        "retired" in " ".join(run.output.split())
    )
    assert_no_cluster_lock([*ORIGINAL, "automq-scale-4"])


def test_prometheus_alerts_that_the_stopped_node_is_down():
    # automq-scale-4 is stopped but still a scrape target until site.yml runs
    # without it: AutoMQNodeDown fires for it (after automq_console_alert_node_down_for,
    # 1m) and no alert fires for any other node.
    def check():
        firing = firing_alerts()
        if ("AutoMQNodeDown", "automq-scale-4", "1000") not in firing:
            return f"AutoMQNodeDown not firing for automq-scale-4: {firing}"
        others = [alert for alert in firing if alert[1] != "automq-scale-4"]
        return f"alerts firing for other nodes: {others}" if others else None

    poll(check, deadline_seconds=240)


def test_a_new_host_gets_a_new_id_not_the_retired_one():
    """Run from an Ansible machine without the state file (an AWX job's fresh container):
    the nodes' copies of it keep the retired ID, which the new host must not get (without
    them it would: the next free broker ID is 1000), and the state file comes back."""
    before = {host: service(host) for host in ORIGINAL}
    copies = {host: json.loads(sh(host, f"cat {STATE_COPY}")) for host in ORIGINAL}
    assert all(copy == state() for copy in copies.values()), copies
    kept = STATE_FILE.with_name("kept-elsewhere.json")
    STATE_FILE.rename(kept)
    run = playbook("site.yml", ["automq-scale-5"])
    assert run.returncode == 0, run.output[-3000:]
    assert "now holds what the copies on automq-scale-1, automq-scale-2, automq-scale-3" in (
        " ".join(run.output.split())
    )
    kept.unlink()
    assert state()["assignments"] == {
        "automq-scale-1": 0,
        "automq-scale-2": 1,
        "automq-scale-3": 2,
        "automq-scale-5": 1001,
    }
    assert state()["retired"] == [1000]
    assert node_id_on_host("automq-scale-5") == 1001
    assert live_brokers() == [0, 1, 2, 1001]
    assert {host: service(host) for host in ORIGINAL} == before
    # The decommissioned host left the inventory, so Prometheus no longer scrapes it.
    assert_prometheus_scrapes(
        {"automq-scale-1": 0, "automq-scale-2": 1, "automq-scale-3": 2, "automq-scale-5": 1001}
    )
    # Its alert ends with its scrape target.
    poll(lambda: f"alerts firing: {firing_alerts()}" if firing_alerts() else None)


def test_a_controller_that_lost_its_metadata_is_refused_then_replaced():
    # automq-scale-3's metadata disk is lost while the quorum runs on the others.
    lost = "automq-scale-3"
    metadata = "/var/lib/automq/kraft-metadata"
    sh(lost, f"systemctl stop automq && mv {metadata} {metadata}.lost")
    others = [host for host in ORIGINAL if host != lost]
    before = {host: service(host) for host in others}
    cluster_id = state()["cluster_id"]

    refused = playbook("site.yml", ["automq-scale-5"])
    assert refused.returncode == 2, refused.output[-3000:]
    message = " ".join(refused.output.split())
    assert f"{lost} (voter 2): no meta.properties in the metadata directory" in message
    assert f"run once with automq_reformat_controllers: [{lost}]" in message
    # Refused in the preflight: nothing formatted, nothing started, no lock left.
    sh(lost, f"test ! -e {metadata} && ! systemctl is-active --quiet automq")
    assert_no_cluster_lock([*ORIGINAL, "automq-scale-5"])

    # The documented replacement: name it for one run; it is formatted with the
    # cluster's ID under its voter ID and catches up from the leader.
    replaced = playbook(
        "site.yml",
        ["automq-scale-5"],
        "-e",
        json.dumps({"automq_reformat_controllers": [lost]}),
    )
    assert replaced.returncode == 0, replaced.output[-3000:]
    assert node_id_on_host(lost) == 2
    meta = sh(lost, f"cat {metadata}/meta.properties")
    assert f"cluster.id={cluster_id}" in meta.splitlines()
    assert live_brokers() == [0, 1, 2, 1001]
    assert {host: service(host) for host in others} == before
    sh(lost, f"rm -rf {metadata}.lost")

    # The variable is for that one run: kept, it is refused.
    stale = playbook(
        "site.yml", ["automq-scale-5"], "-e", json.dumps({"automq_reformat_controllers": [lost]})
    )
    assert stale.returncode == 2
    assert f"automq_reformat_controllers names {lost}, whose metadata directory holds its" in (
        " ".join(stale.output.split())
    )


def test_all_earlier_data_is_still_readable():
    via_new = f"{ADDRESS['automq-scale-5']}:9092"
    for topic, partitions in TOPICS.items():
        received = read_all(topic, partitions, via_new)
        assert len(received) == RECORDS, f"{topic}: {len(received)} of {RECORDS} records"
        for sequence in range(RECORDS):
            assert received[sequence] == payload(topic, sequence), f"{topic}: record {sequence}"


def test_upgrade_and_finalize_after_scaling_refresh_the_console():
    # Day 2 leaves nothing for site.yml: upgrade.yml rolls every node (the one added by
    # scale-out included) and refreshes the console's view of the installed versions.
    run = playbook("playbooks/upgrade.yml", ["automq-scale-5"], *TO_B)
    assert run.returncode == 0, run.output[-3000:]
    run = playbook("playbooks/finalize_upgrade.yml", ["automq-scale-5"], *TO_B)
    assert run.returncode == 0, run.output[-3000:]
    console = json.loads(sh(CONSOLE, "cat /etc/automq-console/console.json"))
    assert {node["host"]: node["installed_version"] for node in console["nodes"]} == {
        host: VERSION_B for host in [*ORIGINAL, "automq-scale-5"]
    }
    for host in [*ORIGINAL, "automq-scale-5"]:
        assert (
            sh(host, "readlink /opt/automq/current")
            .strip()
            .endswith(f"automq-{VERSION_B}_kafka-3.9.1")
        )


def test_site_after_everything_changes_nothing():
    # The inventory now names version B, as an operator's would after the upgrade.
    run = playbook("site.yml", ["automq-scale-5"], *TO_B)
    assert run.returncode == 0, run.output[-3000:]
    assert set(run.changed().values()) == {0}, run.changed()
    # localhost: site.yml's provisioning plays, every task skipped here.
    assert sorted(run.changed()) == sorted([*ORIGINAL, "automq-scale-5", CONSOLE, "localhost"])
