"""The console's data layer: what each page shows, read from the cluster.

Two boundaries lead out of the process, and tests fake exactly these:

* :class:`AdminApi`, the part of ``confluent_kafka.admin.AdminClient`` used here
  (DescribeCluster, Metadata, ListGroups, OffsetFetch, ListOffsets,
  DescribeConfigs), called as the real client is and answering with the real
  client's result types;
* :data:`QuorumFetcher`, ``describe_quorum_from_any`` of
  :mod:`automq_helpers.kafka_probe` (DescribeQuorum v1 over the wire protocol;
  the admin client does not expose it).

Both speak the cluster's security protocol (``Settings.kafka_security``): on a
secure cluster SASL_SSL with SCRAM as the console's read-only user, trusting the
cluster CA and checking the brokers' names; the quorum is then read through the
brokers' CLIENT listener, which forwards DescribeQuorum to the active controller.

The pages never see a raw answer: each method returns small frozen dataclasses
holding only the fields a page shows.  Failures to reach the cluster are
returned as messages in ``errors`` (a down broker makes a page show red, not
fail); each page also says when its data was fetched.

Node versions come from the node list Ansible wrote (the *installed* version):
the Kafka protocol does not tell a server's version.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException, TopicPartition

# Public names of confluent_kafka.admin, imported there without an explicit re-export.
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ClusterMetadata,
    ConfigResource,
    OffsetSpec,
    ResourceType,
)

from automq_helpers.kafka_probe import (
    PLAINTEXT,
    ProbeError,
    QuorumInfo,
    SecurityConfig,
    describe_quorum_from_any,
    evaluate_quorum,
)

from .config import Settings, read_kafka_password

LOG = logging.getLogger(__name__)

# --------------------------------------------------------------------------- boundaries


class AdminApi(Protocol):
    """The subset of ``confluent_kafka.admin.AdminClient`` the console uses (read-only)."""

    def describe_cluster(self, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """The cluster's ID, controller and brokers."""

    def list_topics(self, *args: Any, **kwargs: Any) -> ClusterMetadata:
        """Topics and partitions with their leaders and replicas."""

    def list_consumer_groups(self, **kwargs: Any) -> concurrent.futures.Future[Any]:
        """The consumer groups and their states."""

    def list_consumer_group_offsets(
        self, list_consumer_group_offsets_request: list[ConsumerGroupTopicPartitions], **kwargs: Any
    ) -> dict[str, concurrent.futures.Future[Any]]:
        """Each group's committed offsets."""

    def list_offsets(
        self, topic_partition_offsets: dict[TopicPartition, OffsetSpec], **kwargs: Any
    ) -> dict[TopicPartition, concurrent.futures.Future[Any]]:
        """Partitions' offsets (the latest, for lag)."""

    def describe_configs(
        self, resources: list[ConfigResource], **kwargs: Any
    ) -> dict[ConfigResource, concurrent.futures.Future[Any]]:
        """Configurations of brokers or topics."""


# (quorum addresses, timeout in seconds) -> the quorum; raises ProbeError.
QuorumFetcher = Callable[[Sequence[str], float], QuorumInfo]


class ConsoleData(Protocol):
    """What the web application needs; :class:`KafkaDataSource` is the real one."""

    def overview(self) -> Overview:
        """The cluster page."""

    def topics(self) -> TopicsPage:
        """The topics page."""

    def groups(self) -> GroupsPage:
        """The consumer groups page."""

    def storage(self) -> StoragePage:
        """The object storage page."""


# --------------------------------------------------------------------------- page models

State = Literal["ok", "warning", "problem", "unknown"]


@dataclass(frozen=True)
class Fetch:
    """When a page's data was read, and how long that took."""

    fetched_at: datetime
    elapsed_ms: float


@dataclass(frozen=True)
class NodeRow:
    node_id: int
    host: str  # inventory host name; "" for a node Ansible does not know
    advertised_host: str
    roles: tuple[str, ...]
    installed_version: str  # from Ansible's node list; "" when unknown
    broker_state: str  # "" when the node is no broker
    controller_state: str  # "" when the node is no controller
    state: State
    state_text: str
    in_inventory: bool = True


