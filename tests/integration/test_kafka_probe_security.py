"""kafka_probe against a real secured Kafka 3.9.1 KRaft node (the fixture package).

The node (tests/integration/secure_kafka.py) runs the listeners the role sets up:
CLIENT (SASL_SSL, SCRAM-SHA-512, user ``admin``), INTERNAL and CONTROLLER (SSL with
required client certificates), and a PLAINTEXT one; StandardAuthorizer with super users.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from automq_helpers.kafka_probe import (
    API_SASL_AUTHENTICATE,
    API_SASL_HANDSHAKE,
    KafkaProbe,
    ProbeError,
    SaslAuthenticationFailed,
    SecurityConfig,
)
from automq_helpers.node_health import NodeCheck, check_node

from .secure_kafka import ADMIN, NODE_ID, SecureNode


@pytest.fixture
def node(secure_node: SecureNode) -> SecureNode:
    return secure_node


# --------------------------------------------------------------------------- it works


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_sasl_ssl_scram_sha512_serves_every_probe(node: SecureNode, host: str) -> None:
    with KafkaProbe(host, node.ports.client, 5.0, security=node.sasl()) as probe:
        versions = probe.api_versions()
        quorum = probe.describe_quorum()
        cluster = probe.describe_cluster()
        metadata = probe.metadata()
        tls_version = probe.connection._sock.version()  # type: ignore[union-attr]
    # The ApiVersions answer given before authentication is the one reused.
    assert versions.version_range(API_SASL_HANDSHAKE) is not None
    assert versions.version_range(API_SASL_AUTHENTICATE) is not None
    assert tls_version in ("TLSv1.2", "TLSv1.3")
    assert (quorum.error_code, quorum.partition_error_code, quorum.leader_id) == (0, 0, NODE_ID)
    assert [voter.replica_id for voter in quorum.voters] == [NODE_ID]
    assert (cluster.error_code, cluster.cluster_id) == (0, node.cluster_id)
    assert [(b.node_id, b.host, b.port) for b in cluster.brokers] == [
        (NODE_ID, "localhost", node.ports.client)
    ]
    assert metadata.cluster_id == node.cluster_id
    assert [b.node_id for b in metadata.brokers] == [NODE_ID]


def test_internal_listener_with_a_client_certificate_serves_every_probe(
    node: SecureNode,
) -> None:
    with KafkaProbe("127.0.0.1", node.ports.internal, 5.0, security=node.mtls()) as probe:
        assert probe.api_versions().error_code == 0
        quorum = probe.describe_quorum()
        cluster = probe.describe_cluster()
        metadata = probe.metadata()
    assert (quorum.partition_error_code, quorum.leader_id) == (0, NODE_ID)
    assert (cluster.error_code, cluster.cluster_id) == (0, node.cluster_id)
    assert [(b.node_id, b.port) for b in cluster.brokers] == [(NODE_ID, node.ports.internal)]
    assert metadata.cluster_id == node.cluster_id


def test_controller_listener_with_a_client_certificate(node: SecureNode) -> None:
    with KafkaProbe("localhost", node.ports.controller, 5.0, security=node.mtls()) as probe:
        assert probe.api_versions().error_code == 0
        quorum = probe.describe_quorum()
        cluster = probe.describe_cluster()
        # Controllers do not serve Metadata: the probe refuses before sending it.
        with pytest.raises(ProbeError, match="does not serve Metadata"):
            probe.metadata()
    assert (quorum.error_code, quorum.partition_error_code, quorum.leader_id) == (0, 0, NODE_ID)
    # Decoded and answered, but controllers serve DescribeCluster only from v1 with
    # EndpointType=controller (KIP-919); the probe sends v0, as to a broker.
    assert (cluster.error_code, cluster.error_message) == (
        42,
        "The request was sent to an endpoint of type CONTROLLER, but we wanted "
        "an endpoint of type BROKER",
    )


def test_node_health_over_the_secured_listeners(node: SecureNode) -> None:
    """The role's gate: SASL_SSL on the broker listener, mTLS on the controller one,
    probed on 127.0.0.1 with the certificate's name given as server_hostname."""
    check = NodeCheck(
        host="127.0.0.1",
        node_id=NODE_ID,
        expected_voters=[NODE_ID],
        quorum_addresses=[f"localhost:{node.ports.controller}"],
        broker_port=node.ports.client,
        controller_port=node.ports.controller,
        security=node.sasl(server_hostname="localhost"),
        controller_security=node.mtls(server_hostname="localhost"),
    )
    health = check_node(check)
    assert health.problems == []
    assert (health.healthy, health.serving, health.quorum_leader) == (True, True, NODE_ID)
    assert health.brokers == [NODE_ID]
    # The quorum fallback alone (no broker listener) reaches the controller by its name.
    health = check_node(replace(check, broker_port=None))
    assert (health.healthy, health.quorum_leader) == (True, NODE_ID), health.problems


