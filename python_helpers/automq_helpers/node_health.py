"""Is one AutoMQ node healthy? The verdict behind every start and rolling gate.

A node is healthy when it answers on each of its listeners, the controller
quorum has all its expected voters with a small lag, a broker is registered
and unfenced, and (optionally) no partition of the cluster is offline.

Each listener is reached with its own :class:`SecurityConfig`: ``security`` for the
broker listener, ``controller_security`` for the controller listener and the quorum
addresses (checked against their own names: ``server_hostname`` stands for ``host``).

Runs on the cluster hosts (Python 3.8+, standard library only).
"""

# ruff: noqa: UP006, UP035, UP045

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .kafka_probe import (
    PLAINTEXT,
    KafkaProbe,
    ProbeError,
    QuorumInfo,
    SecurityConfig,
    describe_quorum_from_any,
    error_name,
    evaluate_quorum,
    format_address,
    parse_address,
)

# (host, port, timeout, security) -> a probe of that listener
ProbeFactory = Callable[[str, int, float, SecurityConfig], KafkaProbe]


@dataclass(frozen=True)
class NodeCheck:
    """What to check on one node."""

    host: str
    node_id: int
    expected_voters: Sequence[int]
    quorum_addresses: Sequence[str]
    broker_port: Optional[int] = None
    controller_port: Optional[int] = None
    max_voter_lag: int = 1000
    check_offline_partitions: bool = True
    timeout: float = 5.0
    security: SecurityConfig = PLAINTEXT  # the broker listener
    controller_security: SecurityConfig = PLAINTEXT  # controller listener, quorum addresses


@dataclass
class NodeHealth:
    healthy: bool
    problems: List[str]
    # Every listener of the node itself answered: taking it down would take
    # something away from the cluster.
    serving: bool = False
    quorum_leader: Optional[int] = None
    voter_lag: Dict[int, int] = field(default_factory=dict)
    brokers: List[int] = field(default_factory=list)
    offline_partitions: List[str] = field(default_factory=list)


def _describe_offline(topic: Optional[str], partition: int, error: str) -> str:
    name = topic if topic is not None else "(unnamed topic)"
    if partition < 0:
        return f"topic {name} ({error})"
    return f"{name}-{partition} ({error})"


def _default_factory(host: str, port: int, timeout: float, security: SecurityConfig) -> KafkaProbe:
    return KafkaProbe(host, port, timeout, security=security)


def check_node(check: NodeCheck, probe_factory: Optional[ProbeFactory] = None) -> NodeHealth:
    """Probe the node; never raises for an unhealthy cluster, only reports problems."""
    factory = probe_factory or _default_factory
    problems: List[str] = []
    health = NodeHealth(healthy=False, problems=problems)
    listeners_down = 0

    if check.controller_port is not None:
        try:
            with factory(
                check.host, check.controller_port, check.timeout, check.controller_security
            ) as probe:
                probe.api_versions()
        except ProbeError as error:
            problems.append(f"controller listener does not answer: {error}")
            listeners_down += 1

    quorum: Optional[QuorumInfo] = None
    if check.broker_port is not None:
        try:
            with factory(check.host, check.broker_port, check.timeout, check.security) as probe:
                probe.api_versions()
                # The broker forwards DescribeQuorum to the active controller.
                quorum = probe.describe_quorum()
                cluster = probe.describe_cluster()
                health.brokers = sorted(broker.node_id for broker in cluster.brokers)
                if cluster.error_code != 0:
                    problems.append(f"DescribeCluster answered {error_name(cluster.error_code)}")
                elif check.node_id not in health.brokers:
                    problems.append(
                        f"broker {check.node_id} is not registered and unfenced "
                        f"(live brokers: {health.brokers})"
                    )
                if check.check_offline_partitions:
                    health.offline_partitions = [
                        _describe_offline(item.topic, item.partition, item.error_name)
                        for item in probe.offline_partitions()
                    ]
                    if health.offline_partitions:
                        shown = ", ".join(health.offline_partitions[:10])
                        problems.append(
                            f"{len(health.offline_partitions)} offline partition(s): {shown}"
                        )
        except ProbeError as error:
            problems.append(f"broker listener does not serve requests: {error}")
            listeners_down += 1

    if quorum is None or quorum.error_code != 0 or quorum.partition_error_code != 0:
        quorum_security = check.controller_security.for_other_hosts()
        try:
            quorum = describe_quorum_from_any(
                check.quorum_addresses,
                check.timeout,
                lambda address, timeout: factory(*parse_address(address), timeout, quorum_security),
            )
        except ProbeError as error:
            problems.append(f"controller quorum: {error}")
            quorum = None

    if quorum is not None:
        verdict = evaluate_quorum(quorum, check.expected_voters, check.max_voter_lag)
        health.quorum_leader = verdict.leader_id
        health.voter_lag = dict(verdict.voter_lag)
        problems.extend(f"controller quorum: {problem}" for problem in verdict.problems)

    health.serving = listeners_down == 0
    health.healthy = not problems
    return health


def wait_for_health(
    check: NodeCheck,
    timeout: float,
    interval: float = 2.0,
    probe_factory: Optional[ProbeFactory] = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Tuple[NodeHealth, int, float]:
    """Poll :func:`check_node` until healthy or ``timeout`` seconds passed.

    Returns the last verdict, the number of probes and the seconds waited. A
    ``timeout`` of 0 looks once.
    """
    started = clock()
    attempts = 0
    while True:
        attempts += 1
        health = check_node(check, probe_factory)
        waited = clock() - started
        if health.healthy or waited + interval > timeout:
            return health, attempts, waited
        sleep(interval)


def quorum_addresses(bootstrap_servers: str) -> List[str]:
    """Split controller.quorum.bootstrap.servers into host:port entries."""
    return [entry.strip() for entry in bootstrap_servers.split(",") if entry.strip()]


__all__ = [
    "NodeCheck",
    "NodeHealth",
    "check_node",
    "format_address",
    "quorum_addresses",
    "wait_for_health",
]