@dataclass(frozen=True)
class QuorumRow:
    replica_id: int
    kind: Literal["voter", "observer"]
    is_leader: bool
    log_end_offset: int | None
    lag: int | None  # high watermark - log end offset, never negative
    caught_up_ms_ago: int | None  # by the leader's clock


@dataclass(frozen=True)
class Overview:
    fetch: Fetch
    cluster_name: str
    cluster_id: str | None
    nodes: tuple[NodeRow, ...]
    leader_id: int | None
    leader_epoch: int | None
    high_watermark: int | None
    expected_voters: tuple[int, ...]
    quorum: tuple[QuorumRow, ...]
    problems: tuple[str, ...]  # the cluster answered, and something is wrong
    errors: tuple[str, ...]  # the cluster could not be read


@dataclass(frozen=True)
class TopicRow:
    name: str
    partitions: int
    replication_factor: int
    internal: bool
    offline_partitions: int
    under_replicated_partitions: int
    error: str | None


@dataclass(frozen=True)
class TopicsPage:
    fetch: Fetch
    topics: tuple[TopicRow, ...]
    errors: tuple[str, ...]


@dataclass(frozen=True)
class GroupTopicLag:
    topic: str
    partitions: int  # partitions with a committed offset
    lag: int  # sum over the partitions whose lag is known
    unknown_partitions: int  # log end offset could not be read


@dataclass(frozen=True)
class GroupRow:
    group_id: str
    state: str
    topics: tuple[GroupTopicLag, ...]
    total_lag: int
    unknown_partitions: int
    error: str | None


@dataclass(frozen=True)
class GroupsPage:
    fetch: Fetch
    groups: tuple[GroupRow, ...]
    errors: tuple[str, ...]


@dataclass(frozen=True)
class StorageSetting:
    name: str
    value: str


@dataclass(frozen=True)
class StoragePage:
    fetch: Fetch
    region: str
    endpoint: str
    data_bucket: str
    ops_bucket: str
    reported_by: int | None  # broker whose DescribeConfigs answered
    reported: tuple[StorageSetting, ...]
    problems: tuple[str, ...]
    errors: tuple[str, ...]


# --------------------------------------------------------------------------- pure helpers

OFFSET_UNSET = -1001
_LATEST: OffsetSpec = OffsetSpec.latest()  # type: ignore[no-untyped-call]  # librdkafka's OFFSET_INVALID: no committed offset


def compute_lag(committed: int, log_end: int) -> int | None:
    """Consumer lag of one partition, or None when either offset is unknown (< 0).

    Never negative: a committed offset past the log end offset read a moment
    earlier counts as caught up.
    """
    if committed < 0 or log_end < 0:
        return None
    return max(0, log_end - committed)


def describe_error(exc: BaseException | KafkaError) -> str:
    """A one-line message for a Kafka client failure.

    The client raises KafkaException(KafkaError), but lists some errors (those of
    ListConsumerGroupsResult) as bare KafkaError objects.
    """
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        exc = exc.args[0]
    if isinstance(exc, KafkaError):
        return f"{exc.str()} ({exc.name()})"
    if isinstance(exc, concurrent.futures.TimeoutError):
        return "no answer in time"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_CLIENT_ERRORS = (
    KafkaException,
    concurrent.futures.TimeoutError,
    concurrent.futures.CancelledError,
    ValueError,  # the client refuses a request, e.g. an empty one
)

# AutoMQ settings that say where the data lives.  Only these are shown, and only
# after dropping everything in their values that is not known to be harmless.
STORAGE_CONFIG_KEYS = (
    "s3.data.buckets",
    "s3.ops.buckets",
    "s3.wal.path",
    "s3.region",
    "s3.endpoint",
    "s3.bucket",
)
_BUCKET_URI_KEYS = frozenset({"s3.data.buckets", "s3.ops.buckets", "s3.wal.path"})
_SAFE_URI_PARAMS = frozenset({"region", "endpoint", "pathstyle"})
_BUCKET_URI_RE = re.compile(r"^(?P<id>\d+@)?(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)?(?P<rest>.*)$")


