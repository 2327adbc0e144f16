"""Lookup supported_instance_types: the ECS instance types AutoMQ is supported on, defined
once (automq_helpers.alicloud.instances) for the roles' defaults and the modules."""

from __future__ import annotations

DOCUMENTATION = r"""
name: supported_instance_types
short_description: The ECS instance types AutoMQ is supported on
description:
  - The 2 vCPU / 16 GiB types AutoMQ documents for Alibaba Cloud, in order of preference.
    The default of C(alicloud_compute_supported_instance_types),
    C(alicloud_inventory_supported_instance_types) and C(automq_ecs_supported_instance_types),
    and of the C(automq.alicloud.instance) module's check; one list, defined once.
author: AutoMQ Ansible maintainers (!UNKNOWN)
version_added: 0.2.0
options: {}
"""

EXAMPLES = r"""
- name: Show them
  ansible.builtin.debug:
    msg: "{{ query('automq.platform.supported_instance_types') }}"
"""

RETURN = r"""
_raw:
  description: The instance type names.
  type: list
  elements: str
"""

from typing import Any

from ansible.plugins.lookup import LookupBase
from ansible_collections.automq.platform.plugins.module_utils.automq_helpers.alicloud.instances import (  # noqa: E501
    DEFAULT_SUPPORTED_TYPES,
)


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        return list(DEFAULT_SUPPORTED_TYPES)
