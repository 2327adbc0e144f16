"""Scenario upgrade: a rolling upgrade from version A to version B under traffic.

Converge deployed version A on three combined nodes (molecule/upgrade). These
steps run in order, against the scenario's inventory, with the project's own
playbooks, while a producer (idempotent, acks=all, 100 records/s) and a
consumer run in the background and every node's broker listener is probed
every 0.2 s (upgrade_traffic.py):

1. upgrade.yml to B with a broken setting on one follower controller: the run
   stops at that node, the nodes after it stay untouched on A, the cluster
   keeps serving;
2. finalize_upgrade.yml refuses while nodes lag, and changes nothing;
3. upgrade.yml to B again, without the broken setting: the broken node comes
   back first, the rest follow;
4. before finalising, upgrade.yml with version A rolls every node back to A
   (active controller last, one node out at a time), then upgrade.yml to B
   again brings them forward;
5. the traffic: nothing lost, nothing duplicated, order kept per partition;
   the figures (produce errors, highest latency, time out of service per
   node) are printed;
6. finalize_upgrade.yml raises metadata.version;
7. site.yml on B changes nothing.

Named upgrade_*.py, not test_*.py: only this scenario runs it.
"""

from __future__ import annotations

import getpass
import hashlib
import itertools
import json
import os
import re
import socket
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
import testinfra
import yaml
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from kafka_clients import client_settings, probe_security
from playbook_runs import EPHEMERAL, INVENTORY, PlaybookRun, ansible_playbook_started
from playbook_runs import ansible_playbook as run_playbook
from testbed_hosts import ADDRESSES, HOST_SPECS, NODES, RUNNER
from upgrade_traffic import (
    SCENARIO_LINGER_MS,
    CheckingConsumer,
    KafkaProbe,
    ProbeError,
    ServiceMonitor,
    SteadyProducer,
    read_topic,
)

_GROUP_VARS = RUNNER.get_variables(NODES[0])
VERSION_A = _GROUP_VARS["automq_version"]
KAFKA_A = _GROUP_VARS["automq_kafka_version"]
METADATA_A = _GROUP_VARS["automq_format_release_version"]
OVERRIDES = _GROUP_VARS["automq_server_properties_overrides"]
VERSION_B = os.environ["AUTOMQ_UPGRADE_VERSION"]
KAFKA_B = os.environ["AUTOMQ_UPGRADE_KAFKA_VERSION"]
METADATA_B = os.environ["AUTOMQ_UPGRADE_METADATA_VERSION"]
HOME_A = f"/opt/automq/automq-{VERSION_A}_kafka-{KAFKA_A}"
HOME_B = f"/opt/automq/automq-{VERSION_B}_kafka-{KAFKA_B}"
TO_A = ["-e", f"automq_version={VERSION_A}", "-e", f"automq_kafka_version={KAFKA_A}"]
TO_B = ["-e", f"automq_version={VERSION_B}", "-e", f"automq_kafka_version={KAFKA_B}"]

BOOTSTRAP = ",".join(f"{ADDRESSES[name]}:9092" for name in NODES)
# The tools' client settings on each node: the INTERNAL listener (9094), the
# node's certificate (tasks/security/certificates.yml of the automq role).
ADMIN_CLIENT_CONFIG = "/etc/automq/admin-client.properties"
TOPIC = f"upgrade-{uuid.uuid4().hex[:8]}"
PROBE_TOPIC = f"{TOPIC}-probe"
PARTITIONS = 6
# A steady stream, as in the cluster scenario's migration: every roll meets it (each node
# out of service for 5-10 s meets 500-1000 records). The test's own Python costs about
# 1 ms of CPU per record (0.1 of a core at this rate), the brokers' share about as much.
RATE = 100.0
# The broken node's gate gives up after this long (the default is 300 s).
BROKEN_HEALTH_TIMEOUT = 45
# A setting Kafka refuses at start-up (it must be at least 1).
BROKEN_SETTING = {"num.network.threads": 0}

# What the steps learn and hand on to the next ones.
STEPS = SimpleNamespace()


@pytest.fixture(autouse=True)
def _steps_in_order(request):
    """Each step builds on the previous ones: after a failure, the rest fail unrun
    (never skipped, so no report counts them as anything but failed)."""
    if request.session.testsfailed:
        pytest.fail("not run: an earlier step of the upgrade scenario failed (see the first)")


# --- Hosts ----------------------------------------------------------------------


def _host(name: str):
    return testinfra.get_host(HOST_SPECS[NODES.index(name)])


