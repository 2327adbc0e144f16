"""Filter jvm_memory_problem: does automq_heap_opts fit the host's memory?"""

from __future__ import annotations

from typing import Any

from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.jvm_memory import (
    jvm_memory_problem,
)

DOCUMENTATION = r"""
name: jvm_memory_problem
short_description: Check that an AutoMQ node's JVM heap and direct memory fit the host
description:
  - Returns an empty string when the heap's maximum (C(-Xmx)) plus the direct memory's
    maximum (C(-XX:MaxDirectMemorySize), or as much as C(-Xmx) without it, as the JVM
    does) plus 1 GiB for the rest of the process and the system fit in the host's memory;
    else one sentence naming the sizes. Options without C(-Xmx) give an empty string.
options:
  _input:
    description: The JVM options, e.g. C(automq_heap_opts).
    type: str
    required: true
  host_memory_mb:
    description: The host's memory in MiB (C(ansible_facts.memtotal_mb)).
    type: int
    required: true
"""

EXAMPLES = r"""
- name: Check the heap against the host's memory
  ansible.builtin.assert:
    that: problem | length == 0
    fail_msg: "{{ problem }}"
  vars:
    problem: >-
      {{ automq_heap_opts | automq.platform.jvm_memory_problem(ansible_facts['memtotal_mb']) }}
"""

RETURN = r"""
_value:
  description: The problem, or an empty string.
  type: str
"""


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"jvm_memory_problem": jvm_memory_problem}
