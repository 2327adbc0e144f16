"""certificate_reload: when a node counts as serving its renewed certificate, what it
asks, and the records it leaves.  The real node is in
tests/integration/test_certificate_reload.py."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from automq_helpers.certificate_reload import (
    Endpoint,
    certificate_der,
    reload_certificate,
    restart_due,
    settle_records,
)
from automq_helpers.kafka_admin import AdminError
from automq_helpers.kafka_probe import ProbeError
from automq_helpers.node_files import parse_restart_due

OLD, NEW = b"old certificate", b"new certificate"
ENDPOINTS = [Endpoint("node-1", 9092), Endpoint("node-1", 9094), Endpoint("node-1", 9093)]


class Node:
    """Serves OLD on every endpoint until it reloads; ``refuse`` keeps some on OLD."""

    def __init__(self, served: bytes = OLD, refuse: tuple[int, ...] = (), lag: int = 0) -> None:
        self.served = {endpoint.port: served for endpoint in ENDPOINTS}
        self.refuse = refuse
        self.lag = lag  # surveys until the reload shows
        self.requests = 0
        self.down: set[int] = set()

    def serve(self, endpoint: Endpoint) -> bytes:
        if endpoint.port in self.down:
            raise ProbeError(f"{endpoint.address}: connect failed")
        if self.requests and self.lag:
            self.lag -= 1
            return OLD
        return self.served[endpoint.port]

    def request(self) -> None:
        self.requests += 1
        for port in self.served:
            if port not in self.refuse:
                self.served[port] = NEW


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def reload(node: Node, wait: float = 5.0) -> object:
    clock = Clock()
    return reload_certificate(
        NEW, ENDPOINTS, node.serve, node.request, wait, 0.5, clock, clock.sleep
    )


def test_a_node_serving_the_certificate_already_is_not_asked() -> None:
    node = Node(served=NEW)
    outcome = reload(node)
    assert (outcome.reloaded, outcome.requested, node.requests) == (True, False, 0)


def test_the_reload_is_asked_once_and_polled_until_every_listener_serves_it() -> None:
    node = Node(lag=4)
    outcome = reload(node)
    assert (outcome.reloaded, outcome.requested, node.requests) == (True, True, 1)
    assert len(set(outcome.served.values())) == 1


def test_a_listener_left_on_the_old_certificate_means_a_restart() -> None:
    node = Node(refuse=(9093,))
    outcome = reload(node, wait=3.0)
    assert (outcome.reloaded, outcome.requested, node.requests) == (False, True, 1)
    assert "node-1:9093 still serve(s) another certificate" in outcome.reason
    assert "node-1:9092" not in outcome.reason


def test_an_unreachable_listener_is_not_a_reload() -> None:
    node = Node()
    node.down.add(9092)
    outcome = reload(node, wait=1.0)
    assert outcome.reloaded is False
    assert outcome.served["node-1:9092"] == "node-1:9092: connect failed"


def test_a_refused_request_means_a_restart() -> None:
    node = Node()

    def refuse() -> None:
        raise AdminError(
            "node-1:9094: IncrementalAlterConfigs v1 failed: INVALID_REQUEST", 42, None
        )

    clock = Clock()
    outcome = reload_certificate(NEW, ENDPOINTS, node.serve, refuse, 5.0, 0.5, clock, clock.sleep)
    assert (outcome.reloaded, outcome.requested) == (False, False)
    assert "the reload request failed" in outcome.reason


def test_no_endpoint_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="no endpoint"):
        reload_certificate(NEW, [], Node().serve, Node().request, 1.0)


def test_restart_due_is_the_margin_before_the_previous_expiry() -> None:
    assert restart_due("20271105120000Z", 7) == datetime.datetime(
        2027, 10, 29, 12, 0, tzinfo=datetime.UTC
    )
    with pytest.raises(ValueError, match="does not match format"):
        restart_due("2027-11-05", 7)


def test_settling_keeps_the_earlier_due_time_and_drops_the_restart_record(tmp_path: Path) -> None:
    record, due_record = tmp_path / "restart-pending", tmp_path / "restart-due"
    record.write_text("pending\n")
    first = datetime.datetime(2027, 10, 29, 12, 0, tzinfo=datetime.UTC)
    assert settle_records(str(record), str(due_record), first, "why") == first
    assert not record.exists()
    assert parse_restart_due(due_record.read_bytes()) == first
    assert oct(due_record.stat().st_mode & 0o777) == "0o644"

    later = first + datetime.timedelta(days=300)
    assert settle_records(str(record), str(due_record), later, "why") == first
    earlier = first - datetime.timedelta(days=1)
    assert settle_records(str(record), str(due_record), earlier, "why") == earlier


def test_a_damaged_due_record_settles_as_due_now(tmp_path: Path) -> None:
    due_record = tmp_path / "restart-due"
    due_record.write_text("garbage\n")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)
    kept = settle_records(str(tmp_path / "none"), str(due_record), later, "why")
    assert kept < later - datetime.timedelta(days=29)


@given(st.binary(min_size=1, max_size=300))
def test_the_first_certificate_of_a_key_store_is_the_one_compared(der: bytes) -> None:
    key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n"
    other = ssl.DER_cert_to_PEM_cert(b"another")
    store = (key + ssl.DER_cert_to_PEM_cert(der) + other).encode()
    assert certificate_der(store) == der


def test_a_file_without_a_certificate_is_refused() -> None:
    with pytest.raises(ValueError, match="no PEM certificate"):
        certificate_der(b"-----BEGIN PRIVATE KEY-----\n...\n")
