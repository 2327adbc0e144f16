"""Filter log4j_uploading_appenders: which appenders a release's log4j.properties uploads."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.properties import (
    uploading_appenders,
)

DOCUMENTATION = r"""
name: log4j_uploading_appenders
short_description: Appenders a release's log4j.properties sends through S3RollingFileAppender
description:
  - Reads C(log4j.appender.<name>=<class>) lines and returns the appenders whose class is
    AutoMQ's S3RollingFileAppender (a RollingFileAppender that also uploads to the ops bucket),
    with that class. Every other line is ignored.
options:
  _input:
    description: The text of the release's C(config/log4j.properties); empty gives an empty result.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Learn which appenders the release uploads
  ansible.builtin.set_fact:
    uploading: "{{ release_log4j.content | b64decode | automq.platform.log4j_uploading_appenders }}"
"""

RETURN = r"""
_value:
  description:
    - Appender name to class, for example C(kafkaAppender) to
      C(com.automq.log.S3RollingFileAppender).
  type: dict
"""


def _uploading(text: Any) -> dict[str, str]:
    if not isinstance(text, str):
        raise AnsibleFilterError(
            f"log4j_uploading_appenders expects text, got {type(text).__name__}"
        )
    return uploading_appenders(text)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"log4j_uploading_appenders": _uploading}
