#!/usr/bin/python
"""Ansible module host_state: which of a host's prerequisites are there already."""

from __future__ import annotations

DOCUMENTATION = r"""
module: host_state
short_description: Read which packages, group and user a host already has, in one call
description:
  - Read only; changes nothing. One round trip instead of a package manager run and a
    group and user module run that find nothing to do.
  - Packages are looked up with C(dpkg-query) (apt) or C(rpm -q) (dnf). A name that is not a
    plain package name (a version, a wildcard) is reported missing, for the package manager
    to decide.
version_added: 0.2.0
author: AutoMQ Ansible maintainers (!UNKNOWN)
options:
  packages:
    description: Package names to look for.
    type: list
    elements: str
    default: []
  package_manager:
    description: The host's package manager.
    type: str
    choices: [apt, dnf]
    required: true
  group:
    description: A group to look for.
    type: str
  user:
    description: A user to look for.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Look at what the host has
  automq.platform.host_state:
    packages: [openjdk-17-jre-headless]
    package_manager: apt
    group: automq
    user: automq
  register: host
"""

RETURN = r"""
missing_packages:
  description: The packages of O(packages) that are not installed.
  type: list
  elements: str
  returned: always
group_exists:
  description: Whether O(group) exists (false when not asked).
  type: bool
  returned: always
user:
  description: O(user)'s C(exists), primary C(group) name, C(home) and C(shell).
  type: dict
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.host_state import (
    Account,
    group_exists,
    missing_packages,
    read_user,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "packages": {"type": "list", "elements": "str", "default": []},
            "package_manager": {"type": "str", "choices": ["apt", "dnf"], "required": True},
            "group": {"type": "str"},
            "user": {"type": "str"},
        },
        supports_check_mode=True,
    )
    params = module.params

    def run(argv: list[str]) -> tuple[int, str, str]:
        rc, out, err = module.run_command(argv, environ_update={"LC_ALL": "C"})
        return rc, out, err

    module.exit_json(
        changed=False,
        missing_packages=missing_packages(params["packages"], params["package_manager"], run),
        group_exists=bool(params["group"]) and group_exists(params["group"]),
        user=(read_user(params["user"]) if params["user"] else Account(False)).as_result(),
    )


if __name__ == "__main__":
    main()
