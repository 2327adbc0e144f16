"""The one way the tests run a playbook: ansible-runner's Python API, as AWX runs a job.

:func:`run_playbook` runs a playbook of the repository (or one a test wrote) and returns a
:class:`PlaybookRun`: the return code and status, the console output, and every event
ansible-runner recorded (the task results come from those, by task name and host, not
from parsing what a stdout callback printed). :func:`run_tasks` runs a list of tasks as
one play on localhost, the form most plugin tests take.

The unit tests, the integration tests and the Molecule verifiers all import it: pytest's
``pythonpath`` (pyproject.toml) names this directory.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner

REPO = Path(__file__).resolve().parents[2]
# The ansible-playbook beside the Python running the tests: .venv's, or .venv-oldest's.
VENV_BIN = Path(sys.executable).parent

_FAILED_EVENTS = ("runner_on_failed", "runner_item_on_failed", "runner_on_unreachable")
_RESULT_EVENTS = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "runner_on_skipped")
_TASK_EVENTS = ("runner_on_start", "runner_on_ok", "runner_on_skipped", *_FAILED_EVENTS)

# A missing tool fails the tests that need it; it never skips them.
assert (VENV_BIN / "ansible-playbook").exists(), (
    f"{VENV_BIN / 'ansible-playbook'} is not installed: run make venv"
)


@dataclass(frozen=True)
class Failure:
    play: str
    task: str
    host: str
    msg: str


@dataclass
class PlaybookRun:
    rc: int
    status: str
    stdout: str
    events: list[dict[str, Any]] = field(repr=False)
    started: float = 0.0  # time.time() at the start and at the end
    ended: float = 0.0
    playbook: str = ""

    @property
    def returncode(self) -> int:
        return self.rc

    @property
    def output(self) -> str:
        """The console output (stderr included: ansible-runner runs Ansible in a pty)."""
        return self.stdout

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def pid(self) -> int | None:
        """ansible-playbook's process (the one an operation lock names)."""
        return next((int(e["pid"]) for e in self.events if "pid" in e), None)

    @property
    def transcript(self) -> str:
        """Everything Ansible reported: the console output and every event (the secret
        scans read this: an AWX job keeps both)."""
        return self.stdout + "\n" + "\n".join(json.dumps(event) for event in self.events)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.stdout.splitlines()[-lines:])

    def results(self, host: str = "localhost") -> dict[str, dict[str, Any]]:
        """Each task's result on ``host``, by task name (a later task of the same name
        replaces an earlier one). A skipped task's result is ``{"skipped": True}``."""
        found: dict[str, dict[str, Any]] = {}
        for event in self.events:
            if event.get("event") not in _RESULT_EVENTS:
                continue
            data = event["event_data"]
            if data.get("host") != host:
                continue
            if event["event"] == "runner_on_skipped":
                result: dict[str, Any] = {"skipped": True, "changed": False}
            else:
                result = dict(data.get("res") or {})
                if "changed" not in result:
                    # A no_log result reaches the events censored, without "changed"; the
                    # event's line of the console output still says which it was.
                    result["changed"] = event.get("stdout", "").lstrip().startswith("changed:")
                if event["event"] == "runner_on_failed":
                    result.setdefault("failed", True)
                    result["ignored"] = bool(data.get("ignore_errors"))
            found[data.get("task", "")] = result
        return found

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """The play recap: ``{"ok": {host: n}, "changed": {...}, "failures": {...}, ...}``."""
        for event in reversed(self.events):
            if event.get("event") == "playbook_on_stats":
                data = event["event_data"]
                return {
                    key: dict(data.get(key) or {})
                    for key in ("ok", "changed", "failures", "dark", "skipped", "rescued",
                                "ignored", "processed")
                }  # fmt: skip
        return {}

    def recap(self) -> dict[str, dict[str, int]]:
        """The play recap per host: ``{host: {"ok": n, "changed": n, "failures": n, ...}}``."""
        stats = self.stats
        hosts = {host for counts in stats.values() for host in counts}
        return {
            host: {key: counts.get(host, 0) for key, counts in stats.items()}
            for host in sorted(hosts)
        }

    def changed(self) -> dict[str, int]:
        """Tasks changed per host, from the recap (hosts that changed nothing included)."""
        return {host: counts["changed"] for host, counts in self.recap().items()}

    @property
    def plays_started(self) -> list[str]:
        return [
            event["event_data"].get("play", "")
            for event in self.events
            if event.get("event") == "playbook_on_play_start"
        ]

    @property
    def plays_acting(self) -> list[str]:
        """Plays in which some task ran (was not skipped) on some host."""
        acting: list[str] = []
        for event in self.events:
            if event.get("event") not in ("runner_on_ok", *_FAILED_EVENTS):
                continue
            play = event["event_data"].get("play", "")
            if play not in acting:
                acting.append(play)
        return acting

    def tasks_run(self, play: str) -> list[str]:
        """Names of the tasks of ``play`` that ran on some host."""
        return [
            event["event_data"].get("task", "")
            for event in self.events
            if event.get("event") in _TASK_EVENTS and event["event_data"].get("play") == play
        ]

    @property
    def failures(self) -> list[Failure]:
        """Every failed task's message by play, task and host (ignored failures too)."""
        found: list[Failure] = []
        for event in self.events:
            if event.get("event") not in _FAILED_EVENTS:
                continue
            data = event["event_data"]
            result = data.get("res", {})
            messages = [result.get("msg", "")] + [
                item.get("msg", "") for item in result.get("results", []) if item.get("failed")
            ]
            for msg in messages:
                if msg:
                    found.append(
                        Failure(
                            data.get("play", ""), data.get("task", ""), data.get("host", ""), msg
                        )
                    )
        return found

    def describe(self) -> str:
        """A short account of the run for assertion messages."""
        lines = [
            f"rc={self.rc} status={self.status}",
            f"plays started: {self.plays_started}",
            f"plays that ran a task: {self.plays_acting}",
        ]
        lines += [f"FAILED {f.play} / {f.task} on {f.host}: {f.msg}" for f in self.failures]
        if not self.failures:
            lines.append(self.tail(40))
        return "\n".join(lines)


