"""Filter override_problems: what is wrong with automq_server_properties_overrides."""

from __future__ import annotations

from typing import Any

from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.properties import (
    override_problems,
)

DOCUMENTATION = r"""
name: override_problems
short_description: Check the server.properties overrides of an AutoMQ node
description:
  - Returns one message per problem of C(automq_server_properties_overrides), each naming
    the key and the fix; an empty list when every override is usable.
  - Refused are keys the installer writes from other variables (node and cluster identity,
    roles, quorum, listeners, directories, buckets; the message names the variable), names
    or values that would break the file (line breaks, a trailing backslash), and values
    that are not text, a number or a boolean.
options:
  _input:
    description: C(automq_server_properties_overrides).
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Check the overrides
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ automq_server_properties_overrides | automq.platform.override_problems }}"
"""

RETURN = r"""
_value:
  description: The problems, one message each.
  type: list
  elements: str
"""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"override_problems": override_problems}
