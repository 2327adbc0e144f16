"""Fakes and builders shared by the console tests.

The Kafka client is faked only at its boundary: ``FakeAdmin`` implements the
methods of ``confluent_kafka.admin.AdminClient`` that the data layer calls
(same names and arguments) and answers with the client's own result types in
``concurrent.futures.Future``s; ``FakeQuorum`` stands in for
``describe_quorum_from_any`` and returns the probe's own ``QuorumInfo``.
Everything above that boundary -- the data layer, the application, the
templates -- is the real code.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Node,
    TopicPartition,
)
from confluent_kafka.admin import (
    ClusterMetadata,
    ConfigEntry,
    ConfigResource,
    ConsumerGroupListing,
    DescribeClusterResult,
    ListConsumerGroupsResult,
    ListOffsetsResultInfo,
    PartitionMetadata,
    TopicMetadata,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient

from automq_console.passwords import hash_password
from automq_helpers.kafka_probe import ProbeError, QuorumInfo, ReplicaState

PASSWORD = "correct horse battery staple"
# Cheap scrypt parameters: verification reads them from the hash, so tests stay fast.
FAST_SCRYPT = {"n": 2**4, "r": 8, "p": 1}
CLUSTER_ID = "2pLDXREPN-_3XaFc9gSSNw"
START = 1_790_000_000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def done(value: Any) -> concurrent.futures.Future[Any]:
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    future.set_result(value)
    return future


def failed(exc: BaseException) -> concurrent.futures.Future[Any]:
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    future.set_exception(exc)
    return future


def kafka_error(code: int = KafkaError._TRANSPORT, reason: str = "Connection refused") -> Exception:
    return KafkaException(KafkaError(code, reason))


def topic(name: str, partitions: int, replicas: int = 1, **overrides: Any) -> TopicMetadata:
    """A TopicMetadata as list_topics returns it; overrides: {partition: (leader, isr)}."""
    meta = TopicMetadata()
    meta.topic = name
    for index in range(partitions):
        part = PartitionMetadata()
        part.id = index
        part.replicas = list(range(replicas))
        part.leader, isr = overrides.get(f"p{index}", (0, list(range(replicas))))
        part.isrs = isr
        meta.partitions[index] = part
    return meta


class FakeAdmin:
    """The AdminClient boundary; every answer is a real confluent_kafka result object."""

    def __init__(self) -> None:
        self.live_brokers: Sequence[int] | Exception = (0, 1, 2)
        self.topics: dict[str, TopicMetadata] | Exception = {
            "orders": topic("orders", 12),
            "payments": topic("payments", 3),
            "__consumer_offsets": topic("__consumer_offsets", 50),
        }
        self.groups: list[ConsumerGroupListing] | Exception = [
            ConsumerGroupListing("billing", False, ConsumerGroupState.STABLE),
            ConsumerGroupListing("audit", False, ConsumerGroupState.EMPTY),
        ]
        self.group_errors: list[KafkaError] = []
        self.committed: dict[str, list[TopicPartition] | Exception] = {
            "billing": [
                TopicPartition("orders", 0, 100),
                TopicPartition("orders", 1, 250),
                TopicPartition("payments", 0, 7),
            ],
            "audit": [TopicPartition("orders", 0, 40)],
        }
        self.log_end: dict[tuple[str, int], int | Exception] = {
            ("orders", 0): 130,
            ("orders", 1): 250,
            ("payments", 0): 10,
        }
        self.configs: dict[int, dict[str, ConfigEntry] | Exception] = {}
        self.calls: list[str] = []

    def describe_cluster(self, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.calls.append("describe_cluster")
        if isinstance(self.live_brokers, Exception):
            return failed(self.live_brokers)
        nodes = [Node(i, f"10.0.0.{11 + i}", 9092) for i in self.live_brokers]
        controller = nodes[0] if nodes else Node(-1, "", -1)
        return done(DescribeClusterResult(controller, nodes, CLUSTER_ID))

    def list_topics(self, *args: Any, **kwargs: Any) -> ClusterMetadata:
        self.calls.append("list_topics")
        if isinstance(self.topics, Exception):
            raise self.topics
        metadata = ClusterMetadata()
        metadata.cluster_id = CLUSTER_ID
        metadata.topics = dict(self.topics)
        return metadata

    def list_consumer_groups(self, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.calls.append("list_consumer_groups")
        if isinstance(self.groups, Exception):
            return failed(self.groups)
        return done(ListConsumerGroupsResult(valid=list(self.groups), errors=self.group_errors))

    def list_consumer_group_offsets(
        self, list_consumer_group_offsets_request: list[ConsumerGroupTopicPartitions], **kwargs: Any
    ) -> dict[str, concurrent.futures.Future[Any]]:
        assert len(list_consumer_group_offsets_request) == 1, "the client takes one group"
        group_id = list_consumer_group_offsets_request[0].group_id
        self.calls.append(f"list_consumer_group_offsets:{group_id}")
        answer = self.committed.get(group_id, [])
        if isinstance(answer, Exception):
            return {group_id: failed(answer)}
        return {group_id: done(ConsumerGroupTopicPartitions(group_id, list(answer)))}

    def list_offsets(
        self, topic_partition_offsets: dict[TopicPartition, Any], **kwargs: Any
    ) -> dict[TopicPartition, concurrent.futures.Future[Any]]:
        if not topic_partition_offsets:
            raise ValueError("topic_partition_offsets cannot be empty")
        self.calls.append(f"list_offsets:{len(topic_partition_offsets)}")
        result = {}
        for tp in topic_partition_offsets:
            end = self.log_end.get((tp.topic, tp.partition), kafka_error(3, "Unknown partition"))
            result[tp] = (
                failed(end)
                if isinstance(end, Exception)
                else done(ListOffsetsResultInfo(end, -1, -1))
            )
        return result

    def describe_configs(
        self, resources: list[ConfigResource], **kwargs: Any
    ) -> dict[ConfigResource, concurrent.futures.Future[Any]]:
        (resource,) = resources
        broker = int(resource.name)
        self.calls.append(f"describe_configs:{broker}")
        answer = self.configs.get(broker, {})
        return {resource: failed(answer) if isinstance(answer, Exception) else done(answer)}


def quorum_info(
    voters: Sequence[int] = (0, 1, 2),
    leader: int = 0,
    high_watermark: int = 5000,
    log_end_offsets: dict[int, int] | None = None,
    observers: Sequence[int] = (),
) -> QuorumInfo:
    ends = log_end_offsets or {}
    now = 1_790_000_000_000

    def state(replica: int) -> ReplicaState:
        return ReplicaState(replica, ends.get(replica, high_watermark), now - 100, now - 250)

    states = tuple(
        ReplicaState(v, ends.get(v, high_watermark), now, now) if v == leader else state(v)
        for v in voters
    )
    return QuorumInfo(
        error_code=0,
        partition_error_code=0,
        topic="__cluster_metadata",
        partition=0,
        leader_id=leader,
        leader_epoch=7,
        high_watermark=high_watermark,
        voters=states,
        observers=tuple(state(o) for o in observers),
    )


class FakeQuorum:
    """Stands in for ``describe_quorum_from_any(addresses, timeout)``."""

    def __init__(self) -> None:
        self.answer: QuorumInfo | Exception = quorum_info()
        self.addresses: list[Sequence[str]] = []

    def __call__(self, addresses: Sequence[str], timeout: float) -> QuorumInfo:
        self.addresses.append(list(addresses))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def unreachable_quorum() -> ProbeError:
    return ProbeError("no node answered DescribeQuorum: 10.0.0.11:9093: connect failed")


def config_dict(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "cluster_name": "prod-hz",
        "bootstrap_servers": ["10.0.0.11:9092", "10.0.0.12:9092", "10.0.0.13:9092"],
        "controller_quorum_bootstrap_servers": [
            "10.0.0.11:9093",
            "10.0.0.12:9093",
            "10.0.0.13:9093",
        ],
        "expected_voters": [0, 1, 2],
        "nodes": [
            {
                "host": f"automq-{i + 1}",
                "node_id": i,
                "roles": ["broker", "controller"],
                "installed_version": "1.7.3",
                "advertised_host": f"10.0.0.{11 + i}",
            }
            for i in range(3)
        ],
        "oss": {
            "region": "cn-hangzhou",
            "endpoint": "https://oss-cn-hangzhou-internal.aliyuncs.com",
            "data_bucket": "automq-prod-data",
            "ops_bucket": "automq-prod-ops",
        },
        "admin_user": "admin",
        "admin_password_hash_file": str(tmp_path / "admin.hash"),
        "session_secret_file": str(tmp_path / "session.key"),
        "cookie_secure": False,
    }
    raw.update(overrides)
    return raw


def write_secret_files(tmp_path: Path, password: str = PASSWORD) -> None:
    hash_file = tmp_path / "admin.hash"
    hash_file.write_text(hash_password(password, **FAST_SCRYPT) + "\n")
    hash_file.chmod(0o640)
    key_file = tmp_path / "session.key"
    key_file.write_text("ab" * 32 + "\n")
    key_file.chmod(0o600)


def login(client: TestClient, username: str = "admin", password: str = PASSWORD) -> Any:
    """GET the login form, then POST it with its CSRF token."""
    page = client.get("/login")
    token = csrf_token(page.text)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def csrf_token(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


KAFKA_PASSWORD = "monitor-Secret-4c1d9e7b"


def secure_kafka(tmp_path: Path, password: str = KAFKA_PASSWORD) -> dict[str, Any]:
    """Overrides of config_dict for a secure cluster, with the password file written (0640)."""
    password_file = tmp_path / "kafka.password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o640)
    ca_file = tmp_path / "kafka-ca.crt"
    ca_file.write_bytes(make_pki(tmp_path / "kafka-pki").ca_file.read_bytes())
    return {
        "controller_quorum_bootstrap_servers": [],
        "kafka_security": {
            "protocol": "SASL_SSL",
            "mechanism": "SCRAM-SHA-512",
            "ca_file": str(ca_file),
            "username": "automq-console",
            "password_file": str(password_file),
        },
    }


@dataclass(frozen=True)
class PkiFiles:
    """A CA and a server certificate for 127.0.0.1 and localhost, as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def make_pki(directory: Path, common_name: str = "automq-console.test") -> PkiFiles:
    """A throw-away CA (ECDSA P-256, as role automq_pki makes) and a server certificate
    it signed for 127.0.0.1 and localhost; the key is written mode 0640."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test CA"))
        .issuer_name(_name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    pki = PkiFiles(directory / "ca.crt", directory / "console.crt", directory / "console.key")
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(_pem_key(key))
    pki.key_file.chmod(0o640)
    return pki


def write_encrypted_key(path: Path) -> None:
    path.write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1()), b"passphrase"))
    path.chmod(0o600)
