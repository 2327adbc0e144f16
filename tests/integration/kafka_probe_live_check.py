#!/usr/bin/env python3
"""Check automq_helpers.kafka_probe against a real, running Kafka/AutoMQ cluster.

Not collected by pytest (tests/unit must not need a broker). Run it by hand:

    python3 tests/integration/kafka_probe_live_check.py \\
        --bootstrap 127.0.0.1:29092 --controller 127.0.0.1:29093 \\
        [--expect-brokers 1,2] [--expect-voters 1] \\
        [--expect-online TOPIC ...] [--expect-offline TOPIC ...]

It asserts sane answers from every probe, reports which listener answers
DescribeQuorum, and times each call both cold (new TCP connection + ApiVersions
+ the request) and warm (the request alone on an open connection).
Exit status 0 when every assertion held, 1 otherwise.
"""

# Meant to run on the cluster hosts too, so Python 3.8: typing generics, no 3.9+ APIs.
# ruff: noqa: UP006, UP035, UP045

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable, List, Optional, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python_helpers"))

from automq_helpers.kafka_probe import (
    API_API_VERSIONS,
    API_DESCRIBE_CLUSTER,
    API_DESCRIBE_QUORUM,
    API_METADATA,
    ERROR_NONE,
    METADATA_TOPIC,
    KafkaProbe,
    ProbeError,
    QuorumInfo,
    error_name,
    evaluate_quorum,
    find_offline_partitions,
)

T = TypeVar("T")
failures: List[str] = []


def check(condition: bool, message: str) -> None:
    print(("  ok   " if condition else "  FAIL ") + message)
    if not condition:
        failures.append(message)


