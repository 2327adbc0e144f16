"""Filter node_files_differing: which entries of a node_files call a description shows
not as wanted (the call is needed only when any)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.node_files import (
    NodeFilesError,
    differing_paths,
)

DOCUMENTATION = r"""
name: node_files_differing
short_description: The entries of a node_files call that a node's description shows differing
description:
  - Compares the O(directories), O(files) and O(assembled) arguments a
    M(automq.platform.node_files) call would get with what M(automq.platform.node_state)
    described of the same paths earlier in the run (its C(described) result),
    on the Ansible machine, without a round trip.
  - Returns the paths that differ (kind, owner, group, mode, a file's sha256, or whether an
    assembled file holds its parts) or were not described. An empty list means the call
    would change nothing.
options:
  _input:
    description: The description, by path.
    type: dict
    required: true
  directories:
    description: As the C(directories) of M(automq.platform.node_files).
    type: list
    default: []
  files:
    description: As the C(files) of M(automq.platform.node_files).
    type: list
    default: []
  assembled:
    description: As the C(assembled) of M(automq.platform.node_files).
    type: list
    default: []
"""

EXAMPLES = r"""
- name: Install the certificate only when the node's copy differs
  automq.platform.node_files:
    files: "{{ wanted_files }}"
  when: node.described | automq.platform.node_files_differing(files=wanted_files) | length > 0
"""

RETURN = r"""
_value:
  description: The paths that differ or were not described.
  type: list
  elements: str
"""


def _differing(seen: Any, directories: Any = (), files: Any = (), assembled: Any = ()) -> list[str]:
    try:
        return differing_paths(seen, directories, files, assembled)
    except (KeyError, NodeFilesError) as error:
        raise AnsibleFilterError(f"node_files_differing: {error}") from error


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"node_files_differing": _differing}