def _node_ids() -> dict[str, int]:
    (state_file,) = (INVENTORY.parent / "automq_state").glob("*.json")
    return json.loads(state_file.read_text())["assignments"]


@dataclass(frozen=True)
class NodeState:
    link: str
    main_pid: int
    active_since: str
    active_state: str
    restart_pending: bool
    # The Kafka jar the running JVM holds open: the code it really runs.
    jar: str

    def runs(self, home: str, kafka_version: str) -> bool:
        return (
            self.link == home
            and self.active_state == "active"
            and self.jar == f"{home}/libs/kafka_2.13-{kafka_version}.jar"
        )


def node_state(name: str) -> NodeState:
    host = _host(name)
    show = host.check_output(
        "systemctl show automq -p MainPID -p ActiveEnterTimestamp -p ActiveState"
    )
    props = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
    pid = int(props["MainPID"])
    with host.sudo():
        link = host.check_output("readlink /opt/automq/current")
        pending = host.run("test -e /var/lib/automq/restart-pending").rc == 0
    jar = ""
    if pid:
        # Only the process's own user may read its fd links (no CAP_SYS_PTRACE here).
        with host.sudo("automq"):
            jar = host.run(
                f"find /proc/{pid}/fd -lname '*/libs/kafka_2.13-*.jar' -printf '%l\\n'"
            ).stdout.split("\n")[0]
    return NodeState(
        link=link,
        main_pid=pid,
        active_since=props["ActiveEnterTimestamp"],
        active_state=props["ActiveState"],
        restart_pending=pending,
        jar=jar,
    )


def quorum_leader(via: list[str]) -> str:
    ids = {node_id: name for name, node_id in _node_ids().items()}
    for name in via:
        try:
            with KafkaProbe(ADDRESSES[name], 9092, 5.0, security=probe_security()) as probe:
                return ids[probe.describe_quorum().leader_id]
        except ProbeError:
            continue
    raise AssertionError(f"no node of {via} told the quorum leader")


def features(name: str) -> str:
    host = _host(name)
    with host.sudo():
        return host.check_output(
            "KAFKA_HEAP_OPTS=-Xmx128m /opt/automq/current/bin/kafka-features.sh "
            "--bootstrap-server %s --command-config %s describe",
            f"{ADDRESSES[name]}:9094",
            ADMIN_CLIENT_CONFIG,
        )


def finalized_metadata_version(name: str) -> str:
    line = next(line for line in features(name).splitlines() if "metadata.version" in line)
    return re.search(r"FinalizedVersionLevel:\s*(\S+)", line)[1]


# --- Playbooks ------------------------------------------------------------------


def ansible_playbook(playbook: str, *args: str, extra_inventory: Path | None = None):
    return run_playbook(playbook, *args, label="upgrade", extra_inventory=extra_inventory)


# --- Traffic --------------------------------------------------------------------


@dataclass
class Traffic:
    producer: SteadyProducer
    consumer: CheckingConsumer
    monitor: ServiceMonitor


TRAFFIC_CA_DIR = EPHEMERAL / "traffic-ca"


def trust_in_traffic_ca_dir(ca_file: str | Path) -> None:
    """Put each CA certificate of ``ca_file`` into TRAFFIC_CA_DIR under OpenSSL's name for
    it (<subject hash>.0)."""
    TRAFFIC_CA_DIR.mkdir(mode=0o700, exist_ok=True)
    for certificate in x509.load_pem_x509_certificates(Path(ca_file).read_bytes()):
        pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
        subject_hash = subprocess.run(
            ["openssl", "x509", "-noout", "-subject_hash"],
            input=pem, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        (TRAFFIC_CA_DIR / f"{subject_hash}.0").write_text(pem)


@pytest.fixture(scope="module")
def traffic():
    admin = AdminClient(client_settings(BOOTSTRAP))
    topics = [
        NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=3),
        NewTopic(PROBE_TOPIC, num_partitions=1, replication_factor=3),
    ]
    for future in admin.create_topics(topics).values():
        future.result(timeout=60)
    del admin  # done: an idle client would keep reconnecting with its start-time CA file
    monitor = ServiceMonitor(ADDRESSES).start()
    # The long-running clients verify the brokers against a CA directory, as a client
    # whose trust store its operator updates: the CA rotation adds its new CA there
    # between start and switch, and OpenSSL looks CAs up in it at verification time.
    trust_in_traffic_ca_dir(client_settings()["ssl.ca.location"])
    consumer = CheckingConsumer(BOOTSTRAP, TOPIC, group=f"{TOPIC}-reader")
    producer = SteadyProducer(BOOTSTRAP, TOPIC, rate=RATE, linger_ms=SCENARIO_LINGER_MS)
    for client in (consumer, producer):
        client.config["ssl.ca.location"] = str(TRAFFIC_CA_DIR)
        client.start()
    # Traffic flows end to end before anything is touched.
    deadline = time.monotonic() + 60
    while len(producer.acked) < RATE or len(consumer.log.found) < RATE:
        assert time.monotonic() < deadline, "the traffic did not start within 60 s"
        time.sleep(0.5)
    traffic = Traffic(producer, consumer, monitor)
    yield traffic
    monitor.stop()
    for stop in (producer.stop, consumer.stop):
        try:
            stop()
        except AssertionError as error:
            print(f"upgrade: while stopping the traffic: {error}")


