"""Filter rollback_problem: why a release older than the one that finalized is refused."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.features import (
    rollback_problem,
)

DOCUMENTATION = r"""
name: rollback_problem
short_description: Why a release must not run a cluster whose feature levels a newer one finalized
description:
  - Empty when the release may run the cluster; otherwise a message naming the release that
    raised the finalized feature levels, the levels and the fix. Releases compare by their
    leading dotted numbers; a name without them is never refused.
options:
  _input:
    description: The release the run would install (C(automq_version)).
    type: str
    required: true
  records:
    description:
      - Each node's finalize record (filter C(automq.platform.finalize_record)), null where
        it has none.
    type: list
    elements: raw
    required: true
"""

EXAMPLES = r"""
- name: Refuse a release older than the finalizing one
  ansible.builtin.assert:
    that: problem | length == 0
    fail_msg: "{{ problem }}"
  vars:
    problem: "{{ automq_version | automq.platform.rollback_problem(records) }}"
"""

RETURN = r"""
_value:
  description: The refusal's message, or an empty string.
  type: str
"""


def _rollback_problem(target: Any, records: Any) -> str:
    if not isinstance(records, list):
        raise AnsibleFilterError("rollback_problem expects the nodes' records as a list")
    return rollback_problem(str(target), [r if isinstance(r, dict) else None for r in records])


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"rollback_problem": _rollback_problem}
