"""The data layer against a fake AdminClient and a fake DescribeQuorum (conftest)."""

from __future__ import annotations

import concurrent.futures
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from confluent_kafka import ConsumerGroupState, KafkaError, TopicPartition
from confluent_kafka.admin import ConfigEntry, ConsumerGroupListing
from console_fakes import (
    KAFKA_PASSWORD,
    START,
    FakeAdmin,
    FakeClock,
    FakeQuorum,
    kafka_error,
    quorum_info,
    secure_kafka,
    topic,
    unreachable_quorum,
)
from hypothesis import given
from hypothesis import strategies as st

from automq_console.config import ConfigError
from automq_console.data import (
    OFFSET_UNSET,
    KafkaDataSource,
    admin_client_config,
    bucket_names,
    build_quorum_rows,
    compute_lag,
    describe_error,
    probe_security,
    sanitise_storage_value,
)
from automq_helpers.kafka_probe import PLAINTEXT, ReplicaState

# --------------------------------------------------------------------------- overview


def test_overview_of_a_healthy_cluster(source: KafkaDataSource, quorum: FakeQuorum) -> None:
    view = source.overview()

    assert view.errors == ()
    assert view.problems == ()
    assert view.cluster_id == "2pLDXREPN-_3XaFc9gSSNw"
    assert view.fetch.fetched_at == datetime.fromtimestamp(START, tz=UTC)
    assert view.leader_id == 0
    assert view.leader_epoch == 7
    assert view.expected_voters == (0, 1, 2)
    assert [(n.node_id, n.host, n.installed_version, n.state) for n in view.nodes] == [
        (0, "automq-1", "1.7.3", "ok"),
        (1, "automq-2", "1.7.3", "ok"),
        (2, "automq-3", "1.7.3", "ok"),
    ]
    assert view.nodes[0].roles == ("broker", "controller")
    assert view.nodes[0].broker_state == "registered, unfenced"
    assert view.nodes[0].controller_state == "quorum leader"
    assert view.nodes[1].controller_state == "follower, lag 0"
    # Controllers first, then brokers (which forward DescribeQuorum).
    assert quorum.addresses[0][:3] == ["10.0.0.11:9093", "10.0.0.12:9093", "10.0.0.13:9093"]
    assert quorum.addresses[0][3:] == ["10.0.0.11:9092", "10.0.0.12:9092", "10.0.0.13:9092"]


def test_follower_lag_and_caught_up_age(source: KafkaDataSource, quorum: FakeQuorum) -> None:
    quorum.answer = quorum_info(high_watermark=5000, log_end_offsets={1: 4990, 2: 5003})

    view = source.overview()

    rows = {row.replica_id: row for row in view.quorum}
    assert rows[0].is_leader
    assert rows[0].lag == 0
    assert rows[0].caught_up_ms_ago == 0
    assert rows[1].lag == 10
    assert rows[1].log_end_offset == 4990
    assert rows[1].caught_up_ms_ago == 250
    assert rows[2].lag == 0  # ahead of the high watermark: not negative
    assert view.nodes[1].controller_state == "follower, lag 10"
    assert view.problems == ()


def test_lagging_voter_is_a_problem(source: KafkaDataSource, quorum: FakeQuorum) -> None:
    quorum.answer = quorum_info(high_watermark=9000, log_end_offsets={2: 1000})

    view = source.overview()

    node2 = view.nodes[2]
    assert node2.state == "problem"
    assert node2.controller_state == "follower, lagging (lag 8000)"
    assert any("voter 2 lags by 8000" in p for p in view.problems)


def test_broker_down_shows_that_node_as_a_problem(
    source: KafkaDataSource, admin: FakeAdmin, quorum: FakeQuorum
) -> None:
    admin.live_brokers = (0, 2)
    quorum.answer = quorum_info(voters=(0, 2))

    view = source.overview()

    node1 = view.nodes[1]
    assert node1.state == "problem"
    assert node1.state_text == "down or unhealthy"
    assert node1.broker_state == "not registered or fenced"
    assert node1.controller_state == "not a quorum voter"
    assert view.nodes[0].state == "ok"
    assert any(p.startswith("Node 1 (automq-2)") for p in view.problems)
    assert any("expected voters missing: [1]" in p for p in view.problems)
    assert view.errors == ()