def produce_and_consume_through(name: str, records: int = 10) -> None:
    """A few records with acks=all through one node only, read back through it."""
    address = f"{ADDRESSES[name]}:9092"
    marker = uuid.uuid4().hex
    errors: list[str] = []
    producer = Producer(client_settings(address, {"acks": "all", "enable.idempotence": True}))
    for index in range(records):
        producer.produce(
            PROBE_TOPIC,
            key=f"{marker}-{index}".encode(),
            on_delivery=lambda error, _m: errors.append(str(error)) if error else None,
        )
    assert producer.flush(60) == 0, f"records through {name} not acknowledged within 60 s"
    assert errors == [], f"produce through {name}: {errors}"
    consumer = Consumer(
        client_settings(
            address,
            {
                "group.id": f"probe-{marker}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            },
        )
    )
    consumer.subscribe([PROBE_TOPIC])
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    try:
        while len(seen) < records and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and not message.error():
                key = message.key().decode()
                if key.startswith(marker):
                    seen.add(key)
    finally:
        consumer.close()
    assert len(seen) == records, f"read back {len(seen)} of {records} records through {name}"


def outages(monitor: ServiceMonitor, name: str, run: PlaybookRun) -> list[tuple[float, float]]:
    """The node's times out of service during the run, of 2 s or more (a JVM restart)."""
    return [w for w in monitor.windows(name, run.started, run.ended) if w[1] - w[0] >= 2]


def one_node_out_at_a_time(monitor: ServiceMonitor, run: PlaybookRun) -> bool:
    windows = sorted(w for name in NODES for w in outages(monitor, name, run))
    return all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(windows))


def restart_order(monitor: ServiceMonitor, run: PlaybookRun) -> list[str]:
    """Nodes that went out of service during the run, in the order they went."""
    first_out = {}
    for name in NODES:
        windows = outages(monitor, name, run)
        if windows:
            first_out[name] = windows[0][0]
    return sorted(first_out, key=lambda name: first_out[name])


# --- The steps ------------------------------------------------------------------


