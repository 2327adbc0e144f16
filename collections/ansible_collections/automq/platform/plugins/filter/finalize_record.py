"""Filter finalize_record: what the nodes keep after a finalize that raised feature levels."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.features import (
    finalize_record,
    parse_describe,
)

DOCUMENTATION = r"""
name: finalize_record
short_description: The record of a finalize that raised the feature levels
description:
  - From C(kafka-features.sh describe) before and after C(upgrade), the release that raised the
    finalized levels, the levels and the levels before, as the nodes keep them for the
    preflight's refusal of an older release (filter C(automq.platform.rollback_problem)).
options:
  _input:
    description: Output of C(kafka-features.sh describe) before the upgrade.
    type: str
    required: true
  after:
    description: Output of C(kafka-features.sh describe) after it.
    type: str
    required: true
  wanted:
    description: The finalized feature names, e.g. C(metadata.version), C(automq.version).
    type: list
    elements: str
    required: true
  release:
    description: The release that finalized (C(automq_version)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Describe the finalize
  ansible.builtin.set_fact:
    record: >-
      {{ before.stdout | automq.platform.finalize_record(
           after.stdout, ['metadata.version'], automq_version) }}
"""

RETURN = r"""
_value:
  description: "C({finalized_by, levels, previous}), levels as C({feature: level})."
  type: dict
"""


def _finalize_record(before: Any, after: Any, wanted: Any, release: Any) -> dict[str, object]:
    if not isinstance(before, str) or not isinstance(after, str):
        raise AnsibleFilterError("finalize_record expects the two describe outputs as text")
    try:
        return finalize_record(
            parse_describe(before), parse_describe(after), [str(n) for n in wanted], str(release)
        )
    except ValueError as error:
        raise AnsibleFilterError(f"finalize_record: {error}") from error


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"finalize_record": _finalize_record}
