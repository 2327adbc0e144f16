"""What a host already has (automq_helpers.host_state), so role automq_host skips the
package, group and user steps on a host that has everything."""

from __future__ import annotations

import os
import pwd
import subprocess

from automq_helpers.host_state import (
    group_exists,
    installed_from_dpkg,
    installed_from_rpm,
    missing_packages,
    read_user,
)


def test_dpkg_lines() -> None:
    output = "openjdk-17-jre-headless ii \npython3-cryptography rc \nkcat ii \n"
    assert installed_from_dpkg(output) == ["openjdk-17-jre-headless", "kcat"]


def test_rpm_lines() -> None:
    output = "java-17-openjdk-headless\npackage python3-cryptography is not installed\n"
    assert installed_from_rpm(output) == ["java-17-openjdk-headless"]


def test_missing_packages_asks_once_and_leaves_odd_names_to_the_package_manager() -> None:
    calls: list[list[str]] = []

    def run(argv: list[str]) -> tuple[int, str, str]:
        calls.append(argv)
        return 1, "a ii \nb un \n", "dpkg-query: no packages found matching c"

    assert missing_packages(["a", "b", "c", "d=1.0"], "apt", run) == ["b", "c", "d=1.0"]
    assert calls == [["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\\n", "a", "b", "c"]]
    assert missing_packages([], "apt", run) == []
    assert len(calls) == 1


def test_missing_packages_against_this_machines_dpkg() -> None:
    """This machine runs Debian, as the test bed's hosts: dpkg is installed, a made-up
    package is not."""

    def run(argv: list[str]) -> tuple[int, str, str]:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    assert missing_packages(["dpkg", "no-such-package-automq"], "apt", run) == [
        "no-such-package-automq"
    ]


def test_users_and_groups() -> None:
    me = pwd.getpwuid(os.getuid())
    user = read_user(me.pw_name)
    assert (user.exists, user.home, user.shell) == (True, me.pw_dir, me.pw_shell)
    assert user.group is not None
    assert group_exists(user.group)
    assert not read_user("no-such-user-automq").exists
    assert not group_exists("no-such-group-automq")
