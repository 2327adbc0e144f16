"""The cluster lock: the file's rules (operation_lock), and the role's lock and unlock
entry points through ansible-playbook on this machine (the action plugin names the run
by its ansible-playbook process here)."""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playbook_runner import PlaybookRun
from test_ansible_plugins import run_playbook_output

from automq_helpers.operation_lock import (
    LockHolder,
    acquire,
    parse_holder,
    read_lock,
    release,
    run_id,
)

ME = LockHolder("run-1", "alice", "laptop", 4242, "upgrade.yml", "2026-12-05T01:00:00Z")
OTHER = replace(ME, id="run-2", user="bob", controller="awx-job-7")


def test_a_free_lock_is_taken_then_given_back(tmp_path: Path) -> None:
    path = str(tmp_path / "var" / "automq" / "operation.lock")  # its directories are made
    made = (str(tmp_path / "var" / "automq"), str(tmp_path / "var"))
    state = acquire(path, ME)
    assert (state.acquired, state.changed, state.holder) == (True, True, replace(ME, made=made))
    assert read_lock(path) == (True, replace(ME, made=made))
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    again = acquire(path, ME)  # a playbook that imports another takes it twice
    assert (again.acquired, again.changed) == (True, False)
    assert release(path, OTHER.id).changed is False  # not its lock
    assert release(path, ME.id).changed is True
    assert read_lock(path) == (False, None)
    assert not (tmp_path / "var").exists()  # nothing left where there was nothing
    assert release(path, ME.id).changed is False


def test_directories_the_run_filled_stay(tmp_path: Path) -> None:
    path = tmp_path / "automq" / "operation.lock"
    acquire(str(path), ME)
    (tmp_path / "automq" / "kraft-metadata").mkdir()
    assert release(str(path), ME.id).changed is True
    assert (tmp_path / "automq" / "kraft-metadata").is_dir()


def test_another_holder_is_kept_unless_named(tmp_path: Path) -> None:
    path = str(tmp_path / "operation.lock")
    acquire(path, OTHER)
    refused = acquire(path, ME)
    assert (refused.acquired, refused.changed, refused.holder) == (False, False, OTHER)
    assert acquire(path, ME, break_id="run-9").acquired is False
    broken = acquire(path, ME, break_id=OTHER.id)
    assert (broken.acquired, broken.changed, broken.broken) == (True, True, OTHER)
    assert read_lock(path) == (True, ME)


def test_an_unreadable_lock_is_broken_only_by_name(tmp_path: Path) -> None:
    path = tmp_path / "operation.lock"
    path.write_text("")  # e.g. a full disk
    refused = acquire(str(path), ME)
    assert (refused.acquired, refused.unreadable) == (False, True)
    assert acquire(str(path), ME, break_id="unreadable").acquired is True


def test_check_mode_writes_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "operation.lock")
    assert acquire(path, ME, check_mode=True).acquired is True
    assert not os.path.exists(path)
    acquire(path, ME)
    assert release(path, ME.id, check_mode=True).changed is True
    assert os.path.exists(path)


@pytest.mark.parametrize(
    "content", [b"", b"{}", b"[1]", b'{"id": ""}', b"\xff", json.dumps({"id": "x"}).encode()]
)
def test_lock_files_without_a_holder_read_as_none(content: bytes) -> None:
    assert parse_holder(content) is None


def _contend(path: str, index: int, start: Any, results: Any) -> None:
    start.wait()
    results.put((index, acquire(path, replace(ME, id=f"run-{index}")).acquired))


