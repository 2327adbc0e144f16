"""Filter feature_upgrade_args: kafka-features.sh describe output to upgrade arguments."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.features import (
    parse_describe,
    upgrade_arguments,
)

DOCUMENTATION = r"""
name: feature_upgrade_args
short_description: Arguments of kafka-features.sh upgrade that finalise the wanted features
description:
  - Parses C(kafka-features.sh describe) output and returns the C(upgrade) arguments raising each
    wanted feature to its highest supported level; an empty list when nothing is left to do.
options:
  _input:
    description: Output of C(kafka-features.sh describe).
    type: str
    required: true
  wanted:
    description: Feature names to finalise, e.g. C(metadata.version), C(automq.version).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Compute the upgrade arguments
  ansible.builtin.set_fact:
    upgrade_args: >-
      {{ describe.stdout | automq.platform.feature_upgrade_args(['metadata.version']) }}
"""

RETURN = r"""
_value:
  description: Arguments such as C(--metadata 3.9-IV0 --feature automq.version=6), as a list.
  type: list
  elements: str
"""


def _feature_upgrade_args(output: Any, wanted: Any) -> list[str]:
    if not isinstance(output, str):
        raise AnsibleFilterError("feature_upgrade_args expects the describe output as text")
    try:
        return upgrade_arguments(parse_describe(output), [str(name) for name in wanted])
    except ValueError as error:
        raise AnsibleFilterError(f"feature_upgrade_args: {error}") from error


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"feature_upgrade_args": _feature_upgrade_args}