def _runner_arguments(
    private_dir: Path,
    playbook: Path | str,
    *,
    inventory: Path | str | Sequence[Path | str],
    cmdline: Sequence[str] = (),
    envvars: Mapping[str, str] | None = None,
    extravars: Mapping[str, Any] | None = None,
    ansible_config: Path | None = None,
    project_dir: Path = REPO,
    timeout: int | None = None,
) -> dict[str, Any]:
    if (private_dir / "env").exists():
        # ansible-runner reads env/ (envvars, extravars) of a private data directory back:
        # an earlier run's settings would leak into this one.
        raise ValueError(f"{private_dir} holds an earlier run; give each run its own")
    private_dir.mkdir(parents=True, exist_ok=True)
    inventories = [inventory] if isinstance(inventory, (str, Path)) else list(inventory)
    # Every inventory on the command line, in the caller's order: ansible-runner puts its
    # own ``inventory`` after the cmdline's, and the order decides the groups' host order.
    inventory_args = [arg for path in inventories for arg in ("-i", str(path))]
    environment = {
        "ANSIBLE_CONFIG": str(ansible_config or REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **(envvars or {}),
    }
    return {
        "private_data_dir": str(private_dir),
        "project_dir": str(project_dir),
        "playbook": str(project_dir / playbook),
        "cmdline": shlex.join([*inventory_args, *cmdline]),
        "envvars": environment,
        "extravars": dict(extravars) if extravars else None,
        "timeout": timeout,
        "quiet": True,
    }


def _finished(runner: Any, started: float) -> PlaybookRun:
    return PlaybookRun(
        playbook=str(runner.config.playbook),
        rc=runner.rc,
        status=runner.status,
        stdout=runner.stdout.read(),
        events=list(runner.events),
        started=started,
        ended=time.time(),
    )


def run_playbook(private_dir: Path, playbook: Path | str, **settings: Any) -> PlaybookRun:
    """Run ``playbook`` (a path, or one relative to ``project_dir``) with ansible-runner.

    ``private_dir`` is ansible-runner's private data directory (a tmp_path: it receives
    the artifacts and ``env/extravars``). ``inventory``: a path, or several (each one
    ``-i``, in this order; :func:`localhost_inventory` for localhost alone). The run
    inherits this process's environment, with ``envvars`` on top, this venv's tools first
    on PATH and the repository's ansible.cfg unless ``ansible_config`` names another.
    ``cmdline``, ``extravars``, ``project_dir``, ``timeout``: as ansible-runner takes them.
    """
    started = time.time()
    runner = ansible_runner.run(**_runner_arguments(private_dir, playbook, **settings))
    return _finished(runner, started)


def run_private_data_dir(
    private_dir: Path,
    playbook: str,
    *,
    inventory: Path,
    cmdline: Sequence[str] = (),
    envvars: Mapping[str, str] | None = None,
    timeout: float = 3600,
) -> PlaybookRun:
    """Lay ``private_dir`` out as the README's "ansible-runner" section documents
    (``project`` and ``inventory`` links, ``env/cmdline``) and run the command line an
    operator types, ``ansible-runner run <dir> -p <playbook>``: the repository's own
    ansible.cfg applies, as in AWX. The result is read back from ``artifacts/``."""
    if private_dir.exists():
        raise ValueError(f"{private_dir} exists; give each run its own")
    private_dir.mkdir(mode=0o700, parents=True)
    (private_dir / "project").symlink_to(REPO, target_is_directory=True)
    (private_dir / "inventory").symlink_to(inventory.resolve())
    (private_dir / "env").mkdir(mode=0o700)
    if cmdline:
        (private_dir / "env" / "cmdline").write_text(shlex.join(cmdline))
    environment = {
        **os.environ,
        "ANSIBLE_NOCOLOR": "1",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **(envvars or {}),
    }
    environment.pop("ANSIBLE_CONFIG", None)
    started = time.time()
    command = [str(VENV_BIN / "ansible-runner"), "run", str(private_dir), "-p", playbook]
    completed = subprocess.run(
        [*command, "--ident", "run"],
        env=environment, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    artifacts = private_dir / "artifacts" / "run"
    if not (artifacts / "rc").exists():
        raise AssertionError(
            f"ansible-runner wrote no result (exit {completed.returncode}): "
            f"{completed.stderr[-2000:]}{completed.stdout[-2000:]}"
        )
    event_files = sorted(
        (artifacts / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0])
    )
    return PlaybookRun(
        playbook=playbook,
        rc=int((artifacts / "rc").read_text()),
        status=(artifacts / "status").read_text().strip(),
        stdout=(artifacts / "stdout").read_text(),
        events=[json.loads(path.read_text()) for path in event_files],
        started=started,
        ended=time.time(),
    )


@dataclass
class StartedPlaybook:
    """A run going on in a thread of this process (ansible-runner's ``run_async``)."""

    thread: threading.Thread
    runner: Any
    started: float

    def running(self) -> bool:
        return self.thread.is_alive()

    def wait(self, timeout: float) -> PlaybookRun:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the run went on for more than {timeout} s"
        return _finished(self.runner, self.started)


def start_playbook(private_dir: Path, playbook: Path | str, **settings: Any) -> StartedPlaybook:
    """Start ``playbook`` as :func:`run_playbook` runs it, without waiting for its end.
    The events' ``pid`` is ansible-playbook's process."""
    started = time.time()
    thread, runner = ansible_runner.run_async(
        **_runner_arguments(private_dir, playbook, **settings)
    )
    return StartedPlaybook(thread, runner, started)


def private_dir_in(directory: Path) -> Path:
    """A new, empty private data directory for one run, inside ``directory``."""
    return Path(tempfile.mkdtemp(prefix="runner-", dir=directory))


def localhost_inventory(directory: Path) -> Path:
    """An inventory of localhost alone, reached through the local connection and this
    Python."""
    path = directory / "localhost.ini"
    path.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    return path


def run_tasks(
    tmp_path: Path,
    tasks: list[dict[str, Any]],
    *cmdline: str,
    envvars: Mapping[str, str] | None = None,
    timeout: int = 300,
) -> PlaybookRun:
    """Run ``tasks`` as one play on localhost (local connection, this Python) with the
    repository's ansible.cfg, so the in-repo collections are found."""
    playbook = tmp_path / "playbook.yml"
    # JSON is YAML: no quoting surprises for the Jinja expressions and the data.
    playbook.write_text(json.dumps([{"hosts": "all", "gather_facts": False, "tasks": tasks}]))
    return run_playbook(
        private_dir_in(tmp_path),
        playbook,
        inventory=localhost_inventory(tmp_path),
        cmdline=cmdline,
        envvars={"ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"), **(envvars or {})},
        timeout=timeout,
    )


def rendered_templates_expression(
    templates: Path, names: Sequence[str], computed: Mapping[str, str] | None = None
) -> str:
    """A Jinja mapping, file name -> ``templates/<name>.j2`` rendered by Ansible's template
    lookup, plus ``computed`` (file name -> an expression). A debug task that prints it
    gives the files a role's template tasks would write, without two modules per file
    (the lookup and the template action share one engine: the same bytes)."""
    entries = [
        f"'{name}': lookup('ansible.builtin.template', '{templates}/{name}.j2')" for name in names
    ]
    entries += [f"'{name}': {expression}" for name, expression in (computed or {}).items()]
    return "{" + ", ".join(entries) + "}"
