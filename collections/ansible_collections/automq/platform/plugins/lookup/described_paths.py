"""Lookup described_paths: paths on the Ansible machine described as node_state describes a
node's, so a task writing them runs only when one differs (no module run to find out)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: described_paths
short_description: Describe paths on the Ansible machine without a module run
description:
  - For each term (an absolute path on the Ansible machine), what is there, as the
    C(described) result of M(automq.platform.node_state) gives it for a host's paths. That is
    C(kind) (C(absent), C(file), C(directory), C(link), C(other)), C(owner), C(group), C(mode)
    (four octal digits) and a regular file's C(sha256); never any content.
  - Lookups run on the Ansible machine, so a check before writing a local file (a client
    configuration) costs no module run; the writing task runs only when it differs.
author: AutoMQ Ansible maintainers (!UNKNOWN)
version_added: 0.2.0
options:
  _terms:
    description: Absolute paths.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Write the file only when it differs
  ansible.builtin.copy:
    dest: /home/me/client.properties
    content: "{{ wanted }}"
    mode: "0600"
  when: >-
    seen.kind != 'file' or seen.mode != '0600' or seen.sha256 != wanted | hash('sha256')
  vars:
    seen: "{{ query('automq.platform.described_paths', '/home/me/client.properties') | first }}"
"""

RETURN = r"""
_raw:
  description: One description per term, in order, each with its C(path).
  type: list
  elements: dict
"""

import os
from typing import Any

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.node_files import (
    Described,
    describe,
)


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[dict[str, Any]]:
        paths = [str(term) for term in terms]
        for path in paths:
            if not os.path.isabs(path):
                raise AnsibleLookupError(f"described_paths: {path!r} is not an absolute path")
        try:
            described = describe([Described(path) for path in paths])
        except OSError as error:
            raise AnsibleLookupError(f"described_paths: {error}") from error
        return [{"path": path, **described[path]} for path in paths]