def test_unreachable_brokers_are_an_error_not_an_exception(
    source: KafkaDataSource, admin: FakeAdmin
) -> None:
    admin.live_brokers = kafka_error(KafkaError._TIMED_OUT, "Failed while waiting for response")

    view = source.overview()

    assert view.errors == (
        "Brokers (DescribeCluster): Failed while waiting for response (_TIMED_OUT)",
    )
    assert all(n.broker_state == "unknown (cluster not readable)" for n in view.nodes)
    assert all(n.state == "unknown" for n in view.nodes)
    assert view.leader_id == 0  # the quorum still answered


def test_unreachable_quorum(source: KafkaDataSource, quorum: FakeQuorum) -> None:
    quorum.answer = unreachable_quorum()

    view = source.overview()

    assert view.leader_id is None
    assert view.quorum == ()
    assert view.errors[0].startswith("Controller quorum (DescribeQuorum): no node answered")
    assert all(n.controller_state == "unknown (quorum not readable)" for n in view.nodes)
    assert all(n.broker_state == "registered, unfenced" for n in view.nodes)


def test_a_node_unknown_to_ansible_is_listed_as_a_warning(
    source: KafkaDataSource, admin: FakeAdmin, quorum: FakeQuorum
) -> None:
    admin.live_brokers = (0, 1, 2, 7)
    quorum.answer = quorum_info(observers=(7,))

    view = source.overview()

    extra = view.nodes[-1]
    assert (extra.node_id, extra.in_inventory, extra.state) == (7, False, "warning")
    assert extra.state_text == "not in the Ansible node list"
    assert extra.advertised_host == "10.0.0.18"
    assert extra.roles == ("broker",)
    assert extra.installed_version == ""
    assert [r.kind for r in view.quorum] == ["voter", "voter", "voter", "observer"]


def test_broker_only_and_controller_only_nodes(make_settings, admin: FakeAdmin) -> None:
    nodes = [
        {
            "host": f"c{i}",
            "node_id": i,
            "roles": ["controller"],
            "installed_version": "1.7.3",
            "advertised_host": f"c{i}",
        }
        for i in range(3)
    ] + [
        {
            "host": "b1",
            "node_id": 100,
            "roles": ["broker"],
            "installed_version": "1.7.2",
            "advertised_host": "b1",
        }
    ]
    settings = make_settings(nodes=nodes)
    admin.live_brokers = ()
    fake = FakeQuorum()
    fake.answer = quorum_info(observers=(100,))

    view = KafkaDataSource(settings, admin, fake).overview()

    broker = view.nodes[-1]
    assert broker.node_id == 100
    assert broker.controller_state == ""
    assert broker.broker_state == "not registered or fenced"
    assert broker.state == "problem"
    assert view.nodes[0].broker_state == ""
    assert view.nodes[0].state == "ok"


# --------------------------------------------------------------------------- topics


def test_topics_with_partition_counts(source: KafkaDataSource) -> None:
    page = source.topics()

    assert page.errors == ()
    assert [(t.name, t.partitions, t.internal) for t in page.topics] == [
        ("__consumer_offsets", 50, True),
        ("orders", 12, False),
        ("payments", 3, False),
    ]
    assert all(t.offline_partitions == 0 for t in page.topics)


def test_offline_and_under_replicated_partitions(source: KafkaDataSource, admin: FakeAdmin) -> None:
    broken = topic("broken", 4, replicas=3, p0=(-1, []), p1=(2, [2]))
    broken.partitions[2].error = KafkaError(KafkaError.LEADER_NOT_AVAILABLE)
    admin.topics = {"broken": broken}

    (row,) = source.topics().topics

    assert row.replication_factor == 3
    assert row.offline_partitions == 2
    assert row.under_replicated_partitions == 2


def test_topic_error_and_unreachable_metadata(source: KafkaDataSource, admin: FakeAdmin) -> None:
    bad = topic("secret-stuff", 0)
    bad.error = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "Topic authorization failed")
    admin.topics = {"secret-stuff": bad}
    assert source.topics().topics[0].error == "Topic authorization failed"

    admin.topics = kafka_error()
    page = source.topics()
    assert page.topics == ()
    assert page.errors == ("Topics (Metadata): Connection refused (_TRANSPORT)",)


