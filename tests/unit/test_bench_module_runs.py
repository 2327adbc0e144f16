"""The bench's module_runs callback (tests/bench/callback_plugins): what a no-op run's
"module runs per host" line counts, checked on a real ansible-playbook run."""

from __future__ import annotations

import json
from pathlib import Path

from playbook_runner import run_tasks

REPO = Path(__file__).resolve().parents[2]


def test_module_runs_count_loop_items_and_leave_out_controller_tasks(tmp_path: Path) -> None:
    counts = tmp_path / "module-runs.json"
    tasks = [
        {"name": "fact", "ansible.builtin.set_fact": {"seen": True}},
        {"name": "check", "ansible.builtin.assert": {"that": "seen"}},
        {
            "name": "two items",
            "ansible.builtin.command": "true",
            "loop": [1, 2],
            "changed_when": False,
        },
        {"name": "one", "ansible.builtin.stat": {"path": str(tmp_path)}},
        {"name": "skipped", "ansible.builtin.command": "true", "when": False},
        {
            "name": "on this machine",
            "ansible.builtin.command": "true",
            "delegate_to": "localhost",
            "changed_when": False,
        },
    ]
    run = run_tasks(
        tmp_path,
        tasks,
        envvars={
            "ANSIBLE_CALLBACK_PLUGINS": str(REPO / "tests" / "bench" / "callback_plugins"),
            "ANSIBLE_CALLBACKS_ENABLED": "module_runs",
            "AUTOMQ_BENCH_MODULE_RUNS": str(counts),
        },
    )
    assert run.status == "successful", run.describe()
    # The test inventory's one host is localhost itself: the delegated task counts apart.
    assert json.loads(counts.read_text()) == {
        "on_host": {"localhost": 3},
        "on_ansible_machine": {"localhost": 1},
    }
