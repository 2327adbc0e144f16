"""kafka_scram_users and kafka_acls through ansible-playbook against a real secured node.

The node is the shared ``secure_node`` (secure_kafka.py): Kafka 3.9.1 from the fixture
package with StandardAuthorizer.  The modules run on localhost (ansible_connection=local,
as on a broker host) and reach its INTERNAL listener over mTLS with a super user's
certificate; users log in on its CLIENT listener (SASL_SSL, SCRAM-SHA-512).  Every run is
verbose (-vvv), and no run's output or events may contain a password.
AUTOMQ_HOST_PYTHON names the interpreter the modules run with (default: this one).

What the cluster holds is checked independently of the modules: logins with
kafka_probe's SCRAM client, DescribeAcls and DescribeUserScramCredentials as the super
user, and produce/consume with confluent-kafka (librdkafka).  Each test uses user,
principal and topic names of its own, since the node is shared.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from cryptography import x509
from playbook_runner import PlaybookRun, run_playbook

from automq_helpers.access import AclBinding
from automq_helpers.certificate_reload import Endpoint, served_certificate
from automq_helpers.kafka_admin import (
    KafkaAdmin,
    acl_binding,
    scram_mechanism_name,
    wire_acl,
)
from automq_helpers.kafka_probe import KafkaProbe, SaslAuthenticationFailed

from .secure_kafka import ADMIN, NODE_ID, SecureNode, renewed_keystore

NO_LOG_MARK = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def password() -> str:
    return "pw-" + secrets.token_urlsafe(18)


class Modules:
    """Runs one-task plays of the two modules against the node, -vvv, and keeps every
    password it was given to check that no output shows one."""

    def __init__(self, node: SecureNode, tmp_path: Path) -> None:
        self.node = node
        self.tmp_path = tmp_path
        self.secrets: set[str] = {node.admin_password}
        self.runs = 0
        inventory = tmp_path / "inventory.ini"
        # AUTOMQ_HOST_PYTHON runs the modules with a host's interpreter, e.g. a Python 3.8.
        interpreter = os.environ.get("AUTOMQ_HOST_PYTHON", sys.executable)
        inventory.write_text(
            f"localhost ansible_connection=local ansible_python_interpreter={interpreter}\n"
        )
        self.inventory = inventory

    @property
    def connection(self) -> dict[str, Any]:
        pki = self.node.pki
        return {
            "bootstrap_server": f"localhost:{self.node.ports.internal}",
            "security": {
                "protocol": "SSL",
                "ca_file": str(pki.ca),
                "cert_file": str(pki.probe_cert),
                "key_file": str(pki.probe_key),
            },
        }

    def _run(self, module: str, args: dict[str, Any], options: Sequence[str]) -> dict[str, Any]:
        self.runs += 1
        directory = self.tmp_path / f"run-{self.runs}"
        directory.mkdir()
        playbook = directory / "play.yml"
        task = {"name": "act", f"automq.platform.{module}": args}
        play = {"hosts": "all", "gather_facts": False, "tasks": [task]}
        playbook.write_text(json.dumps([play]))
        run = run_playbook(
            directory / "runner", playbook, inventory=self.inventory, cmdline=options
        )
        self._check_secrets(run)
        results = [
            {**event["event_data"]["res"], "failed": event["event"] == "runner_on_failed"}
            for event in run.events
            if event.get("event") in ("runner_on_ok", "runner_on_failed")
            and event["event_data"].get("task") == "act"
        ]
        assert len(results) == 1, run.describe() + "\n" + run.stdout[-3000:]
        assert results[0]["failed"] == (run.rc != 0), run.describe()
        return results[0]

    def _check_secrets(self, run: PlaybookRun) -> None:
        transcript = run.transcript
        assert "<localhost> EXEC" in transcript  # really -vvv
        shown = [index for index, secret in enumerate(sorted(self.secrets)) if secret in transcript]
        assert not shown, f"a password is in the output of run {self.runs}"

    def scram_users(
        self, users: list[dict[str, Any]], *options: str, **extra: Any
    ) -> dict[str, Any]:
        self.secrets.update(user["password"] for user in users if "password" in user)
        args = {
            **self.connection,
            "login_server": f"localhost:{self.node.ports.client}",
            "login_ca_file": str(self.node.pki.ca),
            "users": users,
            **extra,
        }
        return self._run("kafka_scram_users", args, ["-vvv", *options])

    def acls(
        self, acls: list[dict[str, Any]], principals: list[str], *options: str
    ) -> dict[str, Any]:
        args = {**self.connection, "acls": acls, "principals": principals}
        return self._run("kafka_acls", args, ["-vvv", *options])

    def certificate_reload(self, records: Path, **extra: Any) -> dict[str, Any]:
        ports = self.node.ports
        args = {
            "certificate": str(self.node.pki.node_keystore),
            "node_id": NODE_ID,
            "admin_endpoint": f"localhost:{ports.internal}",
            "listener": "internal",
            "endpoints": [
                f"localhost:{port}" for port in (ports.client, ports.internal, ports.controller)
            ],
            "restart_record": str(records / "restart-pending"),
            "restart_due_record": str(records / "restart-due"),
            "security": self.connection["security"],
            **extra,
        }
        return self._run("certificate_reload", args, ["-vvv"])


@pytest.fixture
def modules(secure_node: SecureNode, tmp_path: Path) -> Modules:
    return Modules(secure_node, tmp_path)


@pytest.fixture
def admin(secure_node: SecureNode) -> Iterator[KafkaAdmin]:
    """The super user's view, to check what the modules did."""
    security = secure_node.mtls()
    with KafkaAdmin("127.0.0.1", secure_node.ports.internal, 10.0, security=security) as client:
        yield client