def test_upgrade_stops_at_a_node_that_does_not_come_back(traffic, tmp_path):
    before = {name: node_state(name) for name in NODES}
    for name, state in before.items():
        assert state.runs(HOME_A, KAFKA_A), f"{name} does not run version A: {state}"
    leader = quorum_leader(NODES)
    # A follower controller is restarted before the active controller, so the
    # run has a next node to leave untouched when it stops at this one.
    followers = [name for name in NODES if name != leader]
    broken = "automq-upgrade-2" if "automq-upgrade-2" in followers else followers[-1]
    STEPS.broken = broken
    extra_inventory = tmp_path / "broken.yml"
    extra_inventory.write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        broken: {
                            "automq_server_properties_overrides": OVERRIDES | BROKEN_SETTING,
                            "automq_health_timeout": BROKEN_HEALTH_TIMEOUT,
                        }
                    }
                }
            }
        )
    )
    acked_before = len(traffic.producer.acked)

    run = ansible_playbook("playbooks/upgrade.yml", *TO_B, extra_inventory=extra_inventory)
    STEPS.failed_run = run

    assert run.returncode != 0, "the upgrade succeeded with a node that cannot start"
    # The output names the node, why, and what to do.
    message = re.search(rf"{re.escape(broken)} \(node \d+\) did not become healthy.*", run.output)
    assert message, f"no failure message naming {broken}:\n{run.tail()}"
    for advice in (
        "The run stops here: nodes after this one were not touched",
        "journalctl -u automq",
        "fix the cause, then run the same playbook again",
    ):
        assert advice in run.output, f"the failure message lacks {advice!r}:\n{run.tail()}"

    after = {name: node_state(name) for name in NODES}
    order = restart_order(traffic.monitor, run)
    print(f"upgrade: failed run: leader {leader}, broken {broken}, restarted in order {order}")
    assert order, "no node was restarted"
    assert order[-1] == broken, f"the run went on after {broken}: {order}"
    assert one_node_out_at_a_time(traffic.monitor, run), "two nodes were out of service at once"
    untouched = [name for name in NODES if name not in order]
    assert leader in untouched, f"the active controller {leader} was restarted: {order}"
    STEPS.untouched = untouched
    for name in order[:-1]:
        assert after[name].runs(HOME_B, KAFKA_B), f"{name} was restarted but is not on B"
    for name in untouched:
        # Not touched: same process, same version, its restart still pending.
        assert after[name].main_pid == before[name].main_pid, f"{name} was restarted"
        assert after[name].active_since == before[name].active_since, f"{name} was restarted"
        assert after[name].runs(HOME_A, KAFKA_A), f"{name} changed: {after[name]}"
        assert after[name].restart_pending, f"{name} has no pending restart recorded"
    assert after[broken].link == HOME_B
    # Its restart record stays until it is healthy: the next run restarts it again.
    assert after[broken].restart_pending, f"{broken}'s restart record was cleared while it was down"
    assert traffic.monitor.is_out(broken), f"{broken} serves with a setting Kafka refuses"
    # It fails for the injected reason, and systemd keeps trying.
    with _host(broken).sudo():
        refused = _host(broken).run(
            "{ journalctl -u automq --no-pager; cat /var/log/automq/server.log; } "
            "| grep -c 'Invalid value 0 for configuration num.network.threads'"
        )
    assert refused.rc == 0, f"{broken} did not refuse the setting"

    # The cluster still serves, with the broken node down: through each
    # healthy node, and the background traffic goes on.
    for name in NODES:
        if name != broken:
            produce_and_consume_through(name)
    acked_during = len(traffic.producer.acked)
    time.sleep(5)
    assert len(traffic.producer.acked) > acked_during + RATE, "the background producer stalled"
    assert len(traffic.producer.acked) > acked_before
    assert traffic.producer.errors == [], traffic.producer.errors[:5]
    assert traffic.consumer.wait_for(range(acked_before), 60) == set()


def test_finalize_refuses_while_a_node_lags(traffic):
    healthy = next(name for name in NODES if name != STEPS.broken)
    assert finalized_metadata_version(healthy) == METADATA_A

    run = ansible_playbook("playbooks/finalize_upgrade.yml", *TO_B)

    assert run.returncode != 0, "finalize ran while nodes were still on version A"
    refusal = re.search(r"Not finalizing: ([^\n]*)", run.output)
    assert refusal, run.tail()
    for name in STEPS.untouched:
        assert name in refusal[1], f"the refusal does not name {name}: {refusal[0]}"
    assert "nothing was changed" in run.output
    assert all(count == 0 for count in run.changed().values()), run.changed()
    assert finalized_metadata_version(healthy) == METADATA_A


def test_resumed_upgrade_heals_the_node_and_finishes(traffic):
    broken = STEPS.broken
    run = ansible_playbook("playbooks/upgrade.yml", *TO_B)
    STEPS.resumed_run = run

    assert run.returncode == 0, run.tail(80)
    assert "Resuming the upgrade to" in run.output
    # The failed runs kept the cluster lock; this machine's next run takes it over.
    assert "took over the cluster lock of an earlier run on this machine" in run.output
    order = restart_order(traffic.monitor, run)
    print(f"upgrade: resumed run: out of service in order {order}")
    # The broken node, out of service since the failed run, came back (with
    # the fixed setting) before any other node was taken down.
    healed_at = outages(traffic.monitor, broken, run)[0][1]
    for name in order:
        if name != broken:
            first_out = outages(traffic.monitor, name, run)[0][0]
            assert first_out > healed_at, f"{name} went down before {broken} was healed"
    assert one_node_out_at_a_time(traffic.monitor, run), "two nodes were out of service at once"
    assert sorted(order) == sorted([*STEPS.untouched, broken]), order
    for name in NODES:
        state = node_state(name)
        assert state.runs(HOME_B, KAFKA_B), f"{name} does not run version B: {state}"
        assert not state.restart_pending, f"{name} still has a pending restart"
    assert not traffic.monitor.is_out(broken)