def test_of_runs_starting_at_once_exactly_one_holds_the_lock(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(20):
        path = str(tmp_path / f"lock-{attempt}")
        start, results = context.Event(), context.Queue()
        workers = [
            context.Process(target=_contend, args=(path, index, start, results))
            for index in range(4)
        ]
        for worker in workers:
            worker.start()
        start.set()
        outcome = dict(results.get(timeout=30) for _ in workers)
        for worker in workers:
            worker.join(30)
        winners = [index for index, acquired in outcome.items() if acquired]
        assert len(winners) == 1, outcome
        assert read_lock(path)[1] == replace(ME, id=f"run-{winners[0]}")


# --------------------------------------------------------------------------- the role


def lock_play(tmp_path: Path, *options: str) -> tuple[PlaybookRun, Any]:
    """The role's lock entry point, a task that reads the lock file, then unlock."""
    tasks = [
        {
            "name": "lock",
            "ansible.builtin.include_role": {"name": "automq", "tasks_from": "lock"},
        },
        {"name": "held", "ansible.builtin.slurp": {"src": "{{ automq_lock_file }}"}},
        {
            "name": "unlock",
            "ansible.builtin.include_role": {"name": "automq", "tasks_from": "unlock"},
        },
    ]
    return run_playbook_output(tmp_path, tasks, *options)


def write_lock(path: Path, holder: LockHolder) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(holder.content())


def failure_message(completed: PlaybookRun) -> str:
    return "\n".join(str(failure.msg) for failure in completed.failures)


def test_the_role_holds_the_lock_for_the_run_and_names_it(tmp_path: Path) -> None:
    lock = tmp_path / "node" / "operation.lock"
    completed, results = lock_play(
        tmp_path, "-e", f"automq_lock_file={lock}", "-e", "automq_lock_operation=upgrade.yml"
    )
    assert completed.returncode == 0, completed.describe()
    holder = parse_holder(base64.b64decode(results["held"]["content"]))
    assert holder is not None
    assert (holder.playbook, holder.controller) == ("upgrade.yml", socket.gethostname())
    assert holder.id.startswith(f"{holder.pid}-")
    assert not lock.exists()  # given back
    assert completed.changed() == {"localhost": 0}
    recap = completed.recap()["localhost"]
    assert (recap["failures"], recap["dark"]) == (0, 0)
    assert recap["ok"] >= 2, recap


def test_a_running_operation_stops_the_run(tmp_path: Path) -> None:
    lock = tmp_path / "operation.lock"
    # A live process on this machine: the test itself.
    live_id = run_id(socket.gethostname(), os.getpid())
    assert live_id is not None
    live = replace(ME, id=live_id, controller=socket.gethostname(), pid=os.getpid())
    write_lock(lock, live)
    completed, _ = lock_play(tmp_path, "-e", f"automq_lock_file={lock}")
    assert completed.returncode != 0
    message = failure_message(completed)
    assert "Another operation holds this cluster, so this run changed nothing." in message
    assert f"upgrade.yml run by alice on {socket.gethostname()}" in message
    assert f"-e automq_lock_break={live_id}" in message
    assert read_lock(str(lock)) == (True, live)


def test_a_run_that_died_on_this_machine_is_taken_over(tmp_path: Path) -> None:
    lock = tmp_path / "operation.lock"
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(gone.stdout)
    write_lock(
        lock,
        replace(
            ME,
            id=f"{pid}-20261205T010000@{socket.gethostname()}",
            controller=socket.gethostname(),
            pid=pid,
        ),
    )
    completed, _ = lock_play(tmp_path, "-e", f"automq_lock_file={lock}")
    assert completed.returncode == 0, failure_message(completed)
    assert "took over the cluster lock of an earlier run on this machine" in completed.stdout
    assert not lock.exists()


def test_another_machines_lock_is_broken_only_by_its_id(tmp_path: Path) -> None:
    lock = tmp_path / "operation.lock"
    write_lock(lock, OTHER)
    completed, _ = lock_play(tmp_path, "-e", f"automq_lock_file={lock}")
    assert completed.returncode != 0
    assert "-e automq_lock_break=run-2" in failure_message(completed)
    assert read_lock(str(lock)) == (True, OTHER)
    completed, _ = lock_play(
        tmp_path, "-e", f"automq_lock_file={lock}", "-e", "automq_lock_break=run-2"
    )
    assert completed.returncode == 0, failure_message(completed)
    assert not lock.exists()

    lock.write_text("half a lock")
    completed, _ = lock_play(tmp_path, "-e", f"automq_lock_file={lock}")
    assert "an unreadable lock file" in failure_message(completed)
    assert "-e automq_lock_break=unreadable" in failure_message(completed)


def test_a_run_refused_on_one_node_gives_back_the_others(tmp_path: Path) -> None:
    free, held = tmp_path / "node-1.lock", tmp_path / "node-2.lock"
    write_lock(held, OTHER)
    inventory = tmp_path / "nodes.ini"
    inventory.write_text(
        f"localhost automq_lock_file={free}\n"
        f"node-2 ansible_connection=local ansible_python_interpreter={sys.executable} "
        f"automq_lock_file={held}\n"
    )
    completed, _ = lock_play(tmp_path, "-i", str(inventory))
    assert completed.returncode != 0
    assert "node-2: upgrade.yml run by bob on awx-job-7" in failure_message(completed)
    assert not free.exists()
    assert read_lock(str(held)) == (True, OTHER)