# --------------------------------------------------------------------------- groups


def test_group_lag_per_topic(source: KafkaDataSource, admin: FakeAdmin) -> None:
    page = source.groups()

    assert page.errors == ()
    audit, billing = page.groups
    assert (billing.group_id, billing.state, billing.total_lag) == ("billing", "stable", 33)
    assert [(t.topic, t.partitions, t.lag) for t in billing.topics] == [
        ("orders", 2, 30),
        ("payments", 1, 3),
    ]
    assert (audit.group_id, audit.state, audit.total_lag) == ("audit", "empty", 90)
    # All log end offsets in one ListOffsets request.
    assert admin.calls.count("list_offsets:3") == 1


def test_partitions_without_committed_offset_or_log_end(
    source: KafkaDataSource, admin: FakeAdmin
) -> None:
    admin.groups = [ConsumerGroupListing("g", False, ConsumerGroupState.STABLE)]
    admin.committed = {
        "g": [
            TopicPartition("orders", 0, OFFSET_UNSET),  # never committed: not shown
            TopicPartition("orders", 1, 200),
            TopicPartition("gone", 0, 5),  # topic deleted: no log end offset
        ]
    }

    (group,) = source.groups().groups

    assert [(t.topic, t.partitions, t.lag, t.unknown_partitions) for t in group.topics] == [
        ("gone", 1, 0, 1),
        ("orders", 1, 50, 0),
    ]
    assert group.total_lag == 50
    assert group.unknown_partitions == 1


def test_group_failures_are_reported_per_group(source: KafkaDataSource, admin: FakeAdmin) -> None:
    admin.committed["audit"] = kafka_error(KafkaError.COORDINATOR_NOT_AVAILABLE, "No coordinator")
    # The client lists these as bare KafkaError objects, not exceptions.
    admin.group_errors = [KafkaError(KafkaError._TIMED_OUT, "Broker 2 timed out")]

    page = source.groups()

    audit = page.groups[0]
    assert (
        audit.error == "committed offsets not readable: No coordinator (COORDINATOR_NOT_AVAILABLE)"
    )
    assert audit.topics == ()
    assert page.groups[1].total_lag == 33
    assert page.errors == ("Consumer groups (ListGroups): Broker 2 timed out (_TIMED_OUT)",)


def test_groups_unreachable(source: KafkaDataSource, admin: FakeAdmin) -> None:
    admin.groups = kafka_error()
    page = source.groups()
    assert page.groups == ()
    assert page.errors == ("Consumer groups (ListGroups): Connection refused (_TRANSPORT)",)


def test_no_groups_sends_no_offset_requests(source: KafkaDataSource, admin: FakeAdmin) -> None:
    admin.groups = []
    assert source.groups().groups == ()
    assert admin.calls == ["list_consumer_groups"]


@given(committed=st.integers(-2000, 2**62), log_end=st.integers(-2000, 2**62))
def test_lag_is_never_negative(committed: int, log_end: int) -> None:
    lag = compute_lag(committed, log_end)
    if committed < 0 or log_end < 0:
        assert lag is None
    else:
        assert lag is not None
        assert lag >= 0
        assert lag == max(0, log_end - committed)


@given(
    high_watermark=st.integers(-1, 10**9),
    ends=st.lists(st.integers(-1, 10**9), min_size=1, max_size=5),
)
def test_quorum_lag_is_never_negative(high_watermark: int, ends: list[int]) -> None:
    info = replace(
        quorum_info(high_watermark=high_watermark),
        voters=tuple(ReplicaState(i, end, 0, 0) for i, end in enumerate(ends)),
    )
    for row in build_quorum_rows(info):
        assert row.lag is None or row.lag >= 0


# --------------------------------------------------------------------------- storage

LEAKS = ("LEAK-SK-1", "LEAK-AK-2", "LEAK-SENSITIVE-3", "LEAK-USERINFO-4", "LEAK-TOKEN-5")