def _roll_every_node(traffic: Traffic, to: list[str], home: str, kafka: str) -> PlaybookRun:
    """upgrade.yml to a version no node runs: every node restarts once, the leader last."""
    leader = quorum_leader(NODES)
    run = ansible_playbook("playbooks/upgrade.yml", *to)

    assert run.returncode == 0, run.tail(80)
    order = restart_order(traffic.monitor, run)
    print(f"upgrade: {' '.join(to)}: out of service in order {order}")
    assert sorted(order) == sorted(NODES), order
    assert order[-1] == leader, f"the active controller {leader} was not restarted last"
    assert one_node_out_at_a_time(traffic.monitor, run), "two nodes were out of service at once"
    for name in NODES:
        state = node_state(name)
        assert state.runs(home, kafka), f"{name} does not run {home}: {state}"
        assert not state.restart_pending, f"{name} still has a pending restart"
    return run


def test_rollback_before_finalizing_then_upgrade_again(traffic):
    # Nothing finalized yet: the metadata version is still A's, so A can run it.
    assert finalized_metadata_version(NODES[0]) == METADATA_A
    STEPS.rollback_run = _roll_every_node(traffic, TO_A, HOME_A, KAFKA_A)
    produce_and_consume_through(NODES[0])
    STEPS.again_run = _roll_every_node(traffic, TO_B, HOME_B, KAFKA_B)
    produce_and_consume_through(NODES[-1])


def node_certificate(name: str) -> str:
    """sha256 of the node's certificate as installed (a renewal changes it)."""
    with _host(name).sudo():
        return (
            _host(name)
            .check_output("sha256sum /etc/automq/tls/node.d/2-certificate.pem")
            .split()[0]
        )


def served_certificates(name: str) -> dict[int, str]:
    """sha256 of the certificate each TLS listener of the node presents (not verified:
    compared with the installed one)."""
    return {
        port: hashlib.sha256(
            ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((ADDRESSES[name], port)))
        ).hexdigest()
        for port in (9092, 9094, 9093)
    }


def installed_certificate(name: str) -> str:
    """sha256 (DER) of the node's certificate file."""
    with _host(name).sudo():
        pem = _host(name).check_output("cat /etc/automq/tls/node.d/2-certificate.pem")
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def restart_due(name: str) -> str | None:
    """The first line of the node's restart-due record, if it has one."""
    with _host(name).sudo():
        read = _host(name).run("head -n 1 /var/lib/automq/restart-due")
    return read.stdout.strip() if read.rc == 0 else None


def test_certificate_rotation_loads_every_renewed_leaf_without_a_restart(traffic):
    before = {name: installed_certificate(name) for name in NODES}
    pids = {name: node_state(name).main_pid for name in NODES}
    # Every leaf due now, with the same names: each node loads its new one.
    run = ansible_playbook(
        "playbooks/rotate_certificates.yml", *TO_B, "-e", "automq_pki_renew_before_days=100000"
    )
    STEPS.rotation_run = run

    assert run.returncode == 0, run.tail(80)
    assert "Earliest certificate expiry:" in run.output
    out = {name: outages(traffic.monitor, name, run) for name in NODES}
    assert all(windows == [] for windows in out.values()), f"out of service: {out}"
    soon = time.time() + 300 * 86400  # a year's certificate, minus the 7-day margin
    for name in NODES:
        state = node_state(name)
        installed = installed_certificate(name)
        assert installed != before[name], f"{name} kept its certificate"
        assert state.main_pid == pids[name], f"{name} restarted for a certificate it can load"
        assert set(served_certificates(name).values()) == {installed}, name
        assert not state.restart_pending, f"{name} still has a pending restart"
        due = restart_due(name)
        assert due is not None, f"{name} has no restart due for its previous certificate"
        assert time.mktime(time.strptime(due, "%Y-%m-%dT%H:%M:%SZ")) > soon, due
    took = run.ended - run.started
    print(f"upgrade: certificate rotation: every node loaded its new certificate ({took:.1f} s)")
    produce_and_consume_through(NODES[1])
    # That nothing is due any more (the same playbook changes nothing) is shown by the
    # next test's run on the nodes whose restart is not due.