def test_cli_reads_the_password_from_the_environment(node: SecureNode) -> None:
    # AUTOMQ_HOST_PYTHON runs it with a host's interpreter, e.g. a Python 3.8.
    command = [os.environ.get("AUTOMQ_HOST_PYTHON", sys.executable)]
    command += ["-m", "automq_helpers.kafka_probe"]
    command += ["--bootstrap", f"127.0.0.1:{node.ports.client}", "--security-protocol"]
    command += ["SASL_SSL", "--ca-file", str(node.pki.ca), "--username", ADMIN, "quorum"]
    helpers = Path(__file__).resolve().parents[2] / "python_helpers"
    env = {**os.environ, "PYTHONPATH": str(helpers), "AUTOMQ_PROBE_PASSWORD": node.admin_password}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"healthy": true' in done.stdout
    assert node.admin_password not in done.stdout + done.stderr


# --------------------------------------------------------------------------- clear failures


def test_wrong_password_is_an_authentication_failure(node: SecureNode) -> None:
    wrong = "not-" + node.admin_password
    probe = KafkaProbe("127.0.0.1", node.ports.client, 5.0, security=node.sasl(password=wrong))
    with pytest.raises(SaslAuthenticationFailed) as failure, probe:
        probe.describe_cluster()
    message = str(failure.value)
    assert message.startswith(
        f"127.0.0.1:{node.ports.client}: SASL authentication failed for user 'admin' with "
        "SCRAM-SHA-512 (SASL_AUTHENTICATION_FAILED): "
    )
    assert "Authentication failed" in message  # the broker's own message follows
    assert wrong not in message
    assert node.admin_password not in message
    assert wrong not in repr(probe.connection.security)


def test_unknown_user_is_an_authentication_failure(node: SecureNode) -> None:
    security = node.sasl(username="nobody")
    with pytest.raises(
        SaslAuthenticationFailed, match=r"failed for user 'nobody' .*SASL_AUTHENTICATION_FAILED"
    ):
        KafkaProbe("127.0.0.1", node.ports.client, 5.0, security=security).api_versions()


def test_mechanism_not_enabled_lists_what_the_broker_offers(node: SecureNode) -> None:
    security = node.sasl(sasl_mechanism="SCRAM-SHA-256")
    with pytest.raises(ProbeError) as failure:
        KafkaProbe("127.0.0.1", node.ports.client, 5.0, security=security).api_versions()
    assert str(failure.value) == (
        f"127.0.0.1:{node.ports.client}: SASL mechanism SCRAM-SHA-256 is not enabled on this "
        "listener; it offers: SCRAM-SHA-512"
    )


def test_certificate_of_another_ca_is_not_trusted(node: SecureNode) -> None:
    security = node.sasl(ca_file=str(node.pki.rogue_ca))
    with pytest.raises(ProbeError) as failure:
        KafkaProbe("127.0.0.1", node.ports.client, 5.0, security=security).api_versions()
    assert str(failure.value).startswith(
        f"127.0.0.1:{node.ports.client}: TLS: the broker's certificate is not trusted: "
        f"the CA file {node.pki.rogue_ca} does not hold the CA that signed it"
    )