def logs_in(node: SecureNode, user: str, secret: str) -> bool:
    security = node.sasl(username=user, password=secret)
    try:
        with KafkaProbe("localhost", node.ports.client, 10.0, security=security) as probe:
            probe.api_versions()
    except SaslAuthenticationFailed:
        return False
    return True


def credentials(admin: KafkaAdmin, *users: str) -> dict[str, list[tuple[str, int]]]:
    found = admin.describe_user_scram_credentials(list(users))
    return {
        user: [(scram_mechanism_name(c.mechanism), c.iterations) for c in infos]
        for user, infos in found.items()
    }


def acls_now(admin: KafkaAdmin) -> set[AclBinding]:
    return {acl_binding(acl) for acl in admin.describe_acls()}


def wait_for_acls(admin: KafkaAdmin, wanted: set[AclBinding]) -> None:
    """ACLs created directly show up on the broker a moment after the controller
    accepted them."""
    deadline = time.monotonic() + 30
    while not wanted <= acls_now(admin):
        assert time.monotonic() < deadline, f"missing: {wanted - acls_now(admin)}"
        time.sleep(0.1)


def binding(principal: str, operation: str, name: str, **fields: str) -> AclBinding:
    values = {
        "principal": principal,
        "host": "*",
        "resource_type": "topic",
        "resource_name": name,
        "pattern_type": "literal",
        "operation": operation,
        "permission": "allow",
        **fields,
    }
    return AclBinding(**values)


# --------------------------------------------------------------------------- SCRAM users


