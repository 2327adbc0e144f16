"""One operation at a time on a cluster: a lock file on every node.

Every playbook that changes the nodes (site.yml, upgrade, rolling restart, certificate
rotation, finalize, decommission) takes the lock on each node first and gives it back at
its end, so two operators, or an operator and AWX, never pass their health gates side by
side.  The lock names its holder: the run's ID, the user, the Ansible machine and its
``ansible-playbook`` process, the playbook and the start time (UTC).

The lock is created with ``link()`` from a complete temporary file: a reader never sees
a half-written one, and of two runs creating it at once exactly one succeeds.  A run
that finds its own ID holds the lock already (playbooks import each other).  A lock is
broken only by a run that names its ID (or ``unreadable`` for a damaged file); the
action plugin names it by itself only for a holder on the same Ansible machine whose
process is gone.

Runs on the hosts: standard library only, Python 3.8 grammar.
"""

# The hosts may only have Python 3.8: keep typing.Optional & co. (UP045).
# ruff: noqa: UP006, UP035, UP045

from __future__ import annotations

import datetime
import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from typing import Dict, List, Optional, Tuple

UNREADABLE = "unreadable"  # the ID that breaks a lock file without a readable holder


@dataclass(frozen=True)
class LockHolder:
    id: str
    user: str
    controller: str  # the Ansible machine's host name
    pid: int  # its ansible-playbook process
    playbook: str
    started: str  # UTC, ISO 8601
    # Directories the lock had to create (deepest first): removed with it when empty, so
    # a refused run leaves nothing on a fresh host.
    made: Tuple[str, ...] = ()

    def describe(self) -> str:
        return (
            f"{self.playbook} run by {self.user} on {self.controller} (process {self.pid}), "
            f"started {self.started}, lock ID {self.id}"
        )

    def content(self) -> bytes:
        return (json.dumps(asdict(self), sort_keys=True) + "\n").encode()

    def public(self) -> Dict[str, object]:
        """What the module reports of the holder."""
        shown = asdict(self)
        del shown["made"]
        return shown


def parse_holder(content: bytes) -> Optional[LockHolder]:
    """The holder a lock file names; None when it names none readably."""
    try:
        document = json.loads(content.decode("utf-8"))
        holder = LockHolder(
            id=str(document["id"]),
            user=str(document["user"]),
            controller=str(document["controller"]),
            pid=int(document["pid"]),
            playbook=str(document["playbook"]),
            started=str(document["started"]),
            made=tuple(str(path) for path in document.get("made", ())),
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None
    return holder if holder.id else None


@dataclass(frozen=True)
class LockState:
    """``acquired``: this run holds the lock now; ``changed``: the file was written or
    removed; ``holder``: who holds it (None: nobody, or unreadable when ``unreadable``);
    ``broken``: the holder this call replaced."""

    acquired: bool
    changed: bool
    holder: Optional[LockHolder]
    unreadable: bool = False
    broken: Optional[LockHolder] = None


def read_lock(path: str) -> tuple[bool, Optional[LockHolder]]:
    """(whether the file exists, its holder)."""
    try:
        with open(path, "rb") as stream:
            return True, parse_holder(stream.read(65536))
    except FileNotFoundError:
        return False, None


def _temporary_copy(path: str, holder: LockHolder) -> str:
    directory = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(prefix=".automq-lock-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(holder.content())
            stream.flush()
            os.fchmod(stream.fileno(), 0o644)
            os.fsync(stream.fileno())
    except BaseException:
        os.unlink(temporary)
        raise
    return temporary


def acquire(
    path: str, holder: LockHolder, break_id: str = "", check_mode: bool = False
) -> LockState:
    """Take the lock for ``holder`` unless another holds it; replace another holder only
    when ``break_id`` names it."""
    exists, current = read_lock(path)
    if exists and current is not None and current.id == holder.id:
        return LockState(True, False, current)
    if exists:
        named = (current.id if current is not None else UNREADABLE) == break_id
        if not (break_id and named):
            return LockState(False, False, current, unreadable=current is None)
        if check_mode:
            return LockState(True, True, holder, broken=current)
        temporary = _temporary_copy(path, holder)
        os.replace(temporary, path)  # the named holder goes, whatever came in between
        return LockState(True, True, holder, broken=current)
    if check_mode:
        return LockState(True, True, holder)
    made: List[str] = []
    directory = os.path.dirname(path)
    while directory and not os.path.isdir(directory):
        made.append(directory)
        directory = os.path.dirname(directory)
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    holder = replace(holder, made=tuple(made))
    temporary = _temporary_copy(path, holder)
    try:
        os.link(temporary, path)  # fails if another run created it first
    except FileExistsError:
        return acquire(path, holder, "", check_mode)
    finally:
        os.unlink(temporary)
    return LockState(True, True, holder)


def release(path: str, lock_id: str, check_mode: bool = False) -> LockState:
    """Give the lock back if ``lock_id`` holds it; another holder's lock stays."""
    exists, current = read_lock(path)
    if not exists or current is None or current.id != lock_id:
        return LockState(False, False, current, unreadable=exists and current is None)
    if not check_mode:
        os.unlink(path)
        for directory in current.made:
            try:
                os.rmdir(directory)  # only when empty: the run put nothing else there
            except OSError:
                break
    return LockState(False, True, None)


# --------------------------------------------------------------------------- the run's identity
# (on the Ansible machine: the action plugin names the run by its ansible-playbook process)


def process_start(pid: int) -> Optional[datetime.datetime]:
    """When a process started (Linux /proc); None elsewhere or when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # Field 22, counted after the command name (which may hold spaces).
            ticks = int(stat.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/stat") as machine:
            boot = next(int(line.split()[1]) for line in machine if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    seconds = boot + ticks / os.sysconf("SC_CLK_TCK")
    return datetime.datetime.fromtimestamp(round(seconds), datetime.timezone.utc)  # noqa: UP017 (3.8)


def run_id(controller: str, pid: int) -> Optional[str]:
    """The lock ID of the run whose main process is ``pid`` here; None when it is gone."""
    started = process_start(pid)
    if started is None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # another user's: alive
        return f"{pid}@{controller}"
    return f"{pid}-{started:%Y%m%dT%H%M%S}@{controller}"
