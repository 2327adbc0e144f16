"""The project's playbooks run by a Molecule verifier, as an SRE runs them.

Each run goes through the tests' one playbook runner (tests/support/playbook_runner.py,
ansible-runner) with the scenario's inventory and Molecule's generated ansible.cfg, prints
its return code and duration under a label, and keeps its whole transcript (console output
and events) in the scenario's ephemeral directory, for reading after a failure; the secret
scans read it too.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_INVENTORY_FILE"])

# pytest's pythonpath (pyproject.toml) names it too; Molecule's verifier may run from
# elsewhere.
sys.path.insert(0, str(PROJECT / "tests" / "support"))
from playbook_runner import (  # noqa: E402
    PlaybookRun,
    StartedPlaybook,
    run_playbook,
    start_playbook,
)

__all__ = [
    "EPHEMERAL",
    "INVENTORY",
    "PROJECT",
    "BackgroundRun",
    "PlaybookRun",
    "ansible_playbook",
    "ansible_playbook_started",
]

_RUN_NUMBER = itertools.count(1)
# The runs' private directories are this verifier session's: an interrupted earlier one
# (Ctrl-C, a killed CI job) left its own behind under the same numbers, which the
# playbook runner refuses to reuse.
shutil.rmtree(EPHEMERAL / "verify-runs", ignore_errors=True)


def _settings(inventory: Path | None, extra_inventory: Path | None) -> dict[str, object]:
    """``inventory``: the scenario's unless given; ``extra_inventory``: a second one on top,
    as an operator adds hosts with a second inventory file."""
    inventories = [inventory or INVENTORY, *([extra_inventory] if extra_inventory else [])]
    # Molecule's generated ansible.cfg: roles and collections of the project.
    config = Path(os.environ.get("ANSIBLE_CONFIG", str(EPHEMERAL / "ansible.cfg")))
    return {"inventory": inventories, "ansible_config": config, "project_dir": PROJECT}


def _private_dir(label: str, number: int, playbook: str) -> Path:
    return EPHEMERAL / "verify-runs" / f"{label}-{number}-{Path(playbook).stem}"


def _kept(run: PlaybookRun, label: str, number: int, playbook: str, args: tuple[str, ...]) -> None:
    print(f"\n{label}: {playbook} {' '.join(args)}: rc={run.rc} in {run.seconds:.1f} s")
    (EPHEMERAL / f"verify-{label}-{number}-{Path(playbook).stem}.log").write_text(run.transcript)


def ansible_playbook(
    playbook: str,
    *args: str,
    label: str,
    extra_inventory: Path | None = None,
    inventory: Path | None = None,
    timeout: int = 1500,
) -> PlaybookRun:
    number = next(_RUN_NUMBER)
    run = run_playbook(
        _private_dir(label, number, playbook),
        playbook,
        cmdline=args,
        timeout=timeout,
        **_settings(inventory, extra_inventory),  # type: ignore[arg-type]
    )
    _kept(run, label, number, playbook, args)
    return run


@dataclass
class BackgroundRun:
    """A run going on beside the test (:func:`ansible_playbook_started`)."""

    run: StartedPlaybook
    label: str
    number: int
    playbook: str
    args: tuple[str, ...]

    def running(self) -> bool:
        return self.run.running()

    def finish(self, timeout: float) -> PlaybookRun:
        """Waits for its end; keeps its transcript as :func:`ansible_playbook` does."""
        done = self.run.wait(timeout)
        _kept(done, self.label, self.number, self.playbook, self.args)
        return done


def ansible_playbook_started(playbook: str, *args: str, label: str) -> BackgroundRun:
    """Start a run on the scenario's inventory without waiting for it."""
    number = next(_RUN_NUMBER)
    run = start_playbook(
        _private_dir(label, number, playbook),
        playbook,
        cmdline=args,
        **_settings(None, None),  # type: ignore[arg-type]
    )
    return BackgroundRun(run, label, number, playbook, args)