def test_scram_users_created_unchanged_updated_removed(
    secure_node: SecureNode, modules: Modules, admin: KafkaAdmin
) -> None:
    alice, bob, alice2 = password(), password(), password()
    declared = [
        {"name": "it-alice", "password": alice},
        {"name": "it-bob", "password": bob, "iterations": 4096},
        {"name": "it-carol", "state": "absent"},
    ]

    first = modules.scram_users(declared)
    assert (first["changed"], first["created"], first["updated"], first["removed"]) == (
        True,
        ["it-alice", "it-bob"],
        [],
        [],
    ), first
    assert credentials(admin, "it-alice", "it-bob", "it-carol") == {
        "it-alice": [("SCRAM-SHA-512", 8192)],
        "it-bob": [("SCRAM-SHA-512", 4096)],
        "it-carol": [],
    }
    assert logs_in(secure_node, "it-alice", alice)
    assert logs_in(secure_node, "it-bob", bob)
    users = first["invocation"]["module_args"]["users"]
    assert [user.get("password") for user in users] == [NO_LOG_MARK, NO_LOG_MARK, None]

    second = modules.scram_users(declared)
    assert (second["changed"], second["created"], second["updated"], second["removed"]) == (
        False,
        [],
        [],
        [],
    ), second

    declared[0]["password"] = alice2
    third = modules.scram_users(declared)
    assert (third["changed"], third["created"], third["updated"]) == (True, [], ["it-alice"])
    # The module waited until the new password works: no retry needed here.
    assert logs_in(secure_node, "it-alice", alice2)
    assert not logs_in(secure_node, "it-alice", alice)
    assert logs_in(secure_node, "it-bob", bob)

    declared[1] = {"name": "it-bob", "state": "absent"}
    fourth = modules.scram_users(declared)
    assert (fourth["changed"], fourth["removed"], fourth["updated"]) == (True, ["it-bob"], [])
    assert credentials(admin, "it-bob") == {"it-bob": []}
    assert not logs_in(secure_node, "it-bob", bob)

    fifth = modules.scram_users(declared)
    assert fifth["changed"] is False, fifth


def test_scram_users_check_mode_changes_nothing(
    secure_node: SecureNode, modules: Modules, admin: KafkaAdmin
) -> None:
    dave, dave2 = password(), password()
    user = {"name": "it-dave", "password": dave}

    planned = modules.scram_users([user], "--check")
    assert (planned["changed"], planned["created"]) == (True, ["it-dave"])
    assert credentials(admin, "it-dave") == {"it-dave": []}

    assert modules.scram_users([user])["created"] == ["it-dave"]
    user["password"] = dave2
    planned = modules.scram_users([user], "--check")
    assert (planned["changed"], planned["updated"]) == (True, ["it-dave"])
    assert logs_in(secure_node, "it-dave", dave)
    assert not logs_in(secure_node, "it-dave", dave2)

    user["state"] = "absent"
    planned = modules.scram_users([user], "--check")
    assert (planned["changed"], planned["removed"]) == (True, ["it-dave"])
    assert logs_in(secure_node, "it-dave", dave)


def test_scram_users_mechanism_change_and_refusals(
    secure_node: SecureNode, modules: Modules, admin: KafkaAdmin
) -> None:
    erin = password()
    # SCRAM-SHA-256 is not enabled on the CLIENT listener: the credential is written,
    # but no login can prove it: the module fails at its first login, naming the user.
    result = modules.scram_users(
        [{"name": "it-erin", "password": erin, "mechanism": "SCRAM-SHA-256"}], wait_timeout=2
    )
    assert result["failed"] is True, result
    assert result["msg"] == (
        f"cannot check the password of user 'it-erin': localhost:{secure_node.ports.client}: "
        "SASL mechanism SCRAM-SHA-256 is not enabled on this listener; it offers: SCRAM-SHA-512"
    )
    assert credentials(admin, "it-erin") == {"it-erin": [("SCRAM-SHA-256", 8192)]}

    # Declared with SCRAM-SHA-512 instead: written, and the SHA-256 credential deleted.
    result = modules.scram_users([{"name": "it-erin", "password": erin}])
    assert (result["changed"], result["created"], result["updated"]) == (True, [], ["it-erin"])
    assert credentials(admin, "it-erin") == {"it-erin": [("SCRAM-SHA-512", 8192)]}
    assert logs_in(secure_node, "it-erin", erin)

    # Kafka's limits are checked before anything is sent, without showing the password.
    result = modules.scram_users([{"name": "it-frank", "password": password(), "iterations": 100}])
    assert result["failed"] is True, result
    assert (
        result["msg"]
        == "users[0] (it-frank): iterations must be 4096-16384 (Kafka's limits), not 100"
    )
    assert credentials(admin, "it-frank") == {"it-frank": []}


