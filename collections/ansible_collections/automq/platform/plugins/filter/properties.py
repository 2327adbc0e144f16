"""Filter parse_properties: Java .properties text to a dict."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.properties import (
    parse_properties,
)

DOCUMENTATION = r"""
name: parse_properties
short_description: Parse Java properties text (such as Kafka's meta.properties) into a dict
description:
  - Blank lines and comments are skipped; the first C(=) or C(:) separates key and value.
options:
  _input:
    description: The text of the properties file.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read the node ID of a formatted host
  ansible.builtin.debug:
    msg: "{{ (meta.content | b64decode | automq.platform.parse_properties)['node.id'] }}"
"""

RETURN = r"""
_value:
  description: The keys and values, as strings.
  type: dict
"""


def _parse(text: Any) -> dict[str, str]:
    if not isinstance(text, str):
        raise AnsibleFilterError(f"parse_properties expects text, got {type(text).__name__}")
    try:
        return parse_properties(text)
    except ValueError as error:
        raise AnsibleFilterError(f"parse_properties: {error}") from error


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"parse_properties": _parse}
