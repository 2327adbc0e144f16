"""Move partitions off brokers that leave the cluster (playbooks/decommission.yml).

Two layers, like :mod:`kafka_probe`:

* pure: :func:`plan_reassignment` replaces every leaving broker in a partition's replica
  list by a remaining broker (the least loaded one that the partition does not use yet),
  keeping the replica count, the order of the other replicas, and every other partition
  untouched; :func:`reassignment_document` is the JSON ``kafka-reassign-partitions.sh``
  reads; ListPartitionReassignments (API key 46) v0 is encoded and decoded here;
* I/O: :func:`survey` asks one broker, over the Kafka protocol, for the live brokers,
  every partition's replicas and the reassignments in progress, and plans the moves;
  :func:`wait_for_survey` repeats it until a condition holds (nothing in progress, the
  leaving brokers hold no replica, the cluster no longer lists them).

Runs on the cluster hosts as the helper of an Ansible module: Python 3.8+, standard
library only.  On AutoMQ a reassignment moves no data (it lives in object storage); on
Apache Kafka the new replicas copy it from the leader before the old ones are dropped.
"""

# The hosts may only have Python 3.8: keep typing.List & co. (UP006/UP035/UP045).
# ruff: noqa: UP006, UP035, UP045

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .kafka_probe import (
    DEFAULT_CLIENT_ID,
    DecodeError,
    KafkaProbe,
    ProbeError,
    Reader,
    Writer,
    choose_version,
    error_name,
)

__all__ = [
    "API_LIST_PARTITION_REASSIGNMENTS",
    "WAIT_CONDITIONS",
    "OngoingReassignment",
    "ReassignmentError",
    "Survey",
    "TopicPartition",
    "decode_list_reassignments_response",
    "encode_list_reassignments_request",
    "list_reassignments",
    "partition_name",
    "plan_reassignment",
    "reassignment_document",
    "survey",
    "wait_for_survey",
]

TopicPartition = Tuple[str, int]

API_LIST_PARTITION_REASSIGNMENTS = 46
LIST_REASSIGNMENTS_VERSION = 0  # flexible from v0; the only version Kafka 3.9 has
LIST_REASSIGNMENTS_TIMEOUT_MS = 30000


class ReassignmentError(ValueError):
    """The partitions cannot be moved as asked; the message says why and what to do."""


def partition_name(topic_partition: TopicPartition) -> str:
    """``topic-partition``, as Kafka's tools print it."""
    return f"{topic_partition[0]}-{topic_partition[1]}"


# --------------------------------------------------------------------------- planning


def plan_reassignment(
    assignment: Mapping[TopicPartition, Sequence[int]],
    leaving: Iterable[int],
    brokers: Iterable[int],
) -> Dict[TopicPartition, Tuple[int, ...]]:
    """The new replica lists of the partitions that have a replica on a leaving broker.

    ``assignment`` is every partition's current replica list, ``brokers`` the brokers that
    may take replicas (leaving ones are ignored there).  Each leaving replica is replaced in
    place by the remaining broker with the fewest replicas (over all partitions, counting
    the moves planned so far) that the partition does not hold yet; ties go to the lowest
    broker ID.  Partitions are planned in (topic, partition) order, so the result is
    deterministic.  Partitions without a leaving replica are not in the result.

    Raises :class:`ReassignmentError` when a partition has more replicas than there are
    remaining brokers to hold them.
    """
    leaving_set = set(leaving)
    remaining = sorted(set(brokers) - leaving_set)
    load: Dict[int, int] = dict.fromkeys(remaining, 0)
    for replicas in assignment.values():
        for replica in replicas:
            if replica in load:
                load[replica] += 1

    plan: Dict[TopicPartition, Tuple[int, ...]] = {}
    impossible: List[str] = []
    for topic_partition in sorted(assignment):
        replicas = list(assignment[topic_partition])
        if not leaving_set.intersection(replicas):
            continue
        new_replicas: List[int] = []
        for replica in replicas:
            if replica not in leaving_set:
                new_replicas.append(replica)
                continue
            candidates = [
                broker
                for broker in remaining
                if broker not in replicas and broker not in new_replicas
            ]
            if not candidates:
                new_replicas = []
                break
            chosen = min(candidates, key=lambda broker: (load[broker], broker))
            load[chosen] += 1
            new_replicas.append(chosen)
        if not new_replicas:
            impossible.append(
                f"{partition_name(topic_partition)} (replicas {replicas}, "
                f"replication factor {len(replicas)})"
            )
            continue
        plan[topic_partition] = tuple(new_replicas)

    if impossible:
        shown = ", ".join(impossible[:10]) + (" ..." if len(impossible) > 10 else "")
        raise ReassignmentError(
            f"{len(impossible)} partition(s) cannot keep their replica count on the "
            f"{len(remaining)} remaining broker(s) {remaining}: {shown}. Nothing was changed. "
            "Add a broker first (scale out), or lower the replication factor of those topics, "
            "then decommission again."
        )
    return plan


