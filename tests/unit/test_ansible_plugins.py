"""The Ansible glue of the automq.platform collection, run through real ansible-playbook.

Each test writes a tiny playbook to tmp_path and runs it against ``localhost`` through
ansible-runner (tests/support/playbook_runner.py) with the repository's ansible.cfg (so the
in-repo collection is found), then looks at the task results and the files left behind.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from playbook_runner import PlaybookRun, run_tasks

REPO = Path(__file__).resolve().parents[2]
CLUSTER_ID_RE = re.compile(r"[A-Za-z0-9_-]{21}[AQgw]")

# Typed like the entries preflight builds from host variables: Jinja gives strings for
# the optional values and the port.
NODES: list[dict[str, Any]] = [
    {
        "host": f"h{i}",
        "controller": True,
        "broker": True,
        "advertised_host": f"10.0.0.1{i}",
        "controller_port": "9093",
        "explicit_id": "",
        "on_host_id": "",
        "on_host_cluster_id": "",
    }
    for i in (1, 2, 3)
]


def run_playbook(
    tmp_path: Path, tasks: list[dict[str, Any]], *options: str
) -> tuple[int, dict[str, Any]]:
    """Run the tasks as a play on localhost; return the exit code and the task results."""
    run, results = run_playbook_output(tmp_path, tasks, *options)
    return run.rc, results


def run_playbook_output(
    tmp_path: Path, tasks: list[dict[str, Any]], *options: str
) -> tuple[PlaybookRun, dict[str, Any]]:
    """Like run_playbook, with the whole run (its output and events) instead of the code."""
    run = run_tasks(tmp_path, tasks, *options, timeout=120)
    assert run.status in ("successful", "failed"), run.describe()
    return run, run.results()


def cluster_state_task(state_file: Path, nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "plan",
        "automq.platform.cluster_state": {"state_file": str(state_file), "nodes": nodes},
    }


def test_cluster_state_recovers_a_missing_state_file_from_the_nodes_copies(
    tmp_path: Path,
) -> None:
    """An AWX job's fresh container: no state file, the nodes formatted and holding copies
    that retired broker 1000. A new broker gets 1001, and the state file is written with
    the text the nodes' copies get (state_text)."""
    cluster_id = "MkU3OEVBNTcwNTJENDM2Qg"
    copy = {
        "assignments": {"h1": 0, "h2": 1, "h3": 2},
        "cluster_id": cluster_id,
        "security": "secure",
        "retired": [1000],
    }
    nodes = [
        {**node, "on_host_id": str(index), "on_host_cluster_id": cluster_id, "state_copy": copy}
        for index, node in enumerate(NODES)
    ]
    new_broker = {**NODES[0], "host": "h4", "controller": False, "advertised_host": "10.0.0.14"}
    state_file = tmp_path / "automq_state" / "prod.json"

    rc, results = run_playbook(tmp_path, [cluster_state_task(state_file, [*nodes, new_broker])])

    assert rc == 0, results
    plan = results["plan"]
    assert plan["node_ids"] == {"h1": 0, "h2": 1, "h3": 2, "h4": 1001}
    assert plan["recovered_from"] == ["h1", "h2", "h3"]
    expected = {**copy, "assignments": {**copy["assignments"], "h4": 1001}}
    assert json.loads(state_file.read_text()) == expected
    assert plan["state_text"] == state_file.read_text()


def test_parse_properties_filter(tmp_path: Path) -> None:
    meta = (
        "#\n"
        "#Tue Nov 25 10:00:00 UTC 2026\n"
        "node.id=1000\n"
        "directory.id=J8aAPcfLQt2bqs1JT_rMgQ\n"
        "version=1\n"
        "cluster.id=MkU3OEVBNTcwNTJENDM2Qg\n"
    )
    tasks = [
        {
            "name": "parse",
            "ansible.builtin.set_fact": {"meta": "{{ text | automq.platform.parse_properties }}"},
            "vars": {"text": meta},
        },
        {
            "name": "use",
            "ansible.builtin.set_fact": {"node_id": "{{ meta['node.id'] | int + 1 }}"},
        },
        {
            "name": "reject",
            "ansible.builtin.set_fact": {
                "bad": "{{ 'no separator' | automq.platform.parse_properties }}"
            },
            "ignore_errors": True,
        },
    ]

    rc, results = run_playbook(tmp_path, tasks)

    assert rc == 0
    assert results["parse"]["ansible_facts"]["meta"] == {
        "node.id": "1000",
        "directory.id": "J8aAPcfLQt2bqs1JT_rMgQ",
        "version": "1",
        "cluster.id": "MkU3OEVBNTcwNTJENDM2Qg",
    }
    assert int(results["use"]["ansible_facts"]["node_id"]) == 1001
    assert results["reject"]["failed"] is True
    assert "parse_properties: line 1: expected key=value" in results["reject"]["msg"]