def storage_entries() -> dict[str, ConfigEntry]:
    query = "region=oss-cn-hangzhou&endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com"
    return {
        "s3.data.buckets": ConfigEntry(
            "s3.data.buckets",
            f"0@s3://automq-prod-data?{query}&accessKey=LEAK-AK-2&secretKey=LEAK-SK-1",
        ),
        "s3.ops.buckets": ConfigEntry("s3.ops.buckets", f"1@s3://automq-prod-ops?{query}"),
        "s3.wal.path": ConfigEntry(
            "s3.wal.path", "0@s3://LEAK-USERINFO-4:x@automq-prod-data?session_token=LEAK-TOKEN-5"
        ),
        "s3.endpoint": ConfigEntry("s3.endpoint", "https://ak:LEAK-SK-1@oss.example.com/?x=1"),
        "s3.secret.key": ConfigEntry("s3.secret.key", "LEAK-SK-1"),
        "s3.region": ConfigEntry("s3.region", "LEAK-SENSITIVE-3", is_sensitive=True),
        "log.dirs": ConfigEntry("log.dirs", "/var/lib/automq"),
    }


def test_storage_settings_deployed_and_reported(source: KafkaDataSource, admin: FakeAdmin) -> None:
    admin.configs = {0: storage_entries()}

    page = source.storage()

    assert (page.region, page.data_bucket, page.ops_bucket) == (
        "cn-hangzhou",
        "automq-prod-data",
        "automq-prod-ops",
    )
    assert page.endpoint == "https://oss-cn-hangzhou-internal.aliyuncs.com"
    assert page.reported_by == 0
    reported = dict((s.name, s.value) for s in page.reported)
    assert reported["s3.data.buckets"] == (
        "0@s3://automq-prod-data?region=oss-cn-hangzhou"
        "&endpoint=https://oss-cn-hangzhou-internal.aliyuncs.com (2 other parameters not shown)"
    )
    assert reported["s3.wal.path"] == "0@s3://automq-prod-data (1 other parameter not shown)"
    assert reported["s3.endpoint"] == "https://oss.example.com/"
    assert "s3.secret.key" not in reported
    assert "s3.region" not in reported
    assert "log.dirs" not in reported
    text = repr(page)
    assert not [leak for leak in LEAKS if leak in text]
    assert page.problems == ()


def test_storage_bucket_mismatch_is_a_problem(source: KafkaDataSource, admin: FakeAdmin) -> None:
    admin.configs = {0: {"s3.ops.buckets": ConfigEntry("s3.ops.buckets", "1@s3://other-ops?x=1")}}
    page = source.storage()
    assert page.problems == (
        "broker 0 reports s3.ops.buckets with bucket(s) other-ops, but Ansible deployed "
        "automq-prod-ops",
    )


def test_storage_falls_back_to_the_next_broker(source: KafkaDataSource, admin: FakeAdmin) -> None:
    admin.configs = {0: kafka_error(), 1: {}}
    page = source.storage()
    assert page.reported_by == 1
    assert page.reported == ()
    assert page.errors == ("Broker 0 (DescribeConfigs): Connection refused (_TRANSPORT)",)


def test_storage_without_brokers_still_shows_the_deployed_settings(
    source: KafkaDataSource, admin: FakeAdmin
) -> None:
    admin.live_brokers = kafka_error()
    page = source.storage()
    assert page.data_bucket == "automq-prod-data"
    assert page.reported_by is None
    assert page.errors == ("Brokers (DescribeCluster): Connection refused (_TRANSPORT)",)


@given(
    key=st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=12),
    secret=st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), min_size=12),
)
def test_unknown_uri_parameters_never_shown(key: str, secret: str) -> None:
    value = f"0@s3://bucket-a?region=r1&{key}={secret}&endpoint=http://e.example:80"
    shown = sanitise_storage_value("s3.data.buckets", value)
    if key.lower() not in ("region", "endpoint", "pathstyle"):
        assert secret not in shown
    assert shown.startswith("0@s3://bucket-a?region=r1")


def test_unrecognised_values_are_not_shown() -> None:
    assert sanitise_storage_value("s3.bucket", "a b;c=d") == "(not shown: unrecognised format)"
    assert sanitise_storage_value("s3.endpoint", "nonsense") == "(not shown: not a URL)"
    assert sanitise_storage_value("s3.region", "oss-cn-hangzhou") == "oss-cn-hangzhou"