def reassignment_document(plan: Mapping[TopicPartition, Sequence[int]]) -> Dict[str, object]:
    """The ``--reassignment-json-file`` of ``kafka-reassign-partitions.sh --execute``."""
    return {
        "version": 1,
        "partitions": [
            {"topic": topic, "partition": partition, "replicas": list(plan[(topic, partition)])}
            for topic, partition in sorted(plan)
        ],
    }


# ------------------------------------------------------------- ListPartitionReassignments


@dataclass(frozen=True)
class OngoingReassignment:
    topic: str
    partition: int
    replicas: Tuple[int, ...]
    adding_replicas: Tuple[int, ...]
    removing_replicas: Tuple[int, ...]


def list_reassignments_request_body(timeout_ms: int = LIST_REASSIGNMENTS_TIMEOUT_MS) -> bytes:
    """ListPartitionReassignments v0: TimeoutMs, Topics=null (every ongoing reassignment)."""
    return Writer().int32(timeout_ms).compact_array_length(None).tagged_fields().getvalue()


def encode_list_reassignments_request(
    correlation_id: int,
    client_id: Optional[str] = DEFAULT_CLIENT_ID,
    timeout_ms: int = LIST_REASSIGNMENTS_TIMEOUT_MS,
) -> bytes:
    """Size-prefixed request with header v2 (the API is flexible from v0)."""
    payload = (
        Writer()
        .int16(API_LIST_PARTITION_REASSIGNMENTS)
        .int16(LIST_REASSIGNMENTS_VERSION)
        .int32(correlation_id)
        .string(client_id)
        .tagged_fields()
        .raw(list_reassignments_request_body(timeout_ms))
        .getvalue()
    )
    return Writer().int32(len(payload)).raw(payload).getvalue()


def decode_list_reassignments_response(
    body: bytes,
) -> Tuple[int, Optional[str], Tuple[OngoingReassignment, ...]]:
    """ListPartitionReassignments v0 response body: (error code, message, reassignments)."""
    reader = Reader(body)
    reader.int32()  # ThrottleTimeMs
    error_code = reader.int16()
    error_message = reader.compact_nullable_string()
    ongoing: List[OngoingReassignment] = []
    for _topic in range(max(reader.compact_array_length(), 0)):
        topic = reader.compact_string()
        for _partition in range(max(reader.compact_array_length(), 0)):
            partition = reader.int32()
            replicas = reader.int32_array(compact=True)
            adding = reader.int32_array(compact=True)
            removing = reader.int32_array(compact=True)
            reader.tagged_fields()
            ongoing.append(OngoingReassignment(topic, partition, replicas, adding, removing))
        reader.tagged_fields()
    reader.tagged_fields()
    reader.expect_end("ListPartitionReassignments v0 response")
    return (
        error_code,
        error_message,
        tuple(sorted(ongoing, key=lambda item: (item.topic, item.partition))),
    )


def list_reassignments(probe: KafkaProbe) -> Tuple[OngoingReassignment, ...]:
    """Every reassignment in progress, asked of a broker (it forwards to the controller)."""
    versions = probe.api_versions()
    if (
        choose_version(
            versions,
            API_LIST_PARTITION_REASSIGNMENTS,
            LIST_REASSIGNMENTS_VERSION,
            LIST_REASSIGNMENTS_VERSION,
        )
        is None
    ):
        raise ProbeError(
            f"{probe.address}: does not serve ListPartitionReassignments v0 on this listener"
        )
    connection = probe.connection
    correlation_id = 0x4C50  # one request per connection use; checked below
    frame = connection.roundtrip(
        encode_list_reassignments_request(correlation_id, connection.client_id),
        "ListPartitionReassignments v0",
    )
    try:
        reader = Reader(frame)
        got_id = reader.int32()
        reader.tagged_fields()  # response header v1
        if got_id != correlation_id:
            raise DecodeError(f"correlation id {got_id}, expected {correlation_id}")
        error_code, message, ongoing = decode_list_reassignments_response(frame[reader.offset :])
    except DecodeError as exc:
        probe.close()
        raise ProbeError(
            f"{probe.address}: malformed ListPartitionReassignments v0 response: {exc}"
        ) from exc
    if error_code != 0:
        raise ProbeError(
            f"{probe.address}: ListPartitionReassignments failed with {error_name(error_code)}"
            + (f": {message}" if message else "")
        )
    return ongoing