def test_hostname_mismatch_names_the_host(node: SecureNode) -> None:
    security = node.mtls(server_hostname="broker.example.internal")
    with pytest.raises(ProbeError) as failure:
        KafkaProbe("127.0.0.1", node.ports.internal, 5.0, security=security).api_versions()
    assert str(failure.value).startswith(
        f"127.0.0.1:{node.ports.internal}: TLS: the broker's certificate does not name "
        "broker.example.internal ("
    )
    # Without the name check the chain is still verified, and the listener answers.
    unchecked = replace(security, check_hostname=False)
    with KafkaProbe("127.0.0.1", node.ports.internal, 5.0, security=unchecked) as probe:
        assert probe.describe_cluster().cluster_id == node.cluster_id


@pytest.mark.parametrize("listener", ["internal", "controller"])
def test_mtls_listener_without_a_client_certificate(node: SecureNode, listener: str) -> None:
    port = getattr(node.ports, listener)
    security = node.mtls(cert_file=None, key_file=None)
    with pytest.raises(ProbeError) as failure:
        KafkaProbe("127.0.0.1", port, 5.0, security=security).api_versions()
    message = str(failure.value)
    assert message.startswith(f"127.0.0.1:{port}: TLS: the broker refused the connection (")
    assert "requires a client certificate (mTLS) and none is configured" in message


def test_mtls_listener_refuses_a_certificate_of_another_ca(node: SecureNode) -> None:
    security = node.mtls(cert_file=str(node.pki.rogue_cert), key_file=str(node.pki.rogue_key))
    with pytest.raises(ProbeError) as failure:
        KafkaProbe("127.0.0.1", node.ports.controller, 5.0, security=security).api_versions()
    assert str(failure.value).startswith(
        f"127.0.0.1:{node.ports.controller}: TLS: the broker refused the client certificate "
        f"{node.pki.rogue_cert} ("
    )


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_plaintext_probe_against_a_tls_port(node: SecureNode, protocol: str) -> None:
    security = (
        replace(node.sasl(ca_file=None), protocol=protocol)
        if protocol == "SASL_PLAINTEXT"
        else SecurityConfig(protocol)
    )
    with pytest.raises(ProbeError) as failure:
        KafkaProbe("127.0.0.1", node.ports.client, 5.0, security=security).api_versions()
    message = str(failure.value)
    assert message.startswith(f"127.0.0.1:{node.ports.client}: ")
    assert "TLS" in message
    assert f"not {protocol}" in message
    assert node.admin_password not in message


def test_tls_probe_against_a_plaintext_port(node: SecureNode) -> None:
    with pytest.raises(ProbeError) as failure:
        KafkaProbe("127.0.0.1", node.ports.plain, 5.0, security=node.mtls()).api_versions()
    assert str(failure.value).startswith(
        f"127.0.0.1:{node.ports.plain}: TLS: the peer closed the connection during the TLS "
        "handshake: a PLAINTEXT or SASL_PLAINTEXT listener"
    )


def test_sasl_probe_against_the_mtls_listener(node: SecureNode) -> None:
    security = node.sasl(cert_file=str(node.pki.probe_cert), key_file=str(node.pki.probe_key))
    with pytest.raises(ProbeError) as failure:
        KafkaProbe("127.0.0.1", node.ports.internal, 5.0, security=security).api_versions()
    assert str(failure.value) == (
        f"127.0.0.1:{node.ports.internal}: the listener does not use SASL (SaslHandshake "
        "answered ILLEGAL_SASL_STATE): use security protocol SSL for it, not SASL_SSL"
    )


def test_tls_probe_without_sasl_against_the_sasl_listener(node: SecureNode) -> None:
    # ApiVersions is allowed before authentication; anything else closes the connection.
    with KafkaProbe("127.0.0.1", node.ports.client, 5.0, security=node.mtls()) as probe:
        assert probe.api_versions().error_code == 0
        with pytest.raises(ProbeError) as failure:
            probe.describe_cluster()
    message = str(failure.value)
    assert message.startswith(f"127.0.0.1:{node.ports.client}: connection closed by peer")
    assert "does the listener require SASL (SASL_SSL)" in message