def test_cluster_state_writes_the_state_file_once(tmp_path: Path) -> None:
    state_file = tmp_path / "automq_state" / "prod.json"  # the directory does not exist yet
    tasks = [cluster_state_task(state_file, NODES)]

    rc, results = run_playbook(tmp_path, tasks)

    assert rc == 0, results
    first = results["plan"]
    assert first["changed"] is True
    cluster_id = first["cluster_id"]
    assert CLUSTER_ID_RE.fullmatch(cluster_id)
    assert first["cluster_id_generated"] is True
    assert first["node_ids"] == {"h1": 0, "h2": 1, "h3": 2}
    assert first["new_hosts"] == ["h1", "h2", "h3"]
    assert first["voter_ids"] == [0, 1, 2]
    assert first["quorum_voters"] == "0@10.0.0.11:9093,1@10.0.0.12:9093,2@10.0.0.13:9093"
    assert first["quorum_bootstrap_servers"] == "10.0.0.11:9093,10.0.0.12:9093,10.0.0.13:9093"
    assert first["state_file"] == str(state_file)

    expected = {
        "assignments": {"h1": 0, "h2": 1, "h3": 2},
        "cluster_id": cluster_id,
        "security": "secure",
        "retired": [],
    }
    text = state_file.read_text()
    assert json.loads(text) == expected
    assert text == json.dumps(expected, indent=2, sort_keys=True) + "\n"  # sorted, stable
    assert state_file.stat().st_mode & 0o777 == 0o644
    # Written atomically: no temporary file is left beside it.
    assert [p.name for p in state_file.parent.iterdir()] == ["prod.json"]
    mtime = state_file.stat().st_mtime_ns

    rc, results = run_playbook(tmp_path, tasks)

    assert rc == 0, results
    second = results["plan"]
    assert second["changed"] is False
    assert second["cluster_id"] == cluster_id
    assert second["cluster_id_generated"] is False
    assert second["node_ids"] == first["node_ids"]
    assert second["new_hosts"] == []
    assert state_file.read_text() == text
    assert state_file.stat().st_mtime_ns == mtime  # not rewritten


def test_cluster_state_check_mode_writes_nothing(tmp_path: Path) -> None:
    state_file = tmp_path / "automq_state" / "prod.json"

    rc, results = run_playbook(
        tmp_path, [cluster_state_task(state_file, NODES)], "--check", "--diff"
    )

    assert rc == 0, results
    result = results["plan"]
    assert result["changed"] is True
    assert result["node_ids"] == {"h1": 0, "h2": 1, "h3": 2}
    after = json.loads(result["diff"]["after"])
    assert after == {
        "assignments": {"h1": 0, "h2": 1, "h3": 2},
        "cluster_id": result["cluster_id"],
        "security": "secure",
        "retired": [],
    }
    assert result["diff"]["before"] == ""
    assert not state_file.exists()
    assert not state_file.parent.exists()


def test_cluster_state_conflict_fails_the_task(tmp_path: Path) -> None:
    state_file = tmp_path / "prod.json"
    nodes = [dict(NODES[0]), dict(NODES[1], explicit_id="7"), dict(NODES[2], explicit_id="7")]

    rc, results = run_playbook(tmp_path, [cluster_state_task(state_file, nodes)])

    assert rc == 2
    result = results["plan"]
    assert result["failed"] is True
    assert result["msg"].startswith(
        "Node ID 7 is claimed by several hosts: h2 (from automq_node_id); h3 (from automq_node_id)."
    )
    assert "Traceback" not in json.dumps(result)
    assert not state_file.exists()


def test_the_supported_instance_types_are_defined_once(tmp_path: Path) -> None:
    """The three roles' defaults and the instance module's default are the one list of
    automq_helpers (lookup automq.platform.supported_instance_types)."""
    from automq_helpers.alicloud.instances import DEFAULT_SUPPORTED_TYPES

    defaults = {
        "alicloud_compute": "alicloud_compute_supported_instance_types",
        "alicloud_inventory": "alicloud_inventory_supported_instance_types",
        "automq": "automq_ecs_supported_instance_types",
    }
    tasks: list[dict[str, Any]] = []
    for role, variable in defaults.items():
        tasks += [
            {
                "name": f"read {role}",
                "ansible.builtin.include_vars": {
                    "file": str(REPO / "roles" / role / "defaults" / "main.yml"),
                },
            },
            {"name": role, "ansible.builtin.debug": {"msg": f"{{{{ {variable} }}}}"}},
        ]
    run, results = run_playbook_output(tmp_path, tasks)
    assert run.rc == 0, run.describe()
    for role in defaults:
        assert results[role]["msg"] == list(DEFAULT_SUPPORTED_TYPES), role
        raw = yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
        assert "automq.platform.supported_instance_types" in raw[defaults[role]], role