def test_scram_users_without_cluster_permission(secure_node: SecureNode, modules: Modules) -> None:
    """A principal that is no super user gets Kafka's error by name."""
    grace = password()
    modules.scram_users([{"name": "it-grace", "password": grace}])
    result = modules.scram_users(
        [{"name": "it-grace", "password": grace}],
        bootstrap_server=f"localhost:{secure_node.ports.client}",
        security={
            "protocol": "SASL_SSL",
            "ca_file": str(secure_node.pki.ca),
            "username": "it-grace",
            "password": grace,
        },
    )
    assert result["failed"] is True, result
    assert result["msg"].startswith(
        f"localhost:{secure_node.ports.client}: DescribeUserScramCredentials v0 failed: "
        "CLUSTER_AUTHORIZATION_FAILED: "
    )
    assert result["msg"].endswith(
        "(the connection's principal lacks the cluster permission (ALTER to change, "
        "DESCRIBE to read): connect with the node's certificate, a super user)"
    )


# --------------------------------------------------------------------------- ACLs


def test_acls_reconciled_without_touching_other_principals(
    secure_node: SecureNode, modules: Modules, admin: KafkaAdmin
) -> None:
    app, legacy = "User:it-app", "User:it-legacy"
    # Before the module: ACLs on the same resource that differ only in the operation
    # (ALL vs READ), the pattern type (LITERAL vs PREFIXED) or the principal.
    legacy_all = binding(legacy, "all", "it-orders")
    legacy_read_prefixed = binding(legacy, "read", "it-orders", pattern_type="prefixed")
    legacy_read = binding(legacy, "read", "it-orders")
    app_all = binding(app, "all", "it-orders")
    app_all_prefixed = binding(app, "all", "it-orders", pattern_type="prefixed")
    setup = {legacy_all, legacy_read_prefixed, legacy_read, app_all, app_all_prefixed}
    admin.create_acls([wire_acl(item) for item in sorted(setup)])
    wait_for_acls(admin, setup)

    declared: list[dict[str, Any]] = [
        {
            "principal": app,
            "resource_type": "topic",
            "resource_name": "it-orders",
            "operations": ["read", "describe"],
        },
        {
            "principal": app,
            "resource_type": "group",
            "resource_name": "it-app-group",
            "operations": ["read"],
        },
        # Someone else's literal READ goes; their ALL and their prefixed READ stay.
        {
            "principal": legacy,
            "resource_type": "topic",
            "resource_name": "it-orders",
            "operations": ["read"],
            "state": "absent",
        },
    ]
    wanted = {
        binding(app, "read", "it-orders"),
        binding(app, "describe", "it-orders"),
        binding(app, "read", "it-app-group", resource_type="group"),
    }
    before = acls_now(admin)

    planned = modules.acls(declared, [app], "--check", "--diff")
    assert planned["changed"] is True
    assert planned["created"] == sorted(item.describe() for item in wanted)
    assert planned["deleted"] == sorted(
        item.describe() for item in (app_all, app_all_prefixed, legacy_read)
    )
    assert planned["diff"]["before"] == "".join(
        f"{line}\n" for line in sorted(item.describe() for item in before)
    )
    after = (before - {app_all, app_all_prefixed, legacy_read}) | wanted
    assert planned["diff"]["after"] == "".join(
        f"{line}\n" for line in sorted(item.describe() for item in after)
    )
    assert acls_now(admin) == before  # check mode changed nothing

    first = modules.acls(declared, [app])
    assert first["changed"] is True
    assert (first["created"], first["deleted"]) == (planned["created"], planned["deleted"])
    now = acls_now(admin)
    assert now == after
    assert {legacy_all, legacy_read_prefixed} <= now

    second = modules.acls(declared, [app])
    assert (second["changed"], second["created"], second["deleted"]) == (False, [], [])

    # The app no longer needs describe: its ACL goes, nothing else does.
    declared[0]["operations"] = ["read"]
    third = modules.acls(declared, [app])
    assert (third["created"], third["deleted"]) == (
        [],
        [binding(app, "describe", "it-orders").describe()],
    )
    assert acls_now(admin) == after - {binding(app, "describe", "it-orders")}