def test_a_restart_due_for_the_previous_certificate_restarts_that_node_only(traffic):
    """The clients a node built at start keep its previous certificate: once that one
    nears its expiry (here: one node's record says so), the next run restarts that node,
    and only that one (the others' records are not due yet)."""
    pids = {name: node_state(name).main_pid for name in NODES}
    due_node = NODES[1]
    with _host(due_node).sudo():
        _host(due_node).check_output(
            "sed -i '1s/.*/2000-01-01T00:00:00Z/' /var/lib/automq/restart-due"
        )
    run = ansible_playbook("playbooks/rotate_certificates.yml", *TO_B)
    STEPS.due_restart_run = run

    assert run.returncode == 0, run.tail(80)
    assert restart_order(traffic.monitor, run) == [due_node], restart_order(traffic.monitor, run)
    # Every other host: nothing due, nothing changed (the renewal before left no work).
    others = {name: count for name, count in run.changed().items() if name != due_node}
    assert set(others) >= set(NODES) - {due_node}, others
    assert set(others.values()) == {0}, others
    for name in NODES:
        state = node_state(name)
        restarted = state.main_pid != pids[name]
        assert restarted == (name == due_node), f"{name}: restarted {restarted}"
        assert not state.restart_pending, f"{name} still has a pending restart"
        # The restart clears the record; the others keep theirs, not yet due.
        assert (restart_due(name) is None) == (name == due_node), name
        assert state.runs(HOME_B, KAFKA_B), f"{name} does not run version B: {state}"
    print(f"upgrade: restart due: {due_node} restarted ({run.ended - run.started:.1f} s)")
    produce_and_consume_through(due_node)


def certificate_names(pem: str) -> list[str]:
    """The common name of each certificate in a PEM file, in order."""
    return [
        c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        for c in x509.load_pem_x509_certificates(pem.encode())
    ]


def node_file(name: str, path: str) -> str:
    with _host(name).sudo():
        return _host(name).check_output(f"cat {path}") + "\n"


def handshake(name: str, port: int, ca_pem: str, identity: Path | None = None) -> str | None:
    """A TLS 1.2 handshake with the node's listener, trusting ``ca_pem`` and presenting
    ``identity`` (a PEM key store); None when it succeeds, else the error. TLS 1.2 makes
    a refused client certificate fail the handshake itself."""
    context = ssl.create_default_context(cadata=ca_pem)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    if identity is not None:
        context.load_cert_chain(identity)
    try:
        with (
            socket.create_connection((ADDRESSES[name], port), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname=ADDRESSES[name]),
        ):
            return None
    except (ssl.SSLError, OSError) as error:
        return str(error)


def test_ca_rotation_in_three_phases_under_traffic(traffic, tmp_path):
    """start: the new CA trusted beside the old one on every node; switch: every leaf from
    the new CA; finish: the old CA trusted nowhere. Each phase one run, each node out of
    service once, one at a time, under the steady producer."""
    ca_dir = EPHEMERAL / "ca"
    old = (ca_dir / "ca.crt").read_text()
    # A node's identity from the old CA, to show at the end that nothing accepts it.
    old_identity = tmp_path / "old-keystore.pem"
    old_identity.touch(mode=0o600)
    old_identity.write_text(node_file(NODES[0], "/etc/automq/tls/node-keystore.pem"))
    timings = []
    for phase in ("start", "switch", "finish"):
        pids = {name: node_state(name).main_pid for name in NODES}
        run = ansible_playbook(
            "playbooks/rotate_certificates.yml", *TO_B, "-e", f"automq_pki_ca_rotation={phase}"
        )
        setattr(STEPS, f"ca_{phase}_run", run)
        assert run.returncode == 0, run.tail(80)
        assert one_node_out_at_a_time(traffic.monitor, run), f"{phase}: two nodes out at once"
        for name in NODES:
            assert node_state(name).main_pid != pids[name], f"{phase}: {name} was not restarted"
            assert not node_state(name).restart_pending, f"{phase}: {name} still has a restart"
        order = restart_order(traffic.monitor, run)
        timings.append(f"{phase} {run.ended - run.started:.1f} s, out of service {order}")
        if phase == "start":
            new = (ca_dir / "ca-next.crt").read_text()
            both = certificate_names(old + new)
            assert both[0] != both[1]
            assert (ca_dir / "trust.crt").read_text() == old + new
            trust_in_traffic_ca_dir(ca_dir / "trust.crt")  # the clients get the new CA
        trusted = certificate_names(old + new if phase != "finish" else new)
        issuer = both[1] if phase != "start" else both[0]
        for name in NODES:
            assert certificate_names(node_file(name, "/etc/automq/tls/ca.crt")) == trusted, name
            leaf = x509.load_pem_x509_certificate(
                node_file(name, "/etc/automq/tls/node.d/2-certificate.pem").encode()
            )
            assert leaf.issuer.rfc4514_string() == f"CN={issuer}", (phase, name)
        produce_and_consume_through(NODES[("start", "switch", "finish").index(phase)])
    print("upgrade: CA rotation: " + "; ".join(timings))

    # The end: the old CA is trusted nowhere, its files are gone, the bundle is the new CA.
    assert sorted(p.name for p in ca_dir.iterdir()) == ["ca.crt", "ca.key", "trust.crt"]
    assert (ca_dir / "trust.crt").read_text() == new
    current = tmp_path / "keystore.pem"
    current.touch(mode=0o600)
    current.write_text(node_file(NODES[0], "/etc/automq/tls/node-keystore.pem"))
    for name in NODES:
        # The client listener: verified with the new CA only, not with the old one.
        assert handshake(name, 9092, new) is None, name
        assert "CERTIFICATE_VERIFY_FAILED" in str(handshake(name, 9092, old)), name
        # Mutual TLS: the node's current identity is admitted, the old CA's is refused.
        for port in (9094, 9093):
            assert handshake(name, port, new, current) is None, (name, port)
            assert "CERTIFICATE_VERIFY_FAILED" in str(handshake(name, port, old, current))
            refused = handshake(name, port, new, old_identity)
            assert refused is not None, (name, port)
            assert "CERTIFICATE_VERIFY_FAILED" not in refused, refused  # the server refused
    # That nothing changes after it is shown by the last test's site.yml (changed=0),
    # which takes the same CA and certificate decisions.


