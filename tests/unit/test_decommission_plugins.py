"""The decommission plugins of automq.platform, run through real ansible-playbook
(ansible-runner, tests/support/playbook_runner.py).

``retire_nodes`` (action) against state files in tmp_path; ``decommission_status`` (module,
shipped to the "host" with its helpers) against a local fake Kafka broker that answers
with frames captured from Apache Kafka 3.9.1.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
from pathlib import Path
from typing import Any

import pytest
from test_ansible_plugins import run_playbook
from test_reassignment import LIST_REASSIGNMENTS_V0_IN_PROGRESS, METADATA_V12_CAP_IN_PROGRESS

from automq_helpers.kafka_probe import Writer

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- retire_nodes

STATE = {
    "assignments": {"n1": 0, "n2": 1, "n3": 2, "n4": 1000},
    "cluster_id": "dqDxjycrSIbA-i4iV8WVXw",
    "retired": [],
}


def retire_task(state_file: Path, nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "name": "retire",
        "automq.platform.retire_nodes": {"state_file": str(state_file), "nodes": nodes},
        **extra,
    }


def test_retire_nodes_writes_once(tmp_path: Path) -> None:
    state_file = tmp_path / "prod.json"
    state_file.write_text(json.dumps(STATE))
    # Node IDs come from meta.properties through Jinja: strings.
    rc, results = run_playbook(tmp_path, [retire_task(state_file, {"n4": "1000"})])
    assert rc == 0, results
    first = results["retire"]
    assert first["changed"] is True
    assert (first["retired"], first["already_retired"], first["retired_ids"]) == (
        ["n4"],
        [],
        [1000],
    )
    assert json.loads(state_file.read_text()) == {
        "assignments": {"n1": 0, "n2": 1, "n3": 2},
        "cluster_id": "dqDxjycrSIbA-i4iV8WVXw",
        "retired": [1000],
    }
    assert state_file.stat().st_mode & 0o777 == 0o644
    mtime = state_file.stat().st_mtime_ns

    rc, results = run_playbook(tmp_path, [retire_task(state_file, {"n4": 1000})])
    assert rc == 0
    again = results["retire"]
    assert again["changed"] is False
    assert (again["retired"], again["already_retired"]) == ([], ["n4"])
    assert state_file.stat().st_mtime_ns == mtime


def test_retire_nodes_check_mode_writes_nothing(tmp_path: Path) -> None:
    state_file = tmp_path / "prod.json"
    text = json.dumps(STATE)
    state_file.write_text(text)
    rc, results = run_playbook(
        tmp_path, [retire_task(state_file, {"n4": 1000}, check_mode=True)], "--diff"
    )
    assert rc == 0
    assert results["retire"]["changed"] is True
    assert results["retire"]["retired"] == ["n4"]
    assert '"retired": [\n    1000\n  ]' in results["retire"]["diff"]["after"]
    assert state_file.read_text() == text


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ({"n4": 1001}, "records node ID 1000 for n4, but the host runs as node 1001"),
        ({"n9": 2}, "n9 runs as node 2, but"),
        ({"n4": "x"}, "node ID of n4 is 'x', not an integer"),
    ],
)
def test_retire_nodes_refuses_conflicts(
    tmp_path: Path, nodes: dict[str, Any], message: str
) -> None:
    state_file = tmp_path / "prod.json"
    text = json.dumps(STATE)
    state_file.write_text(text)
    rc, results = run_playbook(tmp_path, [retire_task(state_file, nodes)])
    assert rc != 0
    assert results["retire"]["failed"] is True
    assert message in results["retire"]["msg"]
    assert state_file.read_text() == text


def test_retire_nodes_without_a_state_file(tmp_path: Path) -> None:
    rc, results = run_playbook(tmp_path, [retire_task(tmp_path / "none.json", {"n4": 1000})])
    assert rc != 0
    assert "There is no state file" in results["retire"]["msg"]
    assert not (tmp_path / "none.json").exists()


# --------------------------------------------------------------------------- decommission_status


def _api_versions(ranges: dict[int, tuple[int, int]]) -> bytes:
    w = Writer().int32(0).int16(0).array_length(len(ranges))
    for key, (low, high) in sorted(ranges.items()):
        w.int16(key).int16(low).int16(high)
    return w.getvalue()


def _describe_cluster(brokers: list[int]) -> bytes:
    """A DescribeCluster v0 response frame (correlation id 0, header tags, body)."""
    w = Writer().int32(0).tagged_fields().int32(0).int16(0).compact_string(None)
    w.compact_string("dqDxjycrSIbA-i4iV8WVXw").int32(brokers[0]).compact_array_length(len(brokers))
    for broker in brokers:
        w.int32(broker).compact_string(f"172.30.23.{broker % 250}").int32(9092)
        w.compact_string(None).tagged_fields()
    return w.int32(-2147483648).tagged_fields().getvalue()


API_VERSIONS = _api_versions({3: (0, 12), 18: (0, 4), 46: (0, 0), 60: (0, 1)})
NO_REASSIGNMENT = bytes.fromhex("0000000700000000000000000100")


class FakeBroker:
    """Answers each request with a canned frame for its API key, correlation id patched."""

    def __init__(self, frames: dict[int, bytes]) -> None:
        self.frames = frames
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(5)
        self.server.settimeout(0.05)
        self.port: int = self.server.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def __enter__(self) -> FakeBroker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.server.close()

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn, contextlib.suppress(OSError, ConnectionError, struct.error):
                while True:
                    size = struct.unpack(">i", self._recv(conn, 4))[0]
                    request = self._recv(conn, size)
                    key, _, correlation_id = struct.unpack(">hhi", request[:8])
                    frame = struct.pack(">i", correlation_id) + self.frames[key][4:]
                    conn.sendall(struct.pack(">i", len(frame)) + frame)

    @staticmethod
    def _recv(conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = conn.recv(size - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data


def status_task(port: int, leaving: list[int], **options: Any) -> dict[str, Any]:
    return {
        "name": "plan",
        "automq.platform.decommission_status": {
            "port": port,
            "leaving": leaving,
            "timeout": 5,
            **options,
        },
    }


def test_decommission_status_plans_the_moves(tmp_path: Path) -> None:
    frames = {
        18: API_VERSIONS,
        60: _describe_cluster([0, 1, 2, 1001]),
        3: METADATA_V12_CAP_IN_PROGRESS,
        46: NO_REASSIGNMENT,
    }
    with FakeBroker(frames) as broker:
        rc, results = run_playbook(tmp_path, [status_task(broker.port, [2])], "--check")
    assert rc == 0, results
    plan = results["plan"]
    assert plan["changed"] is False
    assert plan["error"] is None
    assert plan["live_brokers"] == [0, 1, 2, 1001]
    assert plan["in_progress"] == []
    assert plan["on_leaving"] == ["cap-0", "cap-1"]
    # Loads: 0 -> 2, 1 -> 2, 1001 -> 0: both replicas of broker 2 go to 1001.
    assert plan["reassignment"] == {
        "version": 1,
        "partitions": [
            {"topic": "cap", "partition": 0, "replicas": [0, 1001, 1]},
            {"topic": "cap", "partition": 1, "replicas": [1, 0, 1001]},
        ],
    }
    assert plan["plan_error"] is None
    assert (plan["satisfied"], plan["attempts"]) == (True, 1)


def test_decommission_status_waits_for_reassignments_in_progress(tmp_path: Path) -> None:
    frames = {
        18: API_VERSIONS,
        60: _describe_cluster([0, 1, 2, 1001]),
        3: METADATA_V12_CAP_IN_PROGRESS,
        46: LIST_REASSIGNMENTS_V0_IN_PROGRESS,
    }
    task = status_task(0, [1], wait_for="idle", wait_timeout=1, poll_interval=0.3)
    with FakeBroker(frames) as broker:
        task["automq.platform.decommission_status"]["port"] = broker.port
        rc, results = run_playbook(tmp_path, [task])
    assert rc == 0, results  # a condition that does not hold is not a failure
    status = results["plan"]
    assert status["satisfied"] is False
    assert status["attempts"] >= 3
    assert 0.5 <= status["waited_seconds"] <= 3.0
    assert status["in_progress"] == ["cap-0", "cap-1"]
    assert status["reassignment"] == {"version": 1, "partitions": []}


def test_decommission_status_sees_unregistered_brokers_go(tmp_path: Path) -> None:
    frames = {
        18: API_VERSIONS,
        60: _describe_cluster([0, 1, 2]),
        3: METADATA_V12_CAP_IN_PROGRESS,
        46: NO_REASSIGNMENT,
    }
    with FakeBroker(frames) as broker:
        rc, results = run_playbook(
            tmp_path, [status_task(broker.port, [1001], wait_for="unlisted", wait_timeout=30)]
        )
    assert rc == 0, results
    status = results["plan"]
    assert (status["satisfied"], status["attempts"], status["live_brokers"]) == (
        True,
        1,
        [0, 1, 2],
    )


def test_decommission_status_reports_an_unreachable_broker(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    rc, results = run_playbook(tmp_path, [status_task(port, [1000], wait_for="moved")])
    assert rc == 0, results
    status = results["plan"]
    assert status.get("failed") is not True
    assert status["satisfied"] is False
    assert f"127.0.0.1:{port}: connect failed" in status["error"]
    assert status["on_leaving"] == []
