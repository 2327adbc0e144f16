"""What a host already has of the installer's prerequisites, in one read.

The package, group and user steps of role automq_host each cost a module run (the
package manager's the most, seconds) even when nothing is missing. One read-only look at
the installed packages, the service group and the service user tells the role which of
those steps it can skip.

Runs on the hosts: standard library only, Python 3.8.
"""

# ruff: noqa: UP006, UP035, UP045 (typing names: the hosts run Python 3.8)

from __future__ import annotations

import grp
import pwd
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

# A plain package name; anything else (a version, a wildcard, a path) is left to the
# package manager, as if it were missing.
PACKAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]*$")

# dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n': "ii " is installed.
DPKG_FORMAT = "${Package} ${db:Status-Abbrev}\\n"

Runner = Callable[[List[str]], Tuple[int, str, str]]


def installed_from_dpkg(output: str) -> List[str]:
    """The installed packages among the lines of ``dpkg-query -W -f=DPKG_FORMAT``."""
    installed = []
    for line in output.splitlines():
        parts = line.split(" ", 1)
        if len(parts) == 2 and parts[1].startswith("ii"):
            installed.append(parts[0])
    return installed


def installed_from_rpm(output: str) -> List[str]:
    """The installed packages among the lines of ``rpm -q --qf '%{NAME}\\n' NAMES``
    (a missing one gives a line "package NAME is not installed")."""
    return [
        line.strip() for line in output.splitlines() if line.strip() and " " not in line.strip()
    ]


def missing_packages(wanted: Sequence[str], package_manager: str, run: Runner) -> List[str]:
    """The packages of ``wanted`` that are not installed (``package_manager``: apt or dnf)."""
    plain = [name for name in wanted if PACKAGE_NAME.match(name)]
    installed: List[str] = []
    if plain and package_manager == "apt":
        _status, out, _errors = run(["dpkg-query", "-W", "-f=" + DPKG_FORMAT, *plain])
        installed = installed_from_dpkg(out)
    elif plain and package_manager == "dnf":
        _status, out, _errors = run(["rpm", "-q", "--qf", "%{NAME}\\n", *plain])
        installed = installed_from_rpm(out)
    return [name for name in wanted if name not in installed]


@dataclass(frozen=True)
class Account:
    exists: bool
    group: Optional[str] = None
    home: Optional[str] = None
    shell: Optional[str] = None

    def as_result(self) -> Dict[str, object]:
        return {"exists": self.exists, "group": self.group, "home": self.home, "shell": self.shell}


def read_user(name: str) -> Account:
    """The user ``name``: whether it exists, its primary group's name, home and shell."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return Account(False)
    try:
        group: Optional[str] = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        group = None
    return Account(True, group, entry.pw_dir, entry.pw_shell)


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True