def _sanitise_url(value: str) -> str:
    """An endpoint URL without user info, query or fragment."""
    parts = urlsplit(value.strip())
    if not parts.scheme or not parts.hostname:
        return "(not shown: not a URL)"
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _sanitise_bucket_uri(value: str) -> str:
    """``0@s3://bucket?region=..&endpoint=..``, keeping only known-harmless parameters."""
    location, _separator, query = value.strip().partition("?")
    match = _BUCKET_URI_RE.match(location)
    if match is None:  # pragma: no cover - the pattern matches any string
        return "(not shown: unrecognised format)"
    rest = match["rest"]
    if "@" in rest:  # user info before the bucket name: drop it
        rest = rest.rsplit("@", 1)[1]
    shown = f"{match['id'] or ''}{match['scheme'] or ''}{rest}"
    kept: list[str] = []
    hidden = 0
    for key, param in parse_qsl(query, keep_blank_values=True):
        if key.lower() not in _SAFE_URI_PARAMS:
            hidden += 1
        elif key.lower() == "endpoint":
            kept.append(f"{key}={_sanitise_url(param)}")
        else:
            kept.append(f"{key}={param}")
    if kept:
        shown += "?" + "&".join(kept)
    if hidden:
        shown += f" ({hidden} other parameter{'s' if hidden > 1 else ''} not shown)"
    return shown


def sanitise_storage_value(name: str, value: str) -> str:
    """The displayable form of one of :data:`STORAGE_CONFIG_KEYS`."""
    if name in _BUCKET_URI_KEYS:
        return ", ".join(_sanitise_bucket_uri(part) for part in value.split(",") if part.strip())
    if name == "s3.endpoint":
        return _sanitise_url(value)
    if re.fullmatch(r"[A-Za-z0-9._-]{0,100}", value):  # region, bucket name
        return value
    return "(not shown: unrecognised format)"


def bucket_names(value: str) -> list[str]:
    """Bucket names in a (sanitised or raw) ``s3.*.buckets`` value."""
    names = []
    for part in value.split(","):
        location = part.strip().partition("?")[0].partition(" ")[0]
        match = _BUCKET_URI_RE.match(location)
        if match and match["scheme"]:
            names.append(match["rest"].rsplit("@", 1)[-1].split("/")[0])
    return names


# --------------------------------------------------------------------------- node state


def _broker_state(node_id: int, live: dict[int, Any] | None) -> tuple[str, State]:
    if live is None:
        return "unknown (cluster not readable)", "unknown"
    if node_id in live:
        return "registered, unfenced", "ok"
    return "not registered or fenced", "problem"


def _controller_state(
    node_id: int,
    quorum: QuorumInfo | None,
    lag: dict[int, int],
    lagging: tuple[int, ...],
) -> tuple[str, State]:
    if quorum is None:
        return "unknown (quorum not readable)", "unknown"
    voters = {v.replica_id for v in quorum.voters}
    if node_id not in voters:
        return "not a quorum voter", "problem"
    if node_id == quorum.leader_id:
        return "quorum leader", "ok"
    if node_id in lagging:
        shown = f"lag {lag[node_id]}" if node_id in lag else "log end offset unknown"
        return f"follower, lagging ({shown})", "problem"
    return f"follower, lag {lag.get(node_id, 0)}", "ok"


_STATE_RANK: dict[State, int] = {"ok": 0, "unknown": 1, "warning": 2, "problem": 3}


def _combine(states: Iterable[State]) -> State:
    return max(states, key=lambda s: _STATE_RANK[s], default="ok")


_STATE_TEXT: dict[State, str] = {
    "ok": "up",
    "unknown": "not confirmed",
    "warning": "check",
    "problem": "down or unhealthy",
}


