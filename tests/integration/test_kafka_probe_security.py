"""kafka_probe against a real secured Kafka 3.9.1 KRaft node (the fixture package).

One combined node on 127.0.0.1 runs the listeners the role sets up:

* CLIENT: SASL_SSL with SCRAM-SHA-512 (user ``admin``, a super user);
* INTERNAL: SSL with required client certificates, the inter-broker listener;
* CONTROLLER: SSL with required client certificates;
* PLAIN: PLAINTEXT, only to show what a TLS client meets on a plaintext port.

Certificates are PEM, made here with ``cryptography``: a CA, the node's certificate
(localhost and 127.0.0.1, for server and client authentication), the probe's client
certificate, and a second CA with a certificate of its own that the node must refuse.
StandardAuthorizer denies everything but the super users (admin and both certificates).

Needs Java 17 and the fixture package (``make testbed`` builds it into
.testbed/packages; AUTOMQ_FIXTURE_PACKAGE may name another copy); no Docker.  The node
lives for the whole module: free loopback ports chosen at runtime, a temporary
directory, and the process killed and the directory removed even when a test fails.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from automq_helpers.cluster_id import generate_cluster_id
from automq_helpers.kafka_probe import (
    API_SASL_AUTHENTICATE,
    API_SASL_HANDSHAKE,
    ERROR_NONE,
    KafkaProbe,
    ProbeError,
    SecurityConfig,
)
from automq_helpers.node_health import NodeCheck, check_node

from .conftest import PACKAGES_DIR, fixture_package_name

NODE_ID = 1
ADMIN = "admin"
START_TIMEOUT = 120.0
JAVA_HEAP = "-Xmx384m -Xms384m"


# --------------------------------------------------------------------------- certificates


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    usages: list[x509.ObjectIdentifier] | None = None,
    names: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    """A CA certificate (no ``issuer``: self-signed) or a leaf signed by ``issuer``."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_name = issuer[0].subject if issuer else _name(subject)
    signing_key = issuer[1] if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _pkcs8(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> Path:
    """Written 0600 from the start: keys are readable by their owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


@dataclass(frozen=True)
class Pki:
    ca: Path
    node_keystore: Path  # key + certificate + CA, as ssl.keystore.type=PEM reads it
    probe_cert: Path
    probe_key: Path
    rogue_ca: Path  # a CA that signed neither the node nor the probe
    rogue_cert: Path  # a client certificate of the rogue CA
    rogue_key: Path


def make_pki(directory: Path) -> Pki:
    directory.mkdir(mode=0o700)
    ca_key, rogue_ca_key = _key(), _key()
    ca = _certificate("automq-test-ca", ca_key, None)
    rogue_ca = _certificate("rogue-ca", rogue_ca_key, None)
    server, client = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH
    node_key, probe_key, rogue_key = _key(), _key(), _key()
    node = _certificate(
        "localhost",
        node_key,
        (ca, ca_key),
        [server, client],  # the node is a client of its own controller listener
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    probe = _certificate("automq-probe", probe_key, (ca, ca_key), [client])
    rogue = _certificate("automq-probe", rogue_key, (rogue_ca, rogue_ca_key), [client])
    return Pki(
        ca=_write_private(directory / "ca.pem", _pem(ca)),
        node_keystore=_write_private(
            directory / "node-keystore.pem", _pkcs8(node_key) + _pem(node) + _pem(ca)
        ),
        probe_cert=_write_private(directory / "probe.pem", _pem(probe)),
        probe_key=_write_private(directory / "probe.key", _pkcs8(probe_key)),
        rogue_ca=_write_private(directory / "rogue-ca.pem", _pem(rogue_ca)),
        rogue_cert=_write_private(directory / "rogue.pem", _pem(rogue)),
        rogue_key=_write_private(directory / "rogue.key", _pkcs8(rogue_key)),
    )


# --------------------------------------------------------------------------- the node


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports nobody listens on now (all held open until chosen)."""
    sockets = []
    try:
        for _ in range(count):
            held = socket.socket()
            held.bind(("127.0.0.1", 0))
            sockets.append(held)
        return [held.getsockname()[1] for held in sockets]
    finally:
        for held in sockets:
            held.close()


def fixture_package() -> Path:
    """The fixture package, checked against the sha256 recorded beside it."""
    override = os.environ.get("AUTOMQ_FIXTURE_PACKAGE")
    package = Path(override) if override else PACKAGES_DIR / fixture_package_name()
    sha_file = package.with_name(package.name + ".sha256")
    missing = [str(path) for path in (package, sha_file) if not path.is_file()]
    assert not missing, (
        f"missing: {', '.join(missing)}; run `make testbed`, or set AUTOMQ_FIXTURE_PACKAGE "
        "to a copy of the fixture package (with its .sha256 beside it)"
    )
    digest = hashlib.sha256(package.read_bytes()).hexdigest()
    assert digest == sha_file.read_text().split()[0], f"{package} does not match its .sha256"
    return package


@dataclass(frozen=True)
class Ports:
    client: int  # SASL_SSL, SCRAM-SHA-512
    internal: int  # SSL, client certificate required
    controller: int  # SSL, client certificate required
    plain: int  # PLAINTEXT


def server_properties(pki: Pki, ports: Ports, data_dir: Path) -> str:
    return f"""\
process.roles=broker,controller
node.id={NODE_ID}
controller.quorum.voters={NODE_ID}@localhost:{ports.controller}
listeners=CLIENT://127.0.0.1:{ports.client},INTERNAL://127.0.0.1:{ports.internal},\
CONTROLLER://127.0.0.1:{ports.controller},PLAIN://127.0.0.1:{ports.plain}
advertised.listeners=CLIENT://localhost:{ports.client},INTERNAL://localhost:{ports.internal},\
PLAIN://localhost:{ports.plain}
listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL,PLAIN:PLAINTEXT
inter.broker.listener.name=INTERNAL
controller.listener.names=CONTROLLER
listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.client.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location={pki.node_keystore}
ssl.truststore.type=PEM
ssl.truststore.location={pki.ca}
listener.name.internal.ssl.client.auth=required
listener.name.controller.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:{ADMIN};User:CN=localhost;User:CN=automq-probe
allow.everyone.if.no.acl.found=false
log.dirs={data_dir}
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
"""


@dataclass(frozen=True)
class SecureNode:
    home: Path
    pki: Pki
    ports: Ports
    cluster_id: str
    admin_password: str
    log: Path

    def sasl(self, **changes: object) -> SecurityConfig:
        """SASL_SSL as admin, the server's certificate verified against the cluster CA."""
        base = SecurityConfig(
            protocol="SASL_SSL",
            ca_file=str(self.pki.ca),
            username=ADMIN,
            password=self.admin_password,
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    def mtls(self, **changes: object) -> SecurityConfig:
        """SSL with the probe's client certificate."""
        base = SecurityConfig(
            protocol="SSL",
            ca_file=str(self.pki.ca),
            cert_file=str(self.pki.probe_cert),
            key_file=str(self.pki.probe_key),
        )
        return replace(base, **changes)  # type: ignore[arg-type]


def _log_tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _wait_until_serving(node: SecureNode, process: subprocess.Popen[bytes]) -> float:
    """Poll until DescribeCluster over SASL_SSL lists the broker; seconds it took."""
    started = time.monotonic()
    last = "no attempt yet"
    while time.monotonic() - started < START_TIMEOUT:
        if process.poll() is not None:
            pytest.fail(f"the node exited with {process.returncode}:\n{_log_tail(node.log)}")
        try:
            with KafkaProbe("127.0.0.1", node.ports.client, 2.0, security=node.sasl()) as probe:
                cluster = probe.describe_cluster()
            if cluster.error_code == ERROR_NONE and [b.node_id for b in cluster.brokers] == [
                NODE_ID
            ]:
                return time.monotonic() - started
            last = f"DescribeCluster answered {cluster}"
        except ProbeError as error:
            last = str(error)
        time.sleep(0.25)  # poll interval, not a wait for readiness
    pytest.fail(f"the node did not serve within {START_TIMEOUT}s ({last}):\n{_log_tail(node.log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL; the node runs in its own process group, which we started."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture(scope="module")
def node() -> Iterator[SecureNode]:
    package = fixture_package()
    workdir = Path(tempfile.mkdtemp(prefix="kafka-probe-security-"))
    process: subprocess.Popen[bytes] | None = None
    try:
        with tarfile.open(package) as archive:
            archive.extractall(workdir, filter="data")
        (home,) = [path for path in workdir.iterdir() if path.is_dir()]
        pki = make_pki(workdir / "pki")
        ports = Ports(*free_ports(4))
        properties = workdir / "server.properties"
        properties.write_text(server_properties(pki, ports, workdir / "data"))
        secure = SecureNode(
            home=home,
            pki=pki,
            ports=ports,
            cluster_id=generate_cluster_id(),
            admin_password=secrets.token_hex(16),
            log=workdir / "node.log",
        )
        env = {
            **os.environ,
            "LOG_DIR": str(workdir / "logs"),
            "KAFKA_HEAP_OPTS": JAVA_HEAP,
            "KAFKA_JMX_OPTS": "",  # no JMX agent: nothing else listens
        }
        scram = f"SCRAM-SHA-512=[name={ADMIN},password={secure.admin_password}]"
        formatted = subprocess.run(
            [
                *(home / "bin" / "kafka-storage.sh", "format", "-t", secure.cluster_id),
                *("-c", properties, "--add-scram", scram),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert formatted.returncode == 0, (
            f"kafka-storage.sh format failed:\n{formatted.stdout}\n{formatted.stderr}"
        )
        with secure.log.open("wb") as log:
            process = subprocess.Popen(
                [home / "bin" / "kafka-server-start.sh", properties],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        took = _wait_until_serving(secure, process)
        print(f"\nsecured node serving after {took:.1f}s", file=sys.stderr)
        yield secure
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


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
    with pytest.raises(ProbeError) as failure, probe:
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
    with pytest.raises(ProbeError, match=r"failed for user 'nobody' .*SASL_AUTHENTICATION_FAILED"):
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