def lock_holders() -> dict[str, str]:
    """The cluster lock file's content on each node that has one."""
    held = {}
    for name in NODES:
        with _host(name).sudo():
            read = _host(name).run("cat /var/lib/automq/operation.lock")
        if read.rc == 0:
            held[name] = read.stdout
    return held


def test_a_second_operation_is_refused_while_one_runs(traffic):
    """Two operators at once: the second run stops before it changes anything, naming the
    first, which goes on and gives the lock back at its end."""
    pids = {name: node_state(name).main_pid for name in NODES}
    restarted = NODES[2]
    first = ansible_playbook_started(
        "playbooks/rolling_restart.yml",
        *TO_B,
        *("-e", json.dumps({"automq_restart_hosts": [restarted]})),
        label="upgrade",
    )
    try:
        deadline = time.monotonic() + 120
        while len(lock_holders()) < len(NODES) and first.running():
            assert time.monotonic() < deadline, "the first run never held the lock on every node"
            time.sleep(0.5)  # polling the lock files, not waiting for an effect
        assert first.running(), "the first run ended before the second could start"

        second = ansible_playbook(
            "playbooks/rolling_restart.yml",
            *TO_B,
            *("-e", json.dumps({"automq_restart_hosts": [NODES[0]]})),
        )
    finally:
        first_run = first.finish(timeout=600)
    assert first_run.rc == 0, first_run.tail(80)
    assert second.returncode != 0, "a second operation ran beside the first"
    assert "Another operation holds this cluster, so this run changed nothing." in (
        second.output
    ), second.tail()
    holder = f"run by {getpass.getuser()} on {socket.gethostname()} (process {first_run.pid})"
    assert f"rolling_restart.yml {holder}" in second.output, second.tail()
    assert lock_holders() == {}, "the lock was not given back"
    for name in NODES:
        moved = node_state(name).main_pid != pids[name]
        assert moved == (name == restarted), f"{name}: restarted {moved}"


