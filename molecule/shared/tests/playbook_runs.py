"""The project's playbooks run by a Molecule verifier, as an SRE runs them.

Each run uses the scenario's inventory and Molecule's generated ansible.cfg, prints its
return code and duration under a label, and keeps its whole output in the scenario's
ephemeral directory (for reading after a failure; the secret scans read it too).
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
INVENTORY = Path(os.environ["MOLECULE_INVENTORY_FILE"])
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

RECAP = re.compile(
    r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE
)
_RUN_NUMBER = itertools.count(1)


@dataclass
class PlaybookRun:
    playbook: str
    returncode: int
    output: str
    started: float
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    def changed(self) -> dict[str, int]:
        return {match[1]: int(match[3]) for match in RECAP.finditer(self.output)}

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def ansible_playbook(
    playbook: str,
    *args: str,
    label: str,
    extra_inventory: Path | None = None,
    inventory: Path | None = None,
    timeout: float = 1500,
) -> PlaybookRun:
    """``inventory``: the scenario's unless given; ``extra_inventory``: a second one on top,
    as an operator adds hosts with a second inventory file."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    # Molecule's generated ansible.cfg: roles and collections of the project.
    env.setdefault("ANSIBLE_CONFIG", str(EPHEMERAL / "ansible.cfg"))
    inventories = ["-i", str(inventory or INVENTORY)]
    if extra_inventory is not None:
        inventories += ["-i", str(extra_inventory)]
    started = time.time()
    process = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), *inventories, str(PROJECT / playbook), *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    run = PlaybookRun(playbook, process.returncode, process.stdout + process.stderr, started, 0)
    run.ended = time.time()
    print(f"\n{label}: {playbook} {' '.join(args)}: rc={run.returncode} in {run.seconds:.1f} s")
    (EPHEMERAL / f"verify-{label}-{next(_RUN_NUMBER)}-{Path(playbook).stem}.log").write_text(
        run.output
    )
    return run
