"""Tests for automq_helpers.node_health.check_node.

The Kafka probe is faked only at its boundary: ``probe_factory`` hands out fake
``KafkaProbe``-like objects (one per listener port) that answer with the real result
dataclasses of :mod:`automq_helpers.kafka_probe`, and the quorum fallback
``describe_quorum_from_any`` (which opens its own connections) is monkeypatched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest

from automq_helpers import node_health
from automq_helpers.kafka_probe import (
    ERROR_LEADER_NOT_AVAILABLE,
    ERROR_LISTENER_NOT_FOUND,
    ERROR_NOT_LEADER_OR_FOLLOWER,
    METADATA_TOPIC,
    PLAINTEXT,
    ApiVersionRange,
    ApiVersionsResult,
    BrokerInfo,
    ClusterInfo,
    OfflinePartition,
    ProbeError,
    QuorumInfo,
    ReplicaState,
    SecurityConfig,
    error_name,
)
from automq_helpers.node_health import NodeCheck, NodeHealth, check_node, wait_for_health

HOST = "10.0.0.11"
BROKER_PORT = 9092
CONTROLLER_PORT = 9093
QUORUM = ("10.0.0.11:9093", "10.0.0.12:9093", "10.0.0.13:9093")
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg"

API_VERSIONS = ApiVersionsResult(
    error_code=0,
    api_keys=(
        ApiVersionRange(3, 0, 12),
        ApiVersionRange(18, 0, 4),
        ApiVersionRange(55, 0, 2),
        ApiVersionRange(60, 0, 1),
    ),
)


# --------------------------------------------------------------------------- result builders


def quorum(
    voters: Sequence[int] = (0, 1, 2),
    leader: int = 1,
    high_watermark: int = 5000,
    log_end_offsets: dict[int, int] | None = None,
    partition_error_code: int = 0,
) -> QuorumInfo:
    """A DescribeQuorum answer; every voter is at the high watermark unless overridden."""
    offsets = log_end_offsets or {}
    return QuorumInfo(
        error_code=0,
        partition_error_code=partition_error_code,
        topic=METADATA_TOPIC,
        partition=0,
        leader_id=leader,
        leader_epoch=7,
        high_watermark=high_watermark,
        voters=tuple(
            ReplicaState(v, offsets.get(v, high_watermark), 1_700_000_000_000, 1_700_000_000_000)
            for v in voters
        ),
        observers=(ReplicaState(1000, high_watermark, 1_700_000_000_000, 1_700_000_000_000),),
    )


# What a controller listener that is not the quorum leader answers (decode_describe_quorum_
# response keeps the partition with its error and no usable leader or voters).
NOT_LEADER = QuorumInfo(
    error_code=0,
    partition_error_code=ERROR_NOT_LEADER_OR_FOLLOWER,
    topic=METADATA_TOPIC,
    partition=0,
    leader_id=-1,
    leader_epoch=-1,
    high_watermark=-1,
    voters=(),
    observers=(),
)


def cluster(*broker_ids: int) -> ClusterInfo:
    return ClusterInfo(
        error_code=0,
        error_message=None,
        cluster_id=CLUSTER_ID,
        controller_id=broker_ids[0] if broker_ids else -1,
        brokers=tuple(BrokerInfo(b, f"10.0.1.{b % 250}", BROKER_PORT) for b in broker_ids),
    )


def offline(
    topic: str, partition: int, error_code: int = ERROR_LEADER_NOT_AVAILABLE
) -> OfflinePartition:
    return OfflinePartition(
        topic=topic,
        partition=partition,
        leader_id=-1,
        error_code=error_code,
        error_name=error_name(error_code),
        replicas=(1000,),
    )


# --------------------------------------------------------------------------- fakes


@dataclass
class Listener:
    """How one fake listener behaves; ``down`` makes every call fail like a refused connect."""

    down: bool = False
    quorum: QuorumInfo | ProbeError = field(default_factory=quorum)
    cluster: ClusterInfo = field(default_factory=lambda: cluster(0, 1, 2))
    offline: list[OfflinePartition] = field(default_factory=list)


class FakeProbe:
    """Stands in for KafkaProbe: same context manager and probe methods, canned answers."""

    def __init__(self, host: str, port: int, listener: Listener, calls: list[str]) -> None:
        self.address = f"{host}:{port}"
        self._listener = listener
        self._calls = calls
        self.closed = False

    def __enter__(self) -> FakeProbe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.closed = True

    def _call(self, name: str) -> None:
        self._calls.append(f"{self.address} {name}")
        if self._listener.down:
            raise ProbeError(f"{self.address}: connect failed: [Errno 111] Connection refused")

    def api_versions(self) -> ApiVersionsResult:
        self._call("api_versions")
        return API_VERSIONS

    def describe_quorum(self) -> QuorumInfo:
        self._call("describe_quorum")
        if isinstance(self._listener.quorum, ProbeError):
            raise self._listener.quorum
        return self._listener.quorum

    def describe_cluster(self) -> ClusterInfo:
        self._call("describe_cluster")
        return self._listener.cluster

    def offline_partitions(self) -> list[OfflinePartition]:
        self._call("offline_partitions")
        return list(self._listener.offline)


class FakeNode:
    """The listeners of the node under test, and a ``probe_factory`` that connects to them."""

    def __init__(self) -> None:
        self.listeners: dict[int, Listener] = {
            BROKER_PORT: Listener(),
            CONTROLLER_PORT: Listener(),
        }
        self.opened: list[tuple[str, int, float]] = []
        self.security: list[tuple[str, SecurityConfig]] = []  # (host:port, its security)
        self.probes: list[FakeProbe] = []
        self.calls: list[str] = []

    def factory(
        self, host: str, port: int, timeout: float, security: SecurityConfig = PLAINTEXT
    ) -> FakeProbe:
        self.opened.append((host, port, timeout))
        self.security.append((f"{host}:{port}", security))
        # A port nobody listens on behaves like a stopped listener.
        probe = FakeProbe(host, port, self.listeners.get(port, Listener(down=True)), self.calls)
        self.probes.append(probe)
        return probe


class FakeFallback:
    """Replaces describe_quorum_from_any; by default the test fails if it is called."""

    def __init__(self) -> None:
        self.answer: QuorumInfo | ProbeError | None = None
        self.calls: list[tuple[tuple[str, ...], float]] = []

    def __call__(
        self, addresses: Sequence[str], timeout: float = 5.0, probe_factory: object = None
    ) -> QuorumInfo:
        self.calls.append((tuple(addresses), timeout))
        if self.answer is None:
            raise AssertionError(f"unexpected fallback to describe_quorum_from_any({addresses})")
        if isinstance(self.answer, ProbeError):
            raise self.answer
        return self.answer


@pytest.fixture
def node() -> FakeNode:
    return FakeNode()


@pytest.fixture
def fallback(monkeypatch: pytest.MonkeyPatch) -> FakeFallback:
    fake = FakeFallback()
    monkeypatch.setattr(node_health, "describe_quorum_from_any", fake)
    return fake


def combined_check(**changes: object) -> NodeCheck:
    base = NodeCheck(
        host=HOST,
        node_id=0,
        expected_voters=(0, 1, 2),
        quorum_addresses=QUORUM,
        broker_port=BROKER_PORT,
        controller_port=CONTROLLER_PORT,
        timeout=2.5,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def run(check: NodeCheck, node: FakeNode) -> NodeHealth:
    health = check_node(check, node.factory)
    assert all(probe.closed for probe in node.probes), "a probe was left open"
    assert health.healthy == (not health.problems)
    return health


# --------------------------------------------------------------------------- healthy


def test_all_healthy_combined_node(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[BROKER_PORT].quorum = quorum(log_end_offsets={2: 4990})

    health = run(combined_check(), node)

    assert health.healthy is True
    assert health.serving is True
    assert health.problems == []
    assert health.quorum_leader == 1
    assert health.voter_lag == {0: 0, 1: 0, 2: 10}
    assert health.brokers == [0, 1, 2]
    assert health.offline_partitions == []
    # Both listeners were probed with the check's timeout; the broker answered the quorum.
    assert node.opened == [(HOST, CONTROLLER_PORT, 2.5), (HOST, BROKER_PORT, 2.5)]
    assert node.calls == [
        f"{HOST}:9093 api_versions",
        f"{HOST}:9092 api_versions",
        f"{HOST}:9092 describe_quorum",
        f"{HOST}:9092 describe_cluster",
        f"{HOST}:9092 offline_partitions",
    ]
    assert fallback.calls == []


# --------------------------------------------------------------------------- security

# The secured layout: SASL_SSL with SCRAM on the broker listener, mTLS on the controller
# listener; the node's certificate names its advertised host, not HOST.
BROKER_SECURITY = SecurityConfig(
    protocol="SASL_SSL",
    ca_file="/etc/automq/tls/ca.pem",
    server_hostname="automq-1.example.internal",
    username="admin",
    password="unit-test-password",
)
CONTROLLER_SECURITY = SecurityConfig(
    protocol="SSL",
    ca_file="/etc/automq/tls/ca.pem",
    cert_file="/etc/automq/tls/node.pem",
    key_file="/etc/automq/tls/node.key",
    server_hostname="automq-1.example.internal",
)


def test_listeners_are_plaintext_by_default(node: FakeNode, fallback: FakeFallback) -> None:
    run(combined_check(), node)

    assert node.security == [(f"{HOST}:9093", PLAINTEXT), (f"{HOST}:9092", PLAINTEXT)]


def test_each_listener_is_reached_with_its_security(node: FakeNode, fallback: FakeFallback) -> None:
    health = run(
        combined_check(security=BROKER_SECURITY, controller_security=CONTROLLER_SECURITY), node
    )

    assert health.healthy is True
    assert node.security == [
        (f"{HOST}:9093", CONTROLLER_SECURITY),
        (f"{HOST}:9092", BROKER_SECURITY),
    ]


def test_quorum_fallback_checks_the_controllers_by_their_own_names(node: FakeNode) -> None:
    # The real describe_quorum_from_any: the first quorum address answers.
    node.listeners[BROKER_PORT].down = True

    health = run(
        combined_check(security=BROKER_SECURITY, controller_security=CONTROLLER_SECURITY), node
    )

    assert health.quorum_leader == 1
    assert node.security[-1] == (QUORUM[0], replace(CONTROLLER_SECURITY, server_hostname=None))


# --------------------------------------------------------------------------- listeners down


def test_controller_listener_down(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[CONTROLLER_PORT].down = True

    health = run(combined_check(), node)

    assert health.healthy is False
    assert health.serving is False
    assert health.problems == [
        "controller listener does not answer: "
        f"{HOST}:9093: connect failed: [Errno 111] Connection refused"
    ]
    # The rest of the picture still comes from the broker listener.
    assert health.quorum_leader == 1
    assert health.brokers == [0, 1, 2]
    assert fallback.calls == []


def test_broker_listener_down_falls_back_to_the_controllers(
    node: FakeNode, fallback: FakeFallback
) -> None:
    node.listeners[BROKER_PORT].down = True
    fallback.answer = quorum(leader=2)

    health = run(combined_check(), node)

    assert health.healthy is False
    assert health.serving is False
    assert health.problems == [
        "broker listener does not serve requests: "
        f"{HOST}:9092: connect failed: [Errno 111] Connection refused"
    ]
    assert fallback.calls == [(QUORUM, 2.5)]
    assert health.quorum_leader == 2  # the quorum verdict comes from the controllers
    assert health.voter_lag == {0: 0, 1: 0, 2: 0}
    assert health.brokers == []


def test_broker_and_quorum_down(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[BROKER_PORT].down = True
    fallback.answer = ProbeError(
        "no node answered DescribeQuorum: 10.0.0.11:9093: connect failed: timed out"
    )

    health = run(combined_check(), node)

    assert health.healthy is False
    assert len(health.problems) == 2
    assert health.problems[0].startswith("broker listener does not serve requests: ")
    assert health.problems[1] == (
        "controller quorum: no node answered DescribeQuorum: "
        "10.0.0.11:9093: connect failed: timed out"
    )
    assert health.quorum_leader is None
    assert health.voter_lag == {}


def test_broker_failing_after_the_quorum_keeps_the_brokers_quorum(
    node: FakeNode, fallback: FakeFallback, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener that breaks mid-way is reported, but the quorum it already gave is used."""

    def describe_cluster_fails(self: FakeProbe) -> ClusterInfo:
        raise ProbeError(f"{self.address}: timed out after 2.5s waiting for the response")

    monkeypatch.setattr(FakeProbe, "describe_cluster", describe_cluster_fails)
    health = run(combined_check(), node)

    assert health.problems == [
        "broker listener does not serve requests: "
        f"{HOST}:9092: timed out after 2.5s waiting for the response"
    ]
    assert health.quorum_leader == 1
    assert fallback.calls == []