def test_no_record_lost_duplicated_or_reordered(traffic):
    producer, consumer, monitor = traffic.producer, traffic.consumer, traffic.monitor
    producer.stop()
    missing = consumer.wait_for(producer.acked, 120)
    consumer.stop()
    monitor.stop()
    failed, resumed = STEPS.failed_run, STEPS.resumed_run

    print(
        f"\nupgrade: traffic: {producer.produced} records produced at {RATE:.0f}/s, "
        f"{len(producer.acked)} acknowledged, {len(producer.errors)} produce errors, "
        f"{producer.unflushed} unacknowledged at the end"
    )
    at = producer.max_latency_at
    during = next(
        (
            f" (during {name})"
            for name, r in (
                ("the failed run", failed),
                ("the resumed run", resumed),
                ("the rollback", STEPS.rollback_run),
                ("the upgrade after the rollback", STEPS.again_run),
                ("the certificate rotation", STEPS.rotation_run),
                ("the restart due", STEPS.due_restart_run),
                ("the CA rotation start", STEPS.ca_start_run),
                ("the CA rotation switch", STEPS.ca_switch_run),
                ("the CA rotation finish", STEPS.ca_finish_run),
            )
            if r.started <= at <= r.ended
        ),
        "",
    )
    print(f"upgrade: highest produce latency: {producer.max_latency * 1000:.0f} ms{during}")
    print(f"upgrade: producer epoch bumps: {len(producer.epoch_bumps)}")
    for line in producer.epoch_bumps[:10]:
        print(f"upgrade:   {line}")
    print(
        f"upgrade: consumer: {len(consumer.log.found)} records, "
        f"{len(consumer.log.duplicates)} duplicates, {len(consumer.log.out_of_order)} out of "
        f"order, {consumer.log.redelivered} redelivered after a rebalance"
    )
    for name in NODES:
        during_failed = monitor.out_of_service(name, failed.started, failed.ended)
        during_resumed = monitor.out_of_service(name, resumed.started, resumed.ended)
        during_rollback = monitor.out_of_service(
            name, STEPS.rollback_run.started, STEPS.again_run.ended
        )
        longest = max(
            (stop - start for start, stop in monitor.windows(name, failed.started)), default=0.0
        )
        note = " (the injected failure)" if name == STEPS.broken else ""
        print(
            f"upgrade: {name} out of service: {during_failed:.1f} s in the failed run, "
            f"{during_resumed:.1f} s in the resumed run, {during_rollback:.1f} s in the "
            f"rollback and upgrade again, longest window {longest:.1f} s{note}"
        )

    assert producer.errors == [], producer.errors[:10]
    assert producer.unflushed == 0
    assert len(producer.acked) == producer.produced
    # Every acknowledged record was consumed, where it was acknowledged.
    assert missing == set(), f"{len(missing)} acknowledged records never consumed"
    wrong_place = [s for s, at in producer.acked.items() if consumer.log.found.get(s) != at]
    assert wrong_place == [], wrong_place[:10]
    assert consumer.log.duplicates == [], consumer.log.duplicates[:10]
    assert consumer.log.out_of_order == [], consumer.log.out_of_order[:10]
    assert consumer.log.corrupt == [], consumer.log.corrupt[:10]

    # The log itself, read back from offset 0: exactly the acknowledged records.
    log = read_topic(BOOTSTRAP, TOPIC, PARTITIONS)
    assert log.corrupt == [], log.corrupt[:10]
    assert log.duplicates == [], log.duplicates[:10]
    assert log.out_of_order == [], log.out_of_order[:10]
    assert log.found == producer.acked


def test_finalize_raises_metadata_version():
    run = ansible_playbook("playbooks/finalize_upgrade.yml", *TO_B)

    assert run.returncode == 0, run.tail(80)
    # A cluster-wide level: one node's answer is the cluster's.
    assert finalized_metadata_version(NODES[-1]) == METADATA_B
    print(f"upgrade: metadata.version finalized at {METADATA_B} (was {METADATA_A})")
    # Every node keeps which release raised the levels, for the preflight.
    for name in NODES:
        record = json.loads(node_file(name, "/var/lib/automq/finalized-features.json"))
        assert record == {
            "finalized_by": VERSION_B,
            "levels": {"metadata.version": METADATA_B},
            "previous": {"metadata.version": METADATA_A},
        }, (name, record)


def test_a_rollback_below_the_finalized_levels_is_refused_in_preflight():
    """Feature levels cannot be lowered: after the finalize, an "upgrade" to version A
    stops in the preflight, naming the levels, before any node is touched."""
    pids = {name: node_state(name).main_pid for name in NODES}
    run = ansible_playbook("playbooks/upgrade.yml", *TO_A)

    assert run.returncode != 0, "the rollback below the finalized levels ran"
    assert f"automq_version {VERSION_A} is older than {VERSION_B}" in run.output, run.tail()
    assert f"to metadata.version {METADATA_B} (from metadata.version {METADATA_A})" in (
        run.output
    ), run.tail()
    assert all(count == 0 for count in run.changed().values()), run.changed()
    assert lock_holders() == {}, "the refused run kept the cluster lock"
    for name in NODES:
        state = node_state(name)
        assert state.main_pid == pids[name], f"{name} was restarted"
        assert state.runs(HOME_B, KAFKA_B), f"{name} does not run version B: {state}"


def test_site_yml_on_version_b_changes_nothing():
    run = ansible_playbook("site.yml", *TO_B)

    assert run.returncode == 0, run.tail(80)
    changed = run.changed()
    # localhost: site.yml's provisioning plays, every task skipped here.
    assert sorted(changed) == sorted([*NODES, "localhost"]), run.output[-3000:]
    assert all(count == 0 for count in changed.values()), changed


def test_secret_absent_from_the_playbook_runs(oss_secret):
    for log in EPHEMERAL.glob("verify-*.log"):
        assert oss_secret not in log.read_text(), f"the OSS secret is in {log}"
