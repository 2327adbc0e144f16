"""Unit tests for automq_helpers.reassignment (no Kafka needed).

The wire fixtures were captured from the scale scenario's Apache Kafka 3.9.1 cluster
(brokers 0, 1, 2, 1001) while a throttled reassignment of topic ``cap`` (cap-0: 0,1 -> 0,2;
cap-1: 1,2 -> 1,0) was in progress. They are whole response frames without the size prefix.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from automq_helpers import kafka_probe as kp
from automq_helpers import reassignment as ra
from automq_helpers.kafka_probe import BrokerInfo, MetadataResult, PartitionMetadata, TopicMetadata
from automq_helpers.reassignment import (
    OngoingReassignment,
    ReassignmentError,
    plan_reassignment,
    reassignment_document,
)

LIST_REASSIGNMENTS_V0_IN_PROGRESS = bytes.fromhex(
    "0000000700000000000000000204636170030000000004000000000000000200000001020000000202000000"
    "0100000000010400000001000000000000000202000000000200000002000000"
)  # 76 bytes
METADATA_V12_CAP_IN_PROGRESS = bytes.fromhex(
    "00000009000000000005000000000d3137322e33302e32332e3131000023840000000000010d3137322e3330"
    "2e32332e3132000023840000000003e90d3137322e33302e32332e3135000023840000000000020d3137322e"
    "33302e32332e313300002384000017647144786a796372534962412d693469563857565877000000010200"
    "000463617028ac4cbeb6d24fbf82ea7b9627b3c7b000030000000000010000000100000000040000000100"
    "0000000000000203000000010000000201000000000000000000000000000000040000000000000002000000"
    "010300000000000000010100800000000000"
)  # 236 bytes


# --------------------------------------------------------------------------- planning

Assignment = dict[tuple[str, int], tuple[int, ...]]


@st.composite
def clusters(draw: Any) -> tuple[Assignment, set[int], list[int]]:
    """A cluster whose partitions fit on the remaining brokers, and brokers to remove."""
    brokers = draw(st.lists(st.integers(0, 2000), min_size=2, max_size=8, unique=True))
    leaving = set(draw(st.lists(st.sampled_from(brokers), min_size=1, max_size=len(brokers) - 1)))
    remaining = len(brokers) - len(leaving)
    assignment: Assignment = {}
    for topic in draw(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True)):
        for partition in range(draw(st.integers(1, 6))):
            rf = draw(st.integers(1, remaining))
            replicas = draw(st.permutations(brokers))[:rf]
            assignment[(topic, partition)] = tuple(replicas)
    return assignment, leaving, brokers


@settings(max_examples=300)
@given(clusters())
def test_plan_properties(cluster):
    assignment, leaving, brokers = cluster
    plan = plan_reassignment(assignment, leaving, brokers)
    final = {**assignment, **plan}
    for tp, replicas in final.items():
        assert not leaving.intersection(replicas), f"{tp} keeps a leaving broker: {replicas}"
        assert len(replicas) == len(assignment[tp]), f"{tp} changed its replica count"
        assert len(set(replicas)) == len(replicas), f"{tp} has a duplicate replica: {replicas}"
        assert set(replicas) <= set(brokers)
    for tp, replicas in assignment.items():
        if not leaving.intersection(replicas):
            assert tp not in plan, f"{tp} had no leaving replica but is planned"
        else:
            # The replicas that stay keep their place; only the leaving ones are replaced.
            for before, after in zip(replicas, plan[tp], strict=True):
                assert before in leaving or before == after


@given(clusters())
def test_plan_is_deterministic(cluster):
    assignment, leaving, brokers = cluster
    reordered = dict(reversed(list(assignment.items())))
    assert plan_reassignment(assignment, leaving, brokers) == plan_reassignment(
        reordered, sorted(leaving, reverse=True), list(reversed(brokers))
    )


@given(clusters())
def test_plan_applied_again_is_empty(cluster):
    assignment, leaving, brokers = cluster
    plan = plan_reassignment(assignment, leaving, brokers)
    assert plan_reassignment({**assignment, **plan}, leaving, brokers) == {}


def test_least_loaded_broker_takes_each_replica():
    assignment = {
        ("a", 0): (0, 1),
        ("a", 1): (1, 2),
        ("a", 2): (0, 9),
        ("a", 3): (9, 1),
        ("b", 0): (9,),
    }
    # Loads of the remaining brokers: 0 -> 2, 1 -> 3, 2 -> 1. a-2 (holds 0) takes 2, the
    # least loaded (2 -> 2); a-3 (holds 1) has 0 and 2 tied at 2, the lower ID wins (0 -> 3);
    # b-0 takes 2, now the least loaded.
    plan = plan_reassignment(assignment, [9], [0, 1, 2, 9])
    assert plan == {("a", 2): (0, 2), ("a", 3): (0, 1), ("b", 0): (2,)}


def test_replacement_keeps_the_position_of_the_leaving_replica():
    plan = plan_reassignment({("t", 0): (1000, 0, 1)}, [1000], [0, 1, 2, 1000])
    assert plan == {("t", 0): (2, 0, 1)}


def test_live_brokers_that_leave_are_never_targets():
    plan = plan_reassignment({("t", 0): (5, 6)}, [5, 6], [5, 6, 7, 8])
    assert plan == {("t", 0): (7, 8)}


def test_brokers_not_live_keep_their_replicas_but_take_none():
    # Broker 3 is down (not in the live list): its replica stays, and it takes none.
    plan = plan_reassignment({("t", 0): (3, 9), ("t", 1): (0, 9), ("t", 2): (9,)}, [9], [0, 1, 9])
    assert plan == {("t", 0): (3, 1), ("t", 1): (0, 1), ("t", 2): (0,)}


def test_too_few_remaining_brokers():
    assignment = {("big", 0): (0, 1, 1000), ("big", 1): (1, 2, 0), ("small", 0): (1000,)}
    with pytest.raises(ReassignmentError) as info:
        plan_reassignment(assignment, [1000], [0, 1, 1000])
    message = str(info.value)
    assert message.startswith(
        "1 partition(s) cannot keep their replica count on the 2 remaining broker(s) [0, 1]: "
        "big-0 (replicas [0, 1, 1000], replication factor 3)."
    )
    assert "Nothing was changed" in message
    assert "Add a broker first" in message


def test_nothing_to_move():
    assert plan_reassignment({("t", 0): (0, 1)}, [1000], [0, 1, 1000]) == {}
    assert plan_reassignment({}, [1000], [0]) == {}


def test_reassignment_document():
    plan = {("b", 1): (2, 0), ("a", 0): (1,), ("b", 0): (0, 2)}
    assert reassignment_document(plan) == {
        "version": 1,
        "partitions": [
            {"topic": "a", "partition": 0, "replicas": [1]},
            {"topic": "b", "partition": 0, "replicas": [0, 2]},
            {"topic": "b", "partition": 1, "replicas": [2, 0]},
        ],
    }
    assert reassignment_document({}) == {"version": 1, "partitions": []}


# --------------------------------------------------------------------------- wire protocol


def test_encode_list_reassignments_request():
    frame = ra.encode_list_reassignments_request(7, "automq-probe", timeout_ms=30000)
    assert (
        frame
        == bytes.fromhex(
            "0000001d"  # size
            "002e"
            "0000"
            "00000007"
            "000c" + b"automq-probe".hex() + "00"  # header v2
            "00007530"
            "00"
            "00"  # TimeoutMs, Topics=null, tags
        )
    )


def test_decode_list_reassignments_fixture():
    correlation_id, body = (
        LIST_REASSIGNMENTS_V0_IN_PROGRESS[:4],
        LIST_REASSIGNMENTS_V0_IN_PROGRESS[4:],
    )
    assert correlation_id == b"\x00\x00\x00\x07"
    assert body[0] == 0  # response header v1: no tagged fields
    error, message, ongoing = ra.decode_list_reassignments_response(body[1:])
    assert (error, message) == (0, None)
    assert ongoing == (
        OngoingReassignment("cap", 0, (0, 2, 1), adding_replicas=(2,), removing_replicas=(1,)),
        OngoingReassignment("cap", 1, (1, 0, 2), adding_replicas=(0,), removing_replicas=(2,)),
    )


def test_metadata_fixture_lists_adding_and_removing_replicas():
    _, body = kp.decode_response_header(kp.API_METADATA, 12, METADATA_V12_CAP_IN_PROGRESS)
    metadata = kp.decode_metadata_response(body, 12)
    assert [b.node_id for b in metadata.brokers] == [0, 1, 2, 1001]
    (topic,) = metadata.topics
    # The target replicas first, then the ones being removed.
    assert [p.replicas for p in topic.partitions] == [(0, 2, 1), (1, 0, 2)]


@given(
    st.lists(
        st.tuples(
            st.text(min_size=1, max_size=20),
            st.integers(0, 2**31 - 1),
            st.lists(st.integers(0, 2**31 - 1), max_size=5),
            st.lists(st.integers(0, 2**31 - 1), max_size=3),
            st.lists(st.integers(0, 2**31 - 1), max_size=3),
        ),
        max_size=6,
        unique_by=lambda item: (item[0], item[1]),
    ),
    st.sampled_from([0, 41]),
    st.none() | st.text(max_size=30),
)
def test_list_reassignments_roundtrip(items, error_code, message):
    by_topic: dict[str, list[Any]] = {}
    for item in items:
        by_topic.setdefault(item[0], []).append(item)
    w = kp.Writer().int32(0).int16(error_code).compact_string(message)
    w.compact_array_length(len(by_topic))
    for topic, parts in by_topic.items():
        w.compact_string(topic).compact_array_length(len(parts))
        for _, partition, replicas, adding, removing in parts:
            w.int32(partition)
            for values in (replicas, adding, removing):
                w.compact_array_length(len(values))
                for value in values:
                    w.int32(value)
            w.tagged_fields()
        w.tagged_fields()
    w.tagged_fields()
    error, got_message, ongoing = ra.decode_list_reassignments_response(w.getvalue())
    assert (error, got_message) == (error_code, message)
    assert sorted(ongoing, key=lambda o: (o.topic, o.partition)) == sorted(
        (OngoingReassignment(t, p, tuple(r), tuple(a), tuple(d)) for t, p, r, a, d in items),
        key=lambda o: (o.topic, o.partition),
    )


def test_decode_list_reassignments_rejects_truncation():
    body = LIST_REASSIGNMENTS_V0_IN_PROGRESS[5:]
    for cut in range(len(body)):
        with pytest.raises(kp.DecodeError):
            ra.decode_list_reassignments_response(body[:cut])
    with pytest.raises(kp.DecodeError):
        ra.decode_list_reassignments_response(body + b"\x00")


# --------------------------------------------------------------------------- survey


class FakeConnection:
    def __init__(self, frame: bytes | Exception) -> None:
        self.frame = frame
        self.client_id = "automq-probe"
        self.requests: list[bytes] = []

    def roundtrip(self, request: bytes, what: str = "request") -> bytes:
        self.requests.append(request)
        if isinstance(self.frame, Exception):
            raise self.frame
        correlation_id = request[8:12]
        return correlation_id + self.frame[4:]


class FakeProbe:
    """Stands in for KafkaProbe: canned Metadata and ListPartitionReassignments answers."""

    address = "10.0.0.1:9092"

    def __init__(
        self,
        metadata: MetadataResult,
        reassignments: bytes | Exception = LIST_REASSIGNMENTS_V0_IN_PROGRESS,
        api_keys: tuple[int, ...] = (3, 18, 46),
    ) -> None:
        self._metadata = metadata
        self.connection = FakeConnection(reassignments)
        self.closed = False
        self.registered = True
        self.cluster_error = 0
        self._versions = kp.ApiVersionsResult(
            0, tuple(kp.ApiVersionRange(key, 0, 12) for key in api_keys)
        )

    def api_versions(self) -> kp.ApiVersionsResult:
        return self._versions

    def metadata(self) -> MetadataResult:
        return self._metadata

    def describe_cluster(self) -> kp.ClusterInfo:
        return kp.ClusterInfo(
            self.cluster_error, None, "c", 0, self._metadata.brokers if self.registered else ()
        )

    def __enter__(self) -> FakeProbe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True


def _metadata(brokers: list[int], topics: dict[str, list[tuple[int, ...]]]) -> MetadataResult:
    return MetadataResult(
        brokers=tuple(BrokerInfo(b, f"10.0.0.{b % 250}", 9092) for b in brokers),
        cluster_id="c",
        controller_id=brokers[0],
        topics=tuple(
            TopicMetadata(
                name=name,
                topic_id="AAAAAAAAAAAAAAAAAAAAAA",
                error_code=0,
                is_internal=name.startswith("__"),
                partitions=tuple(
                    PartitionMetadata(i, 0, replicas[0], 0, replicas, replicas, ())
                    for i, replicas in enumerate(partitions)
                ),
            )
            for name, partitions in topics.items()
        ),
    )


NO_REASSIGNMENT = bytes.fromhex("0000000700000000000000000100")


def test_survey_plans_when_nothing_is_in_progress():
    metadata = _metadata(
        [0, 1, 2, 1000],
        {"t": [(1000, 0, 1), (0, 1, 2)], "__consumer_offsets": [(1000,), (1,)]},
    )
    probe = FakeProbe(metadata, NO_REASSIGNMENT)
    found = ra.survey(probe, [1000])  # type: ignore[arg-type]
    assert found.live_brokers == [0, 1, 2, 1000]
    assert found.in_progress == []
    assert found.on_leaving == ["__consumer_offsets-0", "t-0"]
    assert found.plan == {("__consumer_offsets", 0): (2,), ("t", 0): (2, 0, 1)}
    assert found.plan_error is None
    # One ListPartitionReassignments v0 request, Topics=null.
    (request,) = probe.connection.requests
    assert request[4:8] == bytes.fromhex("002e0000")


def test_survey_does_not_plan_while_a_reassignment_runs():
    probe = FakeProbe(_metadata([0, 1, 2], {"cap": [(0, 2, 1), (1, 0, 2)]}))
    found = ra.survey(probe, [1])  # type: ignore[arg-type]
    assert found.in_progress == ["cap-0", "cap-1"]
    assert found.on_leaving == ["cap-0", "cap-1"]
    assert found.plan == {}


def test_survey_reports_an_impossible_plan():
    probe = FakeProbe(_metadata([0, 1000], {"t": [(0, 1000)]}), NO_REASSIGNMENT)
    found = ra.survey(probe, [1000])  # type: ignore[arg-type]
    assert found.plan == {}
    assert found.plan_error is not None
    assert "t-0 (replicas [0, 1000], replication factor 2)" in found.plan_error


def test_list_reassignments_errors():
    metadata = _metadata([0], {})
    with pytest.raises(kp.ProbeError, match="does not serve ListPartitionReassignments v0"):
        ra.list_reassignments(FakeProbe(metadata, api_keys=(3, 18)))  # type: ignore[arg-type]
    error_frame = bytes.fromhex("00000007000000000000290b") + b"not active" + b"\x01\x00"
    with pytest.raises(kp.ProbeError, match="failed with NOT_CONTROLLER: not active"):
        ra.list_reassignments(FakeProbe(metadata, error_frame))  # type: ignore[arg-type]
    probe = FakeProbe(metadata, LIST_REASSIGNMENTS_V0_IN_PROGRESS[:-3])
    with pytest.raises(kp.ProbeError, match="malformed ListPartitionReassignments v0 response"):
        ra.list_reassignments(probe)  # type: ignore[arg-type]
    assert probe.closed


def test_list_reassignments_checks_the_correlation_id():
    class WrongId(FakeConnection):
        def roundtrip(self, request: bytes, what: str = "request") -> bytes:
            return b"\x00\x00\x00\x01" + NO_REASSIGNMENT[4:]

    probe = FakeProbe(_metadata([0], {}))
    probe.connection = WrongId(b"")
    with pytest.raises(kp.ProbeError, match="correlation id 1"):
        ra.list_reassignments(probe)  # type: ignore[arg-type]


def test_survey_counts_replicas_per_broker_for_the_load():
    # 3 partitions on broker 1, none on 2: both moves go to 2 first, then alternate.
    metadata = _metadata(
        [0, 1, 2, 9], {"a": [(0, 1), (0, 1), (1, 0)], "b": [(9, 0), (9, 1), (9, 0)]}
    )
    found = ra.survey(FakeProbe(metadata, NO_REASSIGNMENT), [9])  # type: ignore[arg-type]
    targets = Counter(replicas[0] for replicas in found.plan.values())
    assert targets == {2: 3}


def test_survey_takes_the_live_brokers_from_describe_cluster():
    probe = FakeProbe(_metadata([0, 1, 1000], {"t": [(0, 1000)]}), NO_REASSIGNMENT)
    probe.registered = False  # DescribeCluster lists no broker at all
    found = ra.survey(probe, [1000])  # type: ignore[arg-type]
    assert found.live_brokers == []
    assert found.plan_error is not None  # no broker to move to
    probe.cluster_error = 31
    with pytest.raises(kp.ProbeError, match="DescribeCluster failed with CLUSTER_AUTHORIZATION"):
        ra.survey(probe, [1000])  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _probes(*answers: FakeProbe | Exception):
    """A probe factory handing out the answers in turn (the last one forever)."""
    queue = list(answers)

    def factory() -> FakeProbe:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return factory


MOVING = _metadata([0, 1, 2, 1000], {"t": [(0, 1, 1000)]})
MOVED = _metadata([0, 1, 2, 1000], {"t": [(0, 1, 2)]})
GONE = _metadata([0, 1, 2], {"t": [(0, 1, 2)]})
IN_PROGRESS = LIST_REASSIGNMENTS_V0_IN_PROGRESS


@pytest.mark.parametrize(
    ("condition", "answers", "attempts", "satisfied"),
    [
        ("none", [FakeProbe(MOVING, IN_PROGRESS)], 1, True),
        ("idle", [FakeProbe(MOVING, IN_PROGRESS), FakeProbe(MOVING, NO_REASSIGNMENT)], 2, True),
        (
            "moved",
            [
                kp.ProbeError("10.0.0.1:9092: connect failed"),
                FakeProbe(MOVING, NO_REASSIGNMENT),
                FakeProbe(MOVING, IN_PROGRESS),
                FakeProbe(MOVED, NO_REASSIGNMENT),
            ],
            4,
            True,
        ),
        (
            "unlisted",
            [FakeProbe(MOVED, NO_REASSIGNMENT), FakeProbe(GONE, NO_REASSIGNMENT)],
            2,
            True,
        ),
        ("moved", [FakeProbe(MOVING, IN_PROGRESS)], 7, False),
        ("unlisted", [kp.ProbeError("10.0.0.1:9092: connect failed")], 7, False),
    ],
)
def test_wait_for_survey(condition, answers, attempts, satisfied):
    clock = Clock()
    found, tries, waited = ra.wait_for_survey(
        _probes(*answers), [1000], condition, timeout=30, interval=5, clock=clock, sleep=clock.sleep
    )
    assert tries == attempts
    assert waited == 5 * (attempts - 1)
    assert ra.WAIT_CONDITIONS[condition](found, [1000]) is satisfied
    if not satisfied and isinstance(answers[-1], Exception):
        assert found.error == "10.0.0.1:9092: connect failed"
        assert found.live_brokers == []