def test_acls_held_open_while_they_land(
    secure_node: SecureNode, modules: Modules, admin: KafkaAdmin
) -> None:
    """hold_open on a real broker: each new pattern is held open by a User:* ALL ACL until
    the broker describes the declared ones, then that ACL goes; a run interrupted after
    the declared ACLs is finished by the next, which deletes the bridge it left.
    Transactional IDs: the shared node's other tests leave a topic ACL on "*" (the
    console's), which already restricts every topic, so a topic pattern needs no hold."""
    app = "User:it-held"
    declared: list[dict[str, Any]] = [
        {
            "principal": app,
            "resource_type": "transactional_id",
            "resource_name": "it-held-",
            "pattern_type": "prefixed",
            "operations": ["write", "describe"],
        },
    ]
    held = {"resource_type": "transactional_id", "pattern_type": "prefixed"}
    bridge = binding("User:*", "all", "it-held-", **held)
    wanted = {
        binding(app, "write", "it-held-", **held),
        binding(app, "describe", "it-held-", **held),
    }
    assert not any(acl.resource_type == "transactional_id" for acl in acls_now(admin))
    before = acls_now(admin)
    args = {**modules.connection, "acls": declared, "principals": [app], "hold_open": True}
    first = modules._run("kafka_acls", args, ["-vvv"])
    assert first["changed"] is True
    assert first["created"] == sorted(item.describe() for item in wanted)
    assert first["held_open"] == [bridge.describe()]
    assert acls_now(admin) == before | wanted

    second = modules._run("kafka_acls", args, ["-vvv"])
    assert (second["changed"], second["created"], second["held_open"]) == (False, [], [])

    admin.create_acls([wire_acl(bridge)])  # as an interrupted run leaves it
    wait_for_acls(admin, {bridge})
    third = modules._run("kafka_acls", args, ["-vvv"])
    assert (third["changed"], third["created"], third["deleted"]) == (True, [], [])
    assert third["held_open"] == [bridge.describe()]
    assert acls_now(admin) == before | wanted