# --------------------------------------------------------------------------- survey


@dataclass
class Survey:
    """What one broker says about the leaving brokers and their partitions.

    ``live_brokers`` are the registered, unfenced brokers (DescribeCluster);
    ``in_progress`` names every ongoing reassignment (whoever started it); ``on_leaving``
    the partitions that still have a replica on a leaving broker (during a reassignment,
    Metadata lists the replicas being removed too); ``plan`` the new replica lists, computed
    only when nothing is in progress; ``plan_error`` why no plan is possible; ``error`` why
    the broker could not be asked.
    """

    live_brokers: List[int] = field(default_factory=list)
    in_progress: List[str] = field(default_factory=list)
    on_leaving: List[str] = field(default_factory=list)
    plan: Dict[TopicPartition, Tuple[int, ...]] = field(default_factory=dict)
    plan_error: Optional[str] = None
    error: Optional[str] = None


def survey(probe: KafkaProbe, leaving: Iterable[int]) -> Survey:
    """Ask the broker behind ``probe``; raises ProbeError when it does not answer."""
    leaving_set = set(leaving)
    cluster = probe.describe_cluster()
    if cluster.error_code != 0:
        raise ProbeError(
            f"{probe.address}: DescribeCluster failed with {error_name(cluster.error_code)}"
        )
    metadata = probe.metadata()
    ongoing = list_reassignments(probe)
    result = Survey(
        live_brokers=sorted(broker.node_id for broker in cluster.brokers),
        in_progress=[partition_name((item.topic, item.partition)) for item in ongoing],
    )
    assignment: Dict[TopicPartition, Tuple[int, ...]] = {}
    for topic in metadata.topics:
        if topic.name is None or topic.error_code != 0:
            continue
        for part in topic.partitions:
            assignment[(topic.name, part.partition)] = part.replicas
    result.on_leaving = [
        partition_name(tp) for tp in sorted(assignment) if leaving_set.intersection(assignment[tp])
    ]
    if not result.in_progress and result.on_leaving:
        try:
            result.plan = plan_reassignment(assignment, leaving_set, result.live_brokers)
        except ReassignmentError as error:
            result.plan_error = str(error)
    return result


def _idle(found: Survey, leaving: Sequence[int]) -> bool:
    return found.error is None and not found.in_progress


WAIT_CONDITIONS: Dict[str, Callable[[Survey, Sequence[int]], bool]] = {
    # One look.
    "none": lambda found, leaving: True,
    # No reassignment in progress: the moves can be planned.
    "idle": _idle,
    # ... and no partition has a replica on a leaving broker any more.
    "moved": lambda found, leaving: _idle(found, leaving) and not found.on_leaving,
    # The cluster no longer lists the leaving brokers (stopped and unregistered).
    "unlisted": lambda found, leaving: (
        found.error is None and not set(leaving).intersection(found.live_brokers)
    ),
}


def wait_for_survey(
    probe_factory: Callable[[], KafkaProbe],
    leaving: Sequence[int],
    condition: str,
    timeout: float,
    interval: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Tuple[Survey, int, float]:
    """Survey until ``condition`` (a key of :data:`WAIT_CONDITIONS`) holds or ``timeout``
    seconds passed; a broker that does not answer is retried.  Never raises for what it
    finds: returns the last survey (``error`` set when the broker did not answer), the
    number of surveys and the seconds waited.
    """
    done = WAIT_CONDITIONS[condition]
    started = clock()
    attempts = 0
    while True:
        attempts += 1
        try:
            with probe_factory() as probe:
                found = survey(probe, leaving)
        except ProbeError as error:
            found = Survey(error=str(error))
        waited = clock() - started
        if done(found, leaving) or waited + interval > timeout:
            return found, attempts, waited
        sleep(interval)