def test_bucket_names() -> None:
    value = "0@s3://a-bucket?region=x,1@s3://key:val@b-bucket/prefix?y=1"
    assert bucket_names(value) == ["a-bucket", "b-bucket"]
    assert bucket_names("/dev/nvme1n1") == []


def test_describe_error() -> None:
    assert describe_error(concurrent.futures.TimeoutError()) == "no answer in time"
    assert describe_error(ValueError("bad")) == "ValueError: bad"
    assert describe_error(kafka_error()) == "Connection refused (_TRANSPORT)"
    assert describe_error(KafkaError(KafkaError._TIMED_OUT)) == "Local: Timed out (_TIMED_OUT)"


def test_admin_client_satisfies_the_boundary(settings) -> None:
    """The real client is built with our settings and has every method of the boundary."""
    # Loopback, a closed port: a real client starts connecting at once, and a test
    # must not send traffic to addresses it did not create.
    loopback = settings.model_copy(update={"bootstrap_servers": ("127.0.0.1:1",)})
    real = KafkaDataSource.from_settings(loopback)
    for name in (
        "describe_cluster",
        "list_topics",
        "list_consumer_groups",
        "list_consumer_group_offsets",
        "list_offsets",
        "describe_configs",
    ):
        assert callable(getattr(real._admin, name))


@pytest.mark.parametrize(
    "states", [(ConsumerGroupState.PREPARING_REBALANCING, "preparing rebalancing")]
)
def test_group_state_names(source: KafkaDataSource, admin: FakeAdmin, states) -> None:
    state, text = states
    admin.groups = [ConsumerGroupListing("g", False, state)]
    admin.committed = {}
    assert source.groups().groups[0].state == text


# --------------------------------------------------------------------------- security


def test_plaintext_client_settings(settings) -> None:
    config = admin_client_config(settings, None)
    assert config == {
        "bootstrap.servers": "10.0.0.11:9092,10.0.0.12:9092,10.0.0.13:9092",
        "client.id": "automq-console",
        "socket.timeout.ms": 5000,
    }
    assert probe_security(settings, None) is PLAINTEXT


def test_secure_client_settings(make_settings, tmp_path) -> None:
    settings = make_settings(**secure_kafka(tmp_path))
    config = admin_client_config(settings, KAFKA_PASSWORD)
    assert {key: value for key, value in config.items() if key.startswith(("s", "b"))} == {
        "bootstrap.servers": "10.0.0.11:9092,10.0.0.12:9092,10.0.0.13:9092",
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "automq-console",
        "sasl.password": KAFKA_PASSWORD,
        "ssl.ca.location": str(tmp_path / "kafka-ca.crt"),
        "ssl.endpoint.identification.algorithm": "https",
        "socket.timeout.ms": 5000,
    }
    security = probe_security(settings, KAFKA_PASSWORD)
    assert (security.protocol, security.sasl_mechanism, security.username) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "automq-console",
    )
    assert security.ca_file == str(tmp_path / "kafka-ca.crt")
    assert security.check_hostname
    assert security.password == KAFKA_PASSWORD
    assert KAFKA_PASSWORD not in repr(security)
    with pytest.raises(ValueError, match="needs the user's password"):
        admin_client_config(settings, None)


def test_secure_overview_asks_only_the_brokers(
    make_settings, tmp_path, admin: FakeAdmin, quorum: FakeQuorum, clock: FakeClock
) -> None:
    settings = make_settings(**secure_kafka(tmp_path))
    overview = KafkaDataSource(settings, admin, quorum, clock).overview()
    assert overview.errors == ()
    assert quorum.addresses == [["10.0.0.11:9092", "10.0.0.12:9092", "10.0.0.13:9092"]]


def test_the_real_secure_source_reads_the_password_file(make_settings, tmp_path) -> None:
    settings = make_settings(**secure_kafka(tmp_path))
    # Loopback, a closed port: the real client starts connecting at once.
    loopback = settings.model_copy(update={"bootstrap_servers": ("127.0.0.1:1",)})
    real = KafkaDataSource.from_settings(loopback)
    fetcher = real._fetch_quorum
    assert fetcher.keywords["security"] == probe_security(loopback, KAFKA_PASSWORD)

    (tmp_path / "kafka.password").chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        KafkaDataSource.from_settings(loopback)
