"""Filter automq_ingress_rules: the least-privilege security group rules of an AutoMQ cluster."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ..module_utils.automq_helpers.alicloud.security_group import (
    RuleError,
    automq_ingress_rules,
)

DOCUMENTATION = r"""
name: automq_ingress_rules
short_description: Least-privilege ingress rules of an AutoMQ cluster
description:
  - Kafka (9092) from the VPC CIDR and the client CIDRs; the controller port (9093) only between
    members of the group (C(source_group=self)); SSH and the console port only from the admin
    CIDRs. Nothing from C(0.0.0.0/0).
options:
  _input:
    description: CIDR block of the cluster's VPC.
    type: str
    required: true
  client_cidrs:
    description: Further CIDR blocks of Kafka clients.
    type: list
    elements: str
    default: []
  admin_cidrs:
    description: CIDR blocks allowed to reach SSH and the console.
    type: list
    elements: str
    default: []
  console_port:
    description: Port of the console, if there is one.
    type: int
"""

EXAMPLES = r"""
- name: Rules of the nodes' security group
  ansible.builtin.set_fact:
    automq_rules: >-
      {{ '10.0.0.0/16' | automq.alicloud.automq_ingress_rules(
           client_cidrs=['10.8.0.0/16'], admin_cidrs=['203.0.113.7/32'], console_port=8080) }}
"""

RETURN = r"""
_value:
  description: Rules in the format of the C(rules) option of automq.alicloud.security_group.
  type: list
  elements: dict
"""


def _automq_ingress_rules(
    vpc_cidr: Any,
    client_cidrs: Any = (),
    admin_cidrs: Any = (),
    console_port: Any = None,
) -> list[dict[str, Any]]:
    try:
        return automq_ingress_rules(
            vpc_cidr=str(vpc_cidr),
            client_cidrs=[str(c) for c in client_cidrs or []],
            admin_cidrs=[str(c) for c in admin_cidrs or []],
            console_port=int(console_port) if console_port not in (None, "") else None,
        )
    except (RuleError, ValueError) as error:
        raise AnsibleFilterError(f"automq_ingress_rules: {error}") from error


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"automq_ingress_rules": _automq_ingress_rules}