def build_node_rows(
    settings: Settings,
    live: dict[int, Any] | None,
    quorum: QuorumInfo | None,
    voter_lag: dict[int, int],
    lagging: tuple[int, ...],
) -> tuple[NodeRow, ...]:
    """One row per node Ansible deployed, plus any node the cluster reports beyond those."""
    rows = []
    for node in sorted(settings.nodes, key=lambda n: n.node_id):
        broker_text, broker = _broker_state(node.node_id, live) if node.is_broker else ("", "ok")
        controller_text, controller = (
            _controller_state(node.node_id, quorum, voter_lag, lagging)
            if node.is_controller
            else ("", "ok")
        )
        state: State = _combine((broker, controller))
        rows.append(
            NodeRow(
                node_id=node.node_id,
                host=node.host,
                advertised_host=node.advertised_host,
                roles=tuple(sorted(node.roles)),
                installed_version=node.installed_version,
                broker_state=broker_text,
                controller_state=controller_text,
                state=state,
                state_text=_STATE_TEXT[state],
            )
        )
    known = {node.node_id for node in settings.nodes}
    seen: dict[int, set[str]] = {}
    for node_id in live or {}:
        seen.setdefault(node_id, set()).add("broker")
    if quorum is not None:
        for voter in quorum.voters:
            seen.setdefault(voter.replica_id, set()).add("controller")
        for observer in quorum.observers:
            seen.setdefault(observer.replica_id, set()).add("broker")
    for node_id in sorted(set(seen) - known):
        roles = tuple(sorted(seen[node_id]))
        broker_node = (live or {}).get(node_id)
        rows.append(
            NodeRow(
                node_id=node_id,
                host="",
                advertised_host=str(getattr(broker_node, "host", "") or ""),
                roles=roles,
                installed_version="",
                broker_state=_broker_state(node_id, live)[0] if "broker" in roles else "",
                controller_state=(
                    _controller_state(node_id, quorum, voter_lag, lagging)[0]
                    if "controller" in roles
                    else ""
                ),
                state="warning",
                state_text="not in the Ansible node list",
                in_inventory=False,
            )
        )
    return tuple(rows)


def build_quorum_rows(quorum: QuorumInfo) -> tuple[QuorumRow, ...]:
    leader_caught_up = next(
        (v.last_caught_up_timestamp for v in quorum.voters if v.replica_id == quorum.leader_id),
        -1,
    )
    rows = []
    for kind, replicas in (("voter", quorum.voters), ("observer", quorum.observers)):
        for replica in sorted(replicas, key=lambda r: r.replica_id):
            leo = replica.log_end_offset if replica.log_end_offset >= 0 else None
            lag = None
            if leo is not None and quorum.high_watermark >= 0:
                lag = max(0, quorum.high_watermark - leo)
            age = None
            if leader_caught_up >= 0 and replica.last_caught_up_timestamp >= 0:
                age = max(0, leader_caught_up - replica.last_caught_up_timestamp)
            rows.append(
                QuorumRow(
                    replica_id=replica.replica_id,
                    kind="voter" if kind == "voter" else "observer",
                    is_leader=replica.replica_id == quorum.leader_id,
                    log_end_offset=leo,
                    lag=lag,
                    caught_up_ms_ago=age,
                )
            )
    return tuple(rows)


# --------------------------------------------------------------------------- client settings


def admin_client_config(settings: Settings, password: str | None) -> dict[str, Any]:
    """The confluent-kafka AdminClient settings: the brokers, and on a secure cluster
    SASL_SSL as the console's user, trusting the cluster CA and checking host names."""
    config: dict[str, Any] = {
        "bootstrap.servers": ",".join(settings.bootstrap_servers),
        "client.id": "automq-console",
        "socket.timeout.ms": int(settings.kafka_timeout_seconds * 1000),
    }
    security = settings.kafka_security
    if security.is_secure:
        if not password:
            raise ValueError("kafka_security SASL_SSL needs the user's password")
        config.update(
            {
                "security.protocol": "SASL_SSL",
                "sasl.mechanisms": security.mechanism,
                "sasl.username": security.username,
                "sasl.password": password,
                "ssl.ca.location": str(security.ca_file),
                "ssl.endpoint.identification.algorithm": "https",
            }
        )
    return config


