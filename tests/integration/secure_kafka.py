"""A real secured Kafka 3.9.1 KRaft node from the fixture package, for integration tests.

One combined node on 127.0.0.1 runs the listeners the role sets up:

* CLIENT: SASL_SSL with SCRAM-SHA-512 (user ``admin``, a super user);
* INTERNAL: SSL with required client certificates, the inter-broker listener;
* CONTROLLER: SSL with required client certificates;
* PLAIN: PLAINTEXT, only to show what a TLS client meets on a plaintext port.

Certificates are PEM, made here with ``cryptography``: a CA, the node's certificate
(localhost and 127.0.0.1, for server and client authentication), the probe's client
certificate, and a second CA with a certificate of its own that the node must refuse.
StandardAuthorizer denies everything but the super users (admin and both certificates)
and what ACLs allow.

The ``secure_node`` fixture (registered in conftest.py) starts the node once per test
session, for every module that asks for it: tests that change the cluster use names of
their own. Needs Java 17 and the fixture package (``make testbed`` builds it into
.testbed/packages; AUTOMQ_FIXTURE_PACKAGE may name another copy); no Docker.  Free
loopback ports are chosen at runtime, the node lives in a temporary directory, and the
process is killed and the directory removed even when a test fails.
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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from automq_helpers.cluster_id import generate_cluster_id
from automq_helpers.kafka_probe import ERROR_NONE, KafkaProbe, ProbeError, SecurityConfig

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
    ca_key: Path
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
        ca_key=_write_private(directory / "ca.key", _pkcs8(ca_key)),
        node_keystore=_write_private(
            directory / "node-keystore.pem", _pkcs8(node_key) + _pem(node) + _pem(ca)
        ),
        probe_cert=_write_private(directory / "probe.pem", _pem(probe)),
        probe_key=_write_private(directory / "probe.key", _pkcs8(probe_key)),
        rogue_ca=_write_private(directory / "rogue-ca.pem", _pem(rogue_ca)),
        rogue_cert=_write_private(directory / "rogue.pem", _pem(rogue)),
        rogue_key=_write_private(directory / "rogue.key", _pkcs8(rogue_key)),
    )


def renewed_keystore(pki: Pki, only_names: Sequence[str] = ()) -> tuple[bytes, x509.Certificate]:
    """The node's key store with a new certificate from the same CA for the same key: the
    same subject and names (what a renewal gives), or ``only_names`` (DNS) instead."""
    stored = pki.node_keystore.read_bytes()
    key = serialization.load_pem_private_key(stored, None)
    current = x509.load_pem_x509_certificate(stored)
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    names = list(current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    renewed = _certificate(
        "localhost",
        key,
        (ca, ca_key),
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        [x509.DNSName(name) for name in only_names] or names,
    )
    return _pkcs8(key) + _pem(renewed) + _pem(ca), renewed


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
    pid: int = 0  # of the node's process, once started

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


@pytest.fixture(scope="session")
def secure_node() -> Iterator[SecureNode]:
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
        secure = replace(secure, pid=process.pid)
        took = _wait_until_serving(secure, process)
        print(f"\nsecured node serving after {took:.1f}s", file=sys.stderr)
        yield secure
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