def int_list(text: str) -> List[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def timed(label: str, address: str, call: Callable[[KafkaProbe], T], runs: int) -> T:
    """Run ``call`` cold (fresh probe each time) and warm (one probe), print medians."""
    cold: List[float] = []
    result: Optional[T] = None
    for _ in range(runs):
        start = time.perf_counter()
        with KafkaProbe.from_address(address) as probe:
            result = call(probe)
        cold.append((time.perf_counter() - start) * 1000)
    warm: List[float] = []
    with KafkaProbe.from_address(address) as probe:
        probe.api_versions()
        for _ in range(runs):
            start = time.perf_counter()
            call(probe)
            warm.append((time.perf_counter() - start) * 1000)
    print(
        f"  time {label:<28} @ {address}: cold median {statistics.median(cold):6.2f} ms "
        f"(max {max(cold):6.2f}), warm median {statistics.median(warm):6.2f} ms"
    )
    assert result is not None
    return result


def quorum_at(address: str) -> Optional[QuorumInfo]:
    try:
        with KafkaProbe.from_address(address) as probe:
            return probe.describe_quorum()
    except ProbeError as exc:
        print(f"  note DescribeQuorum @ {address} failed: {exc}")
        return None


def check_error_paths(timeout: float) -> None:
    print("== error paths")
    # A port nobody listens on.
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        closed_port = placeholder.getsockname()[1]
    start = time.perf_counter()
    try:
        KafkaProbe("127.0.0.1", closed_port, timeout).api_versions()
        check(False, "connection refused raises ProbeError")
    except ProbeError as exc:
        check(f"127.0.0.1:{closed_port}" in str(exc), f"refused: {exc}")
    print(f"  time refused: {(time.perf_counter() - start) * 1000:.1f} ms")

    # A listener that accepts and never answers: must time out on schedule.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: List[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
    thread.start()
    start = time.perf_counter()
    try:
        KafkaProbe("127.0.0.1", port, 0.5).api_versions()
        check(False, "silent peer raises ProbeError")
    except ProbeError as exc:
        elapsed = time.perf_counter() - start
        check(
            "timed out" in str(exc) and 0.4 < elapsed < 1.5, f"silent peer ({elapsed:.2f}s): {exc}"
        )
    finally:
        thread.join(1)
        for conn in accepted:
            conn.close()
        server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="broker listener host:port")
    parser.add_argument("--controller", required=True, help="controller listener host:port")
    parser.add_argument("--expect-brokers", type=int_list, help="exact unfenced broker ids")
    parser.add_argument("--expect-voters", type=int_list, help="exact voter ids")
    parser.add_argument("--expect-online", nargs="*", default=[], help="topics fully online")
    parser.add_argument("--expect-offline", nargs="*", default=[], help="topics fully offline")
    parser.add_argument("--max-lag", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20, help="timed repetitions per call")
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    boot, ctrl = args.bootstrap, args.controller

    print("== ApiVersions v0")
    versions = {}
    for label, address in (("broker", boot), ("controller", ctrl)):
        result = timed("ApiVersions v0", address, lambda p: p.api_versions(True), args.runs)
        versions[label] = result
        check(result.error_code == ERROR_NONE, f"{label} ApiVersions error code 0")
        check(result.version_range(API_API_VERSIONS) is not None, f"{label} lists ApiVersions")
        dq = result.version_range(API_DESCRIBE_QUORUM)
        print(f"  info {label} {address}: {len(result.api_keys)} APIs, DescribeQuorum {dq}")
    for key in (API_METADATA, API_DESCRIBE_QUORUM, API_DESCRIBE_CLUSTER):
        check(versions["broker"].version_range(key) is not None, f"broker serves API key {key}")
    check(
        versions["controller"].version_range(API_METADATA) is None,
        "controller listener does not list Metadata",
    )

    print("== DescribeQuorum v1")
    at_controller = quorum_at(ctrl)
    at_broker = quorum_at(boot)
    for label, info in (("controller", at_controller), ("broker", at_broker)):
        if info is None:
            continue
        print(
            f"  info via {label} listener: error {error_name(info.error_code)}/"
            f"{error_name(info.partition_error_code)}, leader {info.leader_id} "
            f"epoch {info.leader_epoch} hw {info.high_watermark}, "
            f"voters {[(v.replica_id, v.log_end_offset) for v in info.voters]}, "
            f"observers {[(o.replica_id, o.log_end_offset) for o in info.observers]}"
        )
    usable = [
        i
        for i in (at_controller, at_broker)
        if i is not None and i.error_code == ERROR_NONE and i.partition_error_code == ERROR_NONE
    ]
    check(bool(usable), "DescribeQuorum answered without error on some listener")
    check(
        at_broker is not None and at_broker.partition_error_code == ERROR_NONE,
        "broker listener answers DescribeQuorum (forwarded to the active controller)",
    )
    if at_controller is not None and at_controller.partition_error_code != ERROR_NONE:
        print(f"  note controller {ctrl} is not the quorum leader (follower controllers refuse)")
    for info in usable:
        check(
            info.topic == METADATA_TOPIC and info.partition == 0, "answer is for the metadata log"
        )
        check(info.leader_id >= 0 and info.leader_epoch >= 0, f"leader elected: {info.leader_id}")
        check(info.high_watermark > 0, f"high watermark positive: {info.high_watermark}")
        expected = args.expect_voters or [v.replica_id for v in info.voters]
        verdict = evaluate_quorum(info, expected, args.max_lag)
        check(verdict.healthy, f"verdict healthy for voters {expected}: {list(verdict.problems)}")
    if len(usable) == 2:
        check(
            usable[0].leader_id == usable[1].leader_id
            and usable[0].leader_epoch == usable[1].leader_epoch,
            "both listeners agree on leader and epoch",
        )
    timed("DescribeQuorum v1", ctrl, lambda p: p.describe_quorum(), args.runs)
    timed("DescribeQuorum v1", boot, lambda p: p.describe_quorum(), args.runs)

    print("== DescribeCluster v0")
    cluster = timed("DescribeCluster v0", boot, lambda p: p.describe_cluster(), args.runs)
    print(f"  info {cluster}")
    check(cluster.error_code == ERROR_NONE, "DescribeCluster error code 0")
    check(
        len(cluster.cluster_id) == 22, f"cluster id looks like a Kafka Uuid: {cluster.cluster_id}"
    )
    check(cluster.controller_id >= 0, f"controller id reported: {cluster.controller_id}")
    boot_port = int(boot.rsplit(":", 1)[1])
    check(any(b.port == boot_port for b in cluster.brokers), "bootstrap broker lists itself")
    broker_ids = [b.node_id for b in cluster.brokers]
    if args.expect_brokers is not None:
        check(sorted(args.expect_brokers) == broker_ids, f"unfenced brokers {broker_ids}")
    with KafkaProbe.from_address(ctrl) as probe:
        at_ctrl = probe.describe_cluster()
    print(
        f"  info DescribeCluster v0 @ controller: {error_name(at_ctrl.error_code)} "
        f"{at_ctrl.error_message!r}"
    )

    print("== Metadata")
    metadata = timed("Metadata (all topics)", boot, lambda p: p.metadata(), args.runs)
    offline = find_offline_partitions(metadata)
    print(f"  info {len(metadata.topics)} topics, offline: {offline}")
    check(metadata.cluster_id == cluster.cluster_id, "Metadata and DescribeCluster agree on id")
    check(
        [b.node_id for b in metadata.brokers] == broker_ids,
        f"Metadata brokers {[b.node_id for b in metadata.brokers]} == DescribeCluster's",
    )
    names = {t.name: t for t in metadata.topics}
    offline_by_topic = {(o.topic, o.partition) for o in offline}
    for topic in args.expect_online:
        check(topic in names, f"topic {topic} exists")
        if topic in names:
            bad = [
                p.partition
                for p in names[topic].partitions
                if (topic, p.partition) in offline_by_topic
            ]
            check(not bad, f"topic {topic} fully online (offline partitions: {bad})")
    for topic in args.expect_offline:
        check(topic in names, f"topic {topic} exists")
        if topic in names:
            parts = names[topic].partitions
            check(
                bool(parts) and all((topic, p.partition) in offline_by_topic for p in parts),
                f"topic {topic} fully offline",
            )
    try:
        with KafkaProbe.from_address(ctrl) as probe:
            probe.metadata()
        check(False, "Metadata at the controller listener is refused by negotiation")
    except ProbeError as exc:
        check("does not serve Metadata" in str(exc), f"controller Metadata refused: {exc}")

    check_error_paths(args.timeout)

    print(f"== {'FAILED: ' + str(len(failures)) if failures else 'all checks passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