def probe_security(settings: Settings, password: str | None) -> SecurityConfig:
    """The same for the wire-protocol probe (DescribeQuorum)."""
    security = settings.kafka_security
    if not security.is_secure:
        return PLAINTEXT
    return SecurityConfig(
        protocol="SASL_SSL",
        ca_file=str(security.ca_file),
        check_hostname=True,
        sasl_mechanism=security.mechanism,
        username=security.username,
        password=password,
    )


# --------------------------------------------------------------------------- the source


def _now_utc(clock: Callable[[], float]) -> datetime:
    return datetime.fromtimestamp(clock(), tz=UTC)


class KafkaDataSource:
    """Reads every page's data from the cluster; never raises for an unreachable cluster."""

    def __init__(
        self,
        settings: Settings,
        admin: AdminApi,
        quorum_fetcher: QuorumFetcher = describe_quorum_from_any,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._admin = admin
        self._fetch_quorum = quorum_fetcher
        self._clock = clock
        self._timeout = settings.kafka_timeout_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaDataSource:
        """The real thing: a confluent-kafka AdminClient and the wire-protocol probe,
        with the user's password read from its file (ConfigError if it cannot be)."""
        password_file = settings.kafka_security.password_file
        password = read_kafka_password(password_file) if password_file is not None else None
        admin = AdminClient(admin_client_config(settings, password))
        # librdkafka logs to stderr (the journal under systemd); a Python logger
        # would only receive them from poll(), which nothing calls here.
        fetcher = functools.partial(
            describe_quorum_from_any, security=probe_security(settings, password)
        )
        return cls(settings, admin, fetcher)

    # -- helpers

    def _start(self) -> tuple[datetime, float]:
        return _now_utc(self._clock), time.monotonic()

    @staticmethod
    def _fetch(started: tuple[datetime, float]) -> Fetch:
        return Fetch(started[0], round((time.monotonic() - started[1]) * 1000, 1))

    def _wait(self, future: concurrent.futures.Future[Any]) -> Any:
        return future.result(timeout=self._timeout + 1)

    def _quorum_addresses(self) -> list[str]:
        # Controllers first (only the leader answers there; plaintext clusters
        # only), then brokers, which forward DescribeQuorum to the active controller.
        addresses = list(self._settings.controller_quorum_bootstrap_servers)
        addresses += [a for a in self._settings.bootstrap_servers if a not in addresses]
        return addresses

    def _live_brokers(self) -> tuple[dict[int, Any] | None, str | None, str | None]:
        """(node id -> Node of the registered unfenced brokers, cluster id, error)."""
        try:
            future = self._admin.describe_cluster(request_timeout=self._timeout)
            result = self._wait(future)
        except _CLIENT_ERRORS as exc:
            return None, None, f"Brokers (DescribeCluster): {describe_error(exc)}"
        return {node.id: node for node in result.nodes}, result.cluster_id, None

    # -- pages

    def overview(self) -> Overview:
        started = self._start()
        errors: list[str] = []
        problems: list[str] = []
        try:
            cluster_future: concurrent.futures.Future[Any] | None = self._admin.describe_cluster(
                request_timeout=self._timeout
            )
        except _CLIENT_ERRORS as exc:
            cluster_future = None
            errors.append(f"Brokers (DescribeCluster): {describe_error(exc)}")

        quorum: QuorumInfo | None = None
        try:
            quorum = self._fetch_quorum(self._quorum_addresses(), self._timeout)
        except (ProbeError, ValueError) as exc:
            errors.append(f"Controller quorum (DescribeQuorum): {exc}")

        live: dict[int, Any] | None = None
        cluster_id: str | None = None
        if cluster_future is not None:
            try:
                result = self._wait(cluster_future)
                live = {node.id: node for node in result.nodes}
                cluster_id = result.cluster_id
            except _CLIENT_ERRORS as exc:
                errors.append(f"Brokers (DescribeCluster): {describe_error(exc)}")

        voter_lag: dict[int, int] = {}
        lagging: tuple[int, ...] = ()
        quorum_rows: tuple[QuorumRow, ...] = ()
        if quorum is not None:
            verdict = evaluate_quorum(
                quorum, self._settings.voter_ids, self._settings.max_voter_lag
            )
            voter_lag = dict(verdict.voter_lag)
            lagging = verdict.lagging_voters
            problems.extend(f"Controller quorum: {p}" for p in verdict.problems)
            quorum_rows = build_quorum_rows(quorum)

        nodes = build_node_rows(self._settings, live, quorum, voter_lag, lagging)
        problems.extend(
            f"Node {row.node_id} ({row.host}): "
            + "; ".join(t for t in (row.broker_state, row.controller_state) if t)
            for row in nodes
            if row.state == "problem"
        )
        return Overview(
            fetch=self._fetch(started),
            cluster_name=self._settings.cluster_name,
            cluster_id=cluster_id,
            nodes=nodes,
            leader_id=quorum.leader_id if quorum is not None and quorum.leader_id >= 0 else None,
            leader_epoch=quorum.leader_epoch if quorum is not None else None,
            high_watermark=quorum.high_watermark if quorum is not None else None,
            expected_voters=self._settings.voter_ids,
            quorum=quorum_rows,
            problems=tuple(problems),
            errors=tuple(errors),
        )

    def topics(self) -> TopicsPage:
        started = self._start()
        try:
            metadata = self._admin.list_topics(timeout=self._timeout)
        except _CLIENT_ERRORS as exc:
            return TopicsPage(
                self._fetch(started), (), (f"Topics (Metadata): {describe_error(exc)}",)
            )
        rows = []
        for name, topic in sorted(metadata.topics.items()):
            partitions = list(topic.partitions.values())
            rows.append(
                TopicRow(
                    name=name,
                    partitions=len(partitions),
                    replication_factor=max((len(p.replicas) for p in partitions), default=0),
                    internal=name.startswith("__"),
                    offline_partitions=sum(
                        1
                        for p in partitions
                        if p.leader < 0
                        or (
                            p.error is not None
                            and p.error.code() == KafkaError.LEADER_NOT_AVAILABLE
                        )
                    ),
                    under_replicated_partitions=sum(
                        1 for p in partitions if len(p.isrs) < len(p.replicas)
                    ),
                    error=None if topic.error is None else f"{topic.error.str()}",
                )
            )
        return TopicsPage(self._fetch(started), tuple(rows), ())

    def groups(self) -> GroupsPage:
        started = self._start()
        errors: list[str] = []
        try:
            listed = self._wait(self._admin.list_consumer_groups(request_timeout=self._timeout))
        except _CLIENT_ERRORS as exc:
            return GroupsPage(
                self._fetch(started), (), (f"Consumer groups (ListGroups): {describe_error(exc)}",)
            )
        errors.extend(
            f"Consumer groups (ListGroups): {describe_error(e)}" for e in listed.errors or []
        )
        listings = sorted(listed.valid or [], key=lambda g: g.group_id)

        # Committed offsets: one request per group (the client's limit), all in flight at once.
        offset_futures: dict[str, concurrent.futures.Future[Any] | BaseException] = {}
        for listing in listings:
            try:
                futures = self._admin.list_consumer_group_offsets(
                    [ConsumerGroupTopicPartitions(listing.group_id)],
                    request_timeout=self._timeout,
                )
                offset_futures[listing.group_id] = futures[listing.group_id]
            except _CLIENT_ERRORS as exc:
                offset_futures[listing.group_id] = exc
        committed: dict[str, list[TopicPartition]] = {}
        group_errors: dict[str, str] = {}
        for group_id, pending in offset_futures.items():
            try:
                if isinstance(pending, BaseException):
                    raise pending
                result = self._wait(pending)
                committed[group_id] = list(result.topic_partitions or [])
            except _CLIENT_ERRORS as exc:
                group_errors[group_id] = f"committed offsets not readable: {describe_error(exc)}"

        # Log end offsets of every partition with a committed offset, in one request.
        wanted = sorted(
            {
                (tp.topic, tp.partition)
                for tps in committed.values()
                for tp in tps
                if tp.offset >= 0 and tp.error is None
            }
        )
        log_end: dict[tuple[str, int], int] = {}
        if wanted:
            try:
                end_futures = self._admin.list_offsets(
                    {TopicPartition(t, p): _LATEST for t, p in wanted},
                    request_timeout=self._timeout,
                )
                for tp, future in end_futures.items():
                    try:
                        log_end[(tp.topic, tp.partition)] = self._wait(future).offset
                    except _CLIENT_ERRORS as exc:
                        LOG.info("no log end offset for %s-%s: %s", tp.topic, tp.partition, exc)
            except _CLIENT_ERRORS as exc:
                errors.append(f"Log end offsets (ListOffsets): {describe_error(exc)}")

        rows = []
        for listing in listings:
            state = getattr(listing, "state", None)
            state_name = str(getattr(state, "name", "UNKNOWN")).replace("_", " ").lower()
            per_topic: dict[str, list[int | None]] = {}
            for tp in committed.get(listing.group_id, []):
                if tp.offset == OFFSET_UNSET:
                    continue
                lag = None
                if tp.error is None:
                    lag = compute_lag(tp.offset, log_end.get((tp.topic, tp.partition), -1))
                per_topic.setdefault(tp.topic, []).append(lag)
            topics = tuple(
                GroupTopicLag(
                    topic=topic,
                    partitions=len(lags),
                    lag=sum(v for v in lags if v is not None),
                    unknown_partitions=sum(1 for v in lags if v is None),
                )
                for topic, lags in sorted(per_topic.items())
            )
            rows.append(
                GroupRow(
                    group_id=listing.group_id,
                    state=state_name,
                    topics=topics,
                    total_lag=sum(t.lag for t in topics),
                    unknown_partitions=sum(t.unknown_partitions for t in topics),
                    error=group_errors.get(listing.group_id),
                )
            )
        return GroupsPage(self._fetch(started), tuple(rows), tuple(errors))

    def storage(self) -> StoragePage:
        started = self._start()
        oss = self._settings.oss
        errors: list[str] = []
        problems: list[str] = []
        reported: list[StorageSetting] = []
        reported_by: int | None = None
        live, _cluster_id, error = self._live_brokers()
        if error:
            errors.append(error)
        for broker_id in sorted(live or {})[:2]:
            resource = ConfigResource(ResourceType.BROKER, str(broker_id))
            try:
                futures = self._admin.describe_configs([resource], request_timeout=self._timeout)
                entries = self._wait(next(iter(futures.values())))
            except _CLIENT_ERRORS as exc:
                errors.append(f"Broker {broker_id} (DescribeConfigs): {describe_error(exc)}")
                continue
            reported_by = broker_id
            for name in STORAGE_CONFIG_KEYS:
                entry = entries.get(name)
                if entry is None or entry.is_sensitive or entry.value is None:
                    continue
                reported.append(StorageSetting(name, sanitise_storage_value(name, entry.value)))
            break
        for setting in reported:
            if setting.name in ("s3.data.buckets", "s3.ops.buckets"):
                deployed = oss.data_bucket if setting.name == "s3.data.buckets" else oss.ops_bucket
                names = bucket_names(setting.value)
                if names and deployed not in names:
                    problems.append(
                        f"broker {reported_by} reports {setting.name} with bucket(s) "
                        f"{', '.join(names)}, but Ansible deployed {deployed}"
                    )
        return StoragePage(
            fetch=self._fetch(started),
            region=oss.region,
            endpoint=oss.endpoint,
            data_bucket=oss.data_bucket,
            ops_bucket=oss.ops_bucket,
            reported_by=reported_by,
            reported=tuple(reported),
            problems=tuple(problems),
            errors=tuple(errors),
        )
