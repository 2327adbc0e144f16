"""Filter access_problems: what is wrong with automq_users and automq_acls."""

from __future__ import annotations

from typing import Any

from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.access import (
    access_problems,
)

DOCUMENTATION = r"""
name: access_problems
short_description: Check the declared SCRAM users and ACLs of a secure AutoMQ cluster
description:
  - Returns one message per problem of C(automq_users) and C(automq_acls), each naming the
    entry and the fix; an empty list when both are usable. ACLs must name a known user.
options:
  _input:
    description: C(automq_users).
    type: list
    required: true
  acls:
    description: C(automq_acls).
    type: list
    required: true
  reserved_users:
    description: The installer's own users (the admin and the console's), not declarable.
    type: list
    required: true
  node_principal:
    description: The user name of the nodes' certificates.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Check the users and ACLs
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: >-
      {{ automq_users
         | automq.platform.access_problems(automq_acls, ['admin'], 'automq-node.prod') }}
"""

RETURN = r"""
_value:
  description: The problems, one message each.
  type: list
  elements: str
"""


def _problems(users: Any, acls: Any, reserved_users: Any, node_principal: Any) -> list[str]:
    return access_problems(users, acls, list(reserved_users), str(node_principal))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"access_problems": _problems}