def test_read_only_user_can_consume_but_not_produce(
    secure_node: SecureNode, modules: Modules
) -> None:
    reader, topic, group = password(), "it-readonly-topic", "it-reader-group"
    result = modules.scram_users([{"name": "it-reader", "password": reader}])
    assert result["created"] == ["it-reader"]
    result = modules.acls(
        [
            {
                "principal": "User:it-reader",
                "resource_type": "topic",
                "resource_name": topic,
                "operations": ["read"],
            },
            {
                "principal": "User:it-reader",
                "resource_type": "group",
                "resource_name": group,
                "operations": ["read"],
            },
        ],
        ["User:it-reader"],
    )
    assert len(result["created"]) == 2, result

    def client_config(user: str, secret: str) -> dict[str, Any]:
        return {
            "bootstrap.servers": f"localhost:{secure_node.ports.client}",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": user,
            "sasl.password": secret,
            "ssl.ca.location": str(secure_node.pki.ca),
        }

    as_admin = client_config(ADMIN, secure_node.admin_password)
    topics = AdminClient(as_admin)  # kept: a dropped client cancels its requests
    (created,) = topics.create_topics([NewTopic(topic, 1, 1)]).values()
    created.result(30)
    producer = Producer({**as_admin, "acks": "all"})
    for index in range(3):
        producer.produce(topic, value=f"record-{index}".encode())
    assert producer.flush(30) == 0

    errors: list[KafkaError] = []
    refused = Producer(
        {**client_config("it-reader", reader), "message.timeout.ms": 10000, "retries": 0}
    )
    refused.produce(topic, value=b"not allowed", on_delivery=lambda err, _: errors.append(err))
    refused.flush(30)
    assert [error.code() for error in errors] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]

    consumer = Consumer(
        {
            **client_config("it-reader", reader),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        values: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(values) < 3 and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            values.append(message.value())
    finally:
        consumer.close()
    assert values == [b"record-0", b"record-1", b"record-2"]


# --------------------------------------------------------------------------- certificate reload


def served_certificates(node: SecureNode) -> dict[int, x509.Certificate]:
    """What each TLS listener presents now."""
    served = {}
    for port in (node.ports.client, node.ports.internal, node.ports.controller):
        der = served_certificate(Endpoint("localhost", port), node.mtls(), 10.0)
        served[port] = x509.load_der_x509_certificate(der)
    return served


def replace_keystore(node: SecureNode, content: bytes) -> None:
    """As node_files does: a new file renamed over the old one."""
    temporary = node.pki.node_keystore.with_suffix(".new")
    temporary.write_bytes(content)
    temporary.chmod(0o600)
    os.replace(temporary, node.pki.node_keystore)


def test_a_renewed_certificate_is_served_without_a_restart(
    secure_node: SecureNode, modules: Modules, tmp_path: Path
) -> None:
    node = secure_node
    before = served_certificates(node)
    previous = next(iter(before.values()))
    not_after = previous.not_valid_after_utc.strftime("%Y%m%d%H%M%SZ")
    records = tmp_path / "records"
    records.mkdir()
    record = records / "restart-pending"
    renewed_store, renewed = renewed_keystore(node.pki)
    replace_keystore(node, renewed_store)
    record.write_text("pending\n")

    # The previous certificate expires within the margin: no reload, the restart stays.
    result = modules.certificate_reload(records, previous_not_after=not_after)
    assert (result["reloaded"], result["requested"], result["changed"]) == (False, False, False)
    assert "expires within 7 days" in result["reason"]
    assert served_certificates(node) == before

    result = modules.certificate_reload(
        records, previous_not_after=not_after, restart_margin_days=0
    )
    assert (result["reloaded"], result["requested"], result["changed"]) == (True, True, True)
    served = served_certificates(node)
    assert set(served.values()) == {renewed}, "a listener serves another certificate"
    os.kill(node.pid, 0)  # the same process: no restart
    assert not record.exists()
    due = (records / "restart-due").read_text().splitlines()[0]
    assert due == previous.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert result["restart_due"] == due

    again = modules.certificate_reload(records, previous_not_after=not_after, restart_margin_days=0)
    assert (again["reloaded"], again["requested"], again["changed"]) == (True, False, False)

    # A name dropped (127.0.0.1): Kafka refuses the key store (SslFactory's
    # ensureCompatibleSANs), the node serves on, the restart stays.
    renamed_store, _ = renewed_keystore(node.pki, ["localhost"])
    replace_keystore(node, renamed_store)
    record.write_text("pending\n")
    try:
        refused = modules.certificate_reload(
            records, previous_not_after=not_after, restart_margin_days=0, wait_timeout=5.0
        )
        assert (refused["reloaded"], refused["requested"]) == (False, True)
        assert "still serve(s) another certificate" in refused["reason"]
        assert record.exists()
        assert set(served_certificates(node).values()) == {renewed}
    finally:
        replace_keystore(node, renewed_store)  # what the node serves, for the tests after