# --------------------------------------------------------------------------- broker state


def test_broker_not_registered_or_fenced(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[BROKER_PORT].cluster = cluster(1, 2)

    health = run(combined_check(), node)

    assert health.healthy is False
    assert health.problems == ["broker 0 is not registered and unfenced (live brokers: [1, 2])"]
    assert health.brokers == [1, 2]


def test_offline_partitions_are_listed(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[BROKER_PORT].offline = [
        offline("orders", 3),
        offline("orders", 7, ERROR_LISTENER_NOT_FOUND),
    ]

    health = run(combined_check(), node)

    assert health.healthy is False
    assert health.offline_partitions == [
        "orders-3 (LEADER_NOT_AVAILABLE)",
        "orders-7 (LISTENER_NOT_FOUND)",
    ]
    assert health.problems == [
        "2 offline partition(s): orders-3 (LEADER_NOT_AVAILABLE), orders-7 (LISTENER_NOT_FOUND)"
    ]


def test_offline_partitions_message_shows_the_first_ten(
    node: FakeNode, fallback: FakeFallback
) -> None:
    node.listeners[BROKER_PORT].offline = [offline("t", p) for p in range(12)]

    health = run(combined_check(), node)

    assert len(health.offline_partitions) == 12
    (problem,) = health.problems
    assert problem.startswith("12 offline partition(s): t-0 (LEADER_NOT_AVAILABLE), ")
    assert "t-9 (LEADER_NOT_AVAILABLE)" in problem
    assert "t-10" not in problem


def test_offline_partitions_ignored_when_not_checked(
    node: FakeNode, fallback: FakeFallback
) -> None:
    node.listeners[BROKER_PORT].offline = [offline("orders", 3)]

    health = run(combined_check(check_offline_partitions=False), node)

    assert health.healthy is True
    assert health.offline_partitions == []
    assert not any(call.endswith("offline_partitions") for call in node.calls)


# --------------------------------------------------------------------------- quorum state


def test_missing_voter(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[BROKER_PORT].quorum = quorum(voters=(0, 1))

    health = run(combined_check(), node)

    assert health.healthy is False
    assert health.problems == ["controller quorum: expected voters missing: [2]"]
    assert health.voter_lag == {0: 0, 1: 0}
    # The node itself still serves: a rolling restart must wait before taking it down.
    assert health.serving is True


def test_unexpected_voter(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[BROKER_PORT].quorum = quorum(voters=(0, 1, 2, 3, 4))

    health = run(combined_check(), node)

    assert health.problems == ["controller quorum: unexpected voters: [3, 4]"]


def test_lagging_voter(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[BROKER_PORT].quorum = quorum(log_end_offsets={2: 100})

    health = run(combined_check(), node)

    assert health.healthy is False
    assert health.problems == ["controller quorum: voter 2 lags by 4900 (> 1000)"]
    assert health.voter_lag == {0: 0, 1: 0, 2: 4900}


def test_voter_lag_threshold_comes_from_the_check(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[BROKER_PORT].quorum = quorum(log_end_offsets={2: 100})

    assert run(combined_check(max_voter_lag=4900), node).healthy is True
    assert run(combined_check(max_voter_lag=4899), node).problems == [
        "controller quorum: voter 2 lags by 4900 (> 4899)"
    ]


def test_no_leader_elected(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[BROKER_PORT].quorum = quorum(leader=-1)

    health = run(combined_check(), node)

    assert health.problems == ["controller quorum: no leader elected (epoch 7)"]
    assert health.quorum_leader == -1


def test_not_leader_or_follower_through_the_broker_falls_back(
    node: FakeNode, fallback: FakeFallback
) -> None:
    node.listeners[BROKER_PORT].quorum = NOT_LEADER
    fallback.answer = quorum(leader=2, log_end_offsets={0: 4999})

    health = run(combined_check(), node)

    assert fallback.calls == [(QUORUM, 2.5)]
    assert health.healthy is True, health.problems
    assert health.problems == []
    assert health.quorum_leader == 2
    assert health.voter_lag == {0: 1, 1: 0, 2: 0}
    assert health.brokers == [0, 1, 2]  # the broker checks still ran on the broker listener


def test_not_leader_or_follower_and_no_controller_answers(
    node: FakeNode, fallback: FakeFallback
) -> None:
    node.listeners[BROKER_PORT].quorum = NOT_LEADER
    fallback.answer = ProbeError(
        "no node answered DescribeQuorum: 10.0.0.12:9093: DescribeQuorum answered "
        "NONE/NOT_LEADER_OR_FOLLOWER"
    )

    health = run(combined_check(), node)

    assert health.healthy is False
    assert health.problems == [
        "controller quorum: no node answered DescribeQuorum: 10.0.0.12:9093: "
        "DescribeQuorum answered NONE/NOT_LEADER_OR_FOLLOWER"
    ]
    assert health.quorum_leader is None


# --------------------------------------------------------------------------- node roles


def test_controller_only_node(node: FakeNode, fallback: FakeFallback) -> None:
    del node.listeners[BROKER_PORT]
    fallback.answer = quorum()

    health = run(combined_check(broker_port=None), node)

    assert health.healthy is True, health.problems
    assert node.opened == [(HOST, CONTROLLER_PORT, 2.5)]
    assert node.calls == [f"{HOST}:9093 api_versions"]
    assert fallback.calls == [(QUORUM, 2.5)]
    assert health.quorum_leader == 1
    assert health.brokers == []  # no broker checks on a controller-only node


def test_controller_only_node_down(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[CONTROLLER_PORT].down = True
    fallback.answer = quorum(voters=(1, 2), leader=2)

    health = run(combined_check(broker_port=None), node)

    assert health.problems == [
        "controller listener does not answer: "
        f"{HOST}:9093: connect failed: [Errno 111] Connection refused",
        "controller quorum: expected voters missing: [0]",
    ]


def test_broker_only_node(node: FakeNode, fallback: FakeFallback) -> None:
    del node.listeners[CONTROLLER_PORT]
    node.listeners[BROKER_PORT].cluster = cluster(0, 1, 2, 1000)

    health = run(combined_check(node_id=1000, controller_port=None), node)

    assert health.healthy is True, health.problems
    assert node.opened == [(HOST, BROKER_PORT, 2.5)]
    assert health.brokers == [0, 1, 2, 1000]
    assert health.quorum_leader == 1
    assert fallback.calls == []


def test_broker_only_node_not_registered(node: FakeNode, fallback: FakeFallback) -> None:
    del node.listeners[CONTROLLER_PORT]

    health = run(combined_check(node_id=1000, controller_port=None), node)

    assert health.problems == [
        "broker 1000 is not registered and unfenced (live brokers: [0, 1, 2])"
    ]


# --------------------------------------------------------------------------- waiting


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_polls_until_healthy(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[BROKER_PORT].down = True
    fallback.answer = quorum()
    clock = FakeClock()
    calls = 0

    def factory(host: str, port: int, timeout: float, security: SecurityConfig):
        nonlocal calls
        calls += 1
        if calls == 5:  # the broker comes up on the third poll (two listeners a poll)
            node.listeners[BROKER_PORT].down = False
        return node.factory(host, port, timeout, security)

    health, attempts, waited = wait_for_health(
        combined_check(),
        timeout=60,
        interval=2,
        probe_factory=factory,
        clock=clock,
        sleep=clock.sleep,
    )

    assert health.healthy is True
    assert attempts == 3
    assert clock.sleeps == [2, 2]
    assert waited == 4


def test_wait_gives_up_after_the_timeout(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[CONTROLLER_PORT].down = True
    clock = FakeClock()

    health, attempts, waited = wait_for_health(
        combined_check(),
        timeout=10,
        interval=2,
        probe_factory=node.factory,
        clock=clock,
        sleep=clock.sleep,
    )

    assert health.healthy is False
    assert health.problems[0].startswith("controller listener does not answer")
    assert attempts == 6  # at 0, 2, 4, 6, 8 and 10 s: one more would end past the timeout
    assert waited == 10


def test_wait_with_zero_timeout_looks_once(node: FakeNode, fallback: FakeFallback) -> None:
    node.listeners[CONTROLLER_PORT].down = True
    clock = FakeClock()

    _, attempts, _ = wait_for_health(
        combined_check(), timeout=0, probe_factory=node.factory, clock=clock, sleep=clock.sleep
    )

    assert attempts == 1
    assert clock.sleeps == []
